import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { tinyModelPath } from "@noa/providers/testing";
import { afterEach, beforeAll, describe, expect, it } from "vitest";

// `noa models pull` (the real binary) against a loopback HTTP server that serves the tiny GGUF slowly,
// with Range support, so a download can be interrupted and resumed.
const bin = fileURLToPath(new URL("../../bin/noa.js", import.meta.url));
let model: Buffer;
beforeAll(async () => {
  model = await readFile(tinyModelPath);
});
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function modelsDir() {
  const dir = await mkdtemp(path.join(tmpdir(), "noa-pull-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Serves `body` at any path, `chunkBytes` every 20 ms, honouring `Range: bytes=N-[M]`, and a Hugging Face
 * model API answer listing `files`; counts bytes sent and records paths asked for.
 */
async function serveFile(body: Buffer, chunkBytes = 64 * 1024, files: string[] = []) {
  let sent = 0;
  const paths: string[] = [];
  const server: Server = createServer((request, response) => {
    paths.push(request.url ?? "");
    if (request.url?.startsWith("/api/models/")) {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ siblings: files.map((rfilename) => ({ rfilename })) }));
      return;
    }
    const range = /^bytes=(\d+)-(\d*)/.exec(request.headers.range ?? "");
    const start = range ? Number(range[1]) : 0;
    const end = range?.[2] ? Math.min(Number(range[2]) + 1, body.length) : body.length;
    const headers = {
      "content-type": "application/octet-stream",
      "accept-ranges": "bytes",
      "content-length": String(end - start),
      ...(range ? { "content-range": `bytes ${start}-${end - 1}/${body.length}` } : {}),
    };
    response.writeHead(range ? 206 : 200, headers);
    if (request.method === "HEAD") return response.end();
    let offset = start;
    const timer = setInterval(() => {
      if (response.destroyed) return clearInterval(timer);
      const chunk = body.subarray(offset, Math.min(offset + chunkBytes, end));
      offset += chunk.length;
      sent += chunk.length;
      if (offset >= end) {
        clearInterval(timer);
        response.end(chunk);
      } else response.write(chunk);
    }, 20);
    response.on("close", () => clearInterval(timer));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, sent: () => sent, paths };
}

function pull(args: string[], env: NodeJS.ProcessEnv, interruptWhen?: () => boolean) {
  const child = spawn(process.execPath, [bin, "models", "pull", ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: "1", ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const timer = interruptWhen
    ? setInterval(() => {
        if (interruptWhen()) {
          clearInterval(timer);
          child.kill("SIGINT");
        }
      }, 10)
    : undefined;
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code) => {
      clearInterval(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

describe("noa models pull", () => {
  it("downloads into NOA_MODELS_DIR, resumes after Ctrl-C where it stopped, and verifies the file", async () => {
    const server = await serveFile(model);
    const dir = await modelsDir();
    const source = `${server.url}/llama-2-tiny-random.gguf`;

    const paused = await pull([source], { NOA_MODELS_DIR: dir }, () => server.sent() > model.length / 3);
    expect(paused.stderr).toMatch(/download paused at [\d.]+ MB; run the same command again to resume/);
    expect(paused.code).toBe(130);
    // The part kept is not a *.gguf, so a server scanning the directory does not load half a model.
    expect(await readdir(dir)).toEqual(["llama-2-tiny-random.gguf.partial"]);

    const sentBefore = server.sent();
    const resumed = await pull([source, "--json"], { NOA_MODELS_DIR: dir });
    expect(resumed.code).toBe(0);
    const result = JSON.parse(resumed.stdout);
    expect(result).toMatchObject({
      path: path.join(dir, "llama-2-tiny-random.gguf"),
      model: "llama-cpp/llama-2-tiny-random",
      bytes: model.length,
    });
    // The second run fetched only the rest.
    expect(result.resumedFrom).toBeGreaterThan(0);
    expect(server.sent() - sentBefore).toBe(model.length - result.resumedFrom);
    expect((await readFile(result.path)).equals(model)).toBe(true);
    expect(await readdir(dir)).toEqual(["llama-2-tiny-random.gguf"]);
  });

  it("resolves hf:<user>/<repo>:<quant> through the Hugging Face API (HF_ENDPOINT)", async () => {
    const server = await serveFile(model, 1024 * 1024, ["tiny-Q4_K_M.gguf", "tiny-Q8_0.gguf", "README.md"]);
    const dir = await modelsDir();
    const env = { HF_ENDPOINT: server.url, NOA_MODELS_DIR: dir };
    const run = await pull(["hf:someone/tiny-GGUF:Q4_K_M"], env);
    expect(run.stderr).toMatch(/served as llama-cpp\/tiny-Q4_K_M/);
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(path.join(dir, "tiny-Q4_K_M.gguf"));
    expect(server.paths).toContain("/someone/tiny-GGUF/resolve/main/tiny-Q4_K_M.gguf");

    const ambiguous = await pull(["hf:someone/tiny-GGUF"], env);
    expect(ambiguous.stderr).toMatch(
      /has several GGUF files; name one with .*tiny-Q4_K_M\.gguf, tiny-Q8_0\.gguf/,
    );
    expect(ambiguous.code).toBe(4);
  });

  it("refuses a file that is not a GGUF model and one whose checksum differs, keeping neither", async () => {
    const dir = await modelsDir();
    const notModel = await serveFile(Buffer.from("<html>not a model</html>".repeat(100)));
    const bad = await pull([`${notModel.url}/fake.gguf`, "--dir", dir], {});
    expect(bad.stderr).toMatch(/is not a GGUF model file .*deleted the download/);
    expect(bad.code).toBe(1);

    const server = await serveFile(model);
    const wrongSum = await pull(
      [`${server.url}/llama-2-tiny-random.gguf`, "--dir", dir, "--sha256", "00ff"],
      {},
    );
    expect(wrongSum.stderr).toMatch(
      /checksum mismatch for llama-2-tiny-random\.gguf: expected 00ff, got [0-9a-f]{64}; deleted the download/,
    );
    expect(wrongSum.code).toBe(1);
    expect(await readdir(dir)).toEqual([]);
  });

  it("offline, fails at once naming the host it cannot reach", async () => {
    const dir = await modelsDir();
    const started = Date.now();
    const run = await pull(["hf:someone/some-model-GGUF:Q4_K_M", "--dir", dir], {
      HF_ENDPOINT: "http://127.0.0.1:1",
    });
    expect(run.stderr).toMatch(/cannot reach http:\/\/127\.0\.0\.1:1 .*needs network access/);
    expect(run.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it("a source that is neither hf: nor http(s) is a usage error", async () => {
    const run = await pull(["ftp://example.com/model.gguf"], {});
    expect(run.stderr).toMatch(/neither an hf: URI .* nor an http\(s\) URL/);
    expect(run.code).toBe(2);
  });
});
