import { CliError } from "./cli-error.js";
import { ExitCode } from "./exit-codes.js";
import { fetchOrExplain } from "./fetch-or-explain.js";

/** Where a model file is downloaded from, and the name it gets in the models directory. */
export interface ModelSource {
  url: string;
  fileName: string;
  /** The host to report when it cannot be reached. */
  origin: string;
}

/**
 * Resolves `hf:<user>/<repo>:<quant>` (the repo's one GGUF file of that quantisation, asked of the
 * Hugging Face API), `hf:<user>/<repo>/<path>.gguf[#<branch>]` or an http(s) URL to a file URL, with
 * node-llama-cpp's URI syntax. `endpoint` replaces https://huggingface.co (HF_ENDPOINT).
 */
export async function resolveModelSource(
  source: string,
  { endpoint = "https://huggingface.co", signal }: { endpoint?: string; signal?: AbortSignal } = {},
): Promise<ModelSource> {
  const base = endpoint.replace(/\/+$/, "");
  const hf =
    /^(?:hf|huggingface):([^/\s]+)\/([^/:#\s]+)(?:\/([^#\s]+\.gguf))?(?:#([^\s]+))?(?::([^/\s]+))?$/i.exec(
      source,
    );
  if (hf) {
    const [, user, repo, filePath, branch = "main", quant] = hf;
    const file = filePath ?? (await findQuantFile(base, `${user}/${repo}`, quant, signal));
    return {
      url: `${base}/${user}/${repo}/resolve/${encodeURIComponent(branch)}/${file.split("/").map(encodeURIComponent).join("/")}`,
      fileName: file.split("/").at(-1) ?? file,
      origin: base,
    };
  }
  let url: URL;
  try {
    url = new URL(source);
  } catch {
    url = new URL("invalid:");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new CliError(
      `"${source}" is neither an hf: URI (hf:<user>/<repo>:<quant> or hf:<user>/<repo>/<file>.gguf) nor an http(s) URL`,
      ExitCode.usage,
    );
  }
  const fileName = decodeURIComponent(url.pathname.split("/").at(-1) ?? "");
  if (!fileName.toLowerCase().endsWith(".gguf")) {
    throw new CliError(`${source} does not name a .gguf file`, ExitCode.usage);
  }
  return { url: url.toString(), fileName, origin: url.origin };
}

async function findQuantFile(base: string, repo: string, quant: string | undefined, signal?: AbortSignal) {
  const response = await fetchOrExplain(`${base}/api/models/${repo}`, base, signal);
  if (response.status === 404)
    throw new CliError(`no model repository ${repo} at ${base}`, ExitCode.notFound);
  if (!response.ok) throw new CliError(`${base} answered ${response.status} for ${repo}`, ExitCode.server);
  const { siblings = [] } = (await response.json()) as { siblings?: Array<{ rfilename: string }> };
  const ggufs = siblings.map((sibling) => sibling.rfilename).filter((name) => /\.gguf$/i.test(name));
  const wanted = quant?.toLowerCase();
  const matches = ggufs.filter((name) => !wanted || name.toLowerCase().endsWith(`${wanted}.gguf`));
  const chosen = matches.length === 1 ? matches[0] : undefined;
  if (!chosen) {
    throw new CliError(
      `${repo} has ${matches.length === 0 ? "no" : "several"} GGUF files${quant ? ` for ${quant}` : ""}; ` +
        `name one with hf:${repo}/<file>.gguf (it has: ${ggufs.join(", ") || "none"})`,
      ExitCode.notFound,
    );
  }
  return chosen;
}
