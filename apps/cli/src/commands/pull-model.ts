import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { Presets, SingleBar } from "cli-progress";
import type { Command } from "commander";
import pc from "picocolors";
import type { CliContext } from "../cli-context.js";
import { CliError } from "../cli-error.js";
import { type DownloadProgress, downloadResumable } from "../download-resumable.js";
import { ExitCode } from "../exit-codes.js";
import { resolveModelSource } from "../resolve-model-source.js";

interface PullOptions {
  dir?: string;
  sha256?: string;
}

/**
 * `noa models pull SOURCE`: downloads a GGUF file into the server's models directory (NOA_MODELS_DIR)
 * with a progress bar. It is written as `<file>.gguf.partial` (which the server ignores), resumed from
 * there after Ctrl-C or a lost connection, checked to be a readable GGUF (and against --sha256), and
 * only then renamed to `<file>.gguf`.
 */
export function registerPull(models: Command, context: CliContext): void {
  models
    .command("pull")
    .description(
      "download a GGUF model into NOA_MODELS_DIR (resumable; the server serves it on its next start)",
    )
    .argument(
      "<source>",
      "hf:<user>/<repo>:<quant>, hf:<user>/<repo>/<file>.gguf or an http(s) URL of a .gguf",
    )
    .option("--dir <dir>", "where to put it (default: NOA_MODELS_DIR, else .noa/models)")
    .option("--sha256 <hex>", "the file's expected SHA-256; a mismatch deletes the download")
    .action(async (source: string, options: PullOptions) => {
      const cwd = context.env.INIT_CWD ?? process.cwd();
      const dir = path.resolve(cwd, options.dir ?? context.env.NOA_MODELS_DIR ?? path.join(".noa", "models"));
      const abort = new AbortController();
      const onInterrupt = () => abort.abort();
      process.once("SIGINT", onInterrupt);
      try {
        const resolved = await resolveModelSource(source, {
          endpoint: context.env.HF_ENDPOINT || undefined,
          signal: abort.signal,
        });
        await mkdir(dir, { recursive: true });
        const finalPath = path.join(dir, resolved.fileName);
        const partialPath = `${finalPath}.partial`;
        const bar = createProgressBar(context);
        let progress: DownloadProgress;
        try {
          progress = await downloadResumable({
            ...resolved,
            partialPath,
            signal: abort.signal,
            onStart: (start) => bar.start(start),
            onProgress: (current) => bar.update(current),
          });
        } catch (error) {
          if (!abort.signal.aborted) throw error;
          const kept = await stat(partialPath).then(
            (file) => file.size,
            () => 0,
          );
          throw new CliError(
            `download paused at ${megabytes(kept)}; run the same command again to resume`,
            ExitCode.interrupted,
          );
        } finally {
          bar.stop();
        }
        await verify(partialPath, source);
        const sha256 = await sha256Of(partialPath);
        if (options.sha256 && options.sha256.toLowerCase() !== sha256) {
          await rm(partialPath, { force: true });
          throw new CliError(
            `checksum mismatch for ${resolved.fileName}: expected ${options.sha256}, got ${sha256}; deleted the download`,
            ExitCode.server,
          );
        }
        await rename(partialPath, finalPath);
        const modelId = `llama-cpp/${path.basename(finalPath, ".gguf")}`;
        const summary = {
          path: finalPath,
          model: modelId,
          bytes: progress.total,
          sha256,
          resumedFrom: progress.resumedFrom,
        };
        if (context.options().json) {
          context.stdout.write(`${JSON.stringify(summary)}\n`);
          return;
        }
        context.stdout.write(`${finalPath}\n`);
        context.stderr.write(
          pc.dim(
            `${megabytes(progress.total)}${progress.resumedFrom ? ` (resumed at ${megabytes(progress.resumedFrom)})` : ""}, ` +
              `sha256 ${sha256}; served as ${modelId} once the server (re)starts with this NOA_MODELS_DIR\n`,
          ),
        );
      } finally {
        process.off("SIGINT", onInterrupt);
      }
    });
}

/** A download must be a GGUF that node-llama-cpp can read the header of; anything else is deleted. */
async function verify(filePath: string, source: string): Promise<void> {
  const { readGgufFileInfo } = await import("node-llama-cpp");
  try {
    await readGgufFileInfo(filePath, { readTensorInfo: false });
  } catch (error) {
    await rm(filePath, { force: true });
    const reason = error instanceof Error ? error.message : String(error);
    throw new CliError(
      `${source} is not a GGUF model file (${reason}); deleted the download`,
      ExitCode.server,
    );
  }
}

/** A cli-progress bar on a terminal; one line before and none during on anything else (logs, pipes, --json). */
function createProgressBar(context: CliContext) {
  const { stderr } = context;
  const interactive = Boolean(stderr.isTTY) && !context.options().json;
  const bar = new SingleBar(
    {
      stream: stderr,
      format: "{bar} {percentage}% | {done} of {size} | {speed} | ETA {eta_formatted}",
      hideCursor: true,
      etaBuffer: 100,
    },
    Presets.shades_classic,
  );
  let started = 0;
  let startBytes = 0;
  let running = false;
  const values = (progress: DownloadProgress) => ({
    done: megabytes(progress.downloaded),
    size: progress.total ? megabytes(progress.total) : "?",
    speed: `${megabytes(((progress.downloaded - startBytes) / Math.max(1, Date.now() - started)) * 1000)}/s`,
  });
  return {
    start(progress: DownloadProgress) {
      started = Date.now();
      startBytes = progress.downloaded;
      const resumed = progress.resumedFrom ? `, resuming at ${megabytes(progress.resumedFrom)}` : "";
      if (!interactive) {
        stderr.write(
          pc.dim(`downloading ${progress.total ? megabytes(progress.total) : "a file"}${resumed}…\n`),
        );
        return;
      }
      bar.start(progress.total || 1, progress.downloaded, values(progress));
      running = true;
    },
    update(progress: DownloadProgress) {
      if (running) bar.update(progress.downloaded, values(progress));
    },
    stop() {
      if (running) bar.stop();
      running = false;
    },
  };
}

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

async function sha256Of(filePath: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(filePath)) hash.update(chunk);
  return hash.digest("hex");
}
