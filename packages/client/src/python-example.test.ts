import { execFileSync, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SpawnedNoaServer, spawnNoaServer } from "./testing/spawn-noa-server.js";

// examples/python/noa_chat.py, on the committed stubs of buf.gen.python.yaml, against the real server.
const example = fileURLToPath(new URL("../../../examples/python/noa_chat.py", import.meta.url));

/** The first Python 3 that can import grpc and protobuf (Debian's python3-grpcio is under /usr/bin/python3). */
function findPython(): string | undefined {
  const candidates = [process.env.NOA_PYTHON, "python3", "/usr/bin/python3"].filter(Boolean) as string[];
  return candidates.find((python) => {
    try {
      execFileSync(python, ["-c", "import grpc, google.protobuf"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  });
}

const python = findPython();
if (!python) {
  console.warn(
    "skipping the Python client example: no python3 with grpc; `apt-get install python3-grpcio python3-protobuf` (.ci/run does)",
  );
}

function runExample(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(python ?? "python3", [example, ...args], {
    // No __pycache__ beside the committed stubs.
    env: { PATH: process.env.PATH, PYTHONDONTWRITEBYTECODE: "1", ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr })),
  );
}

describe.skipIf(!python)("examples/python/noa_chat.py (grpcio)", () => {
  let server: SpawnedNoaServer;
  beforeAll(async () => {
    server = await spawnNoaServer();
  });
  afterAll(() => server?.close());

  it("streams an answer over gRPC and prints its usage", async () => {
    const run = await runExample(["--max-tokens", "9", "Hello from Python"], {
      NOA_URL: server.baseUrl,
      NOA_API_KEY: server.adminKey,
    });
    expect(run.stderr).toMatch(
      /^\[llama-cpp\/llama-2-tiny-random · \d+ prompt \+ 9 completion tokens · \$0\.000000 · FINISH_REASON_LENGTH · id [\w-]+\]$/m,
    );
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).not.toBe("");
  });

  it("reports a refused key with the server's message, correlation id and exit code 3", async () => {
    const run = await runExample([], { NOA_URL: server.baseUrl, NOA_API_KEY: "noa_wrong_key" });
    expect(run.stderr).toMatch(/^error: .*\(correlation id: [\w-]+\) \[unauthenticated\]$/m);
    expect(run.code).toBe(3);
  });
});
