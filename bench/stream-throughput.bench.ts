/**
 * Tokens/s of StreamComplete through rpc-server (gRPC, real client, real server on loopback) against
 * node-llama-cpp called directly on the same model, thread count and context settings. Writes the
 * table into docs/benchmarks.md between the stream-throughput markers.
 */

import { spawn } from "node:child_process";
import { availableParallelism, cpus } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createLlamaCppProvider, createModelRegistry } from "@noa/providers";
import { tinyModelPath } from "@noa/providers/testing";
import { build } from "@noa/rpc-server/server";
import { createTestAccess } from "@noa/rpc-server/testing";
import { getLlama, LlamaChat, resolveChatWrapper } from "node-llama-cpp";
import { pino } from "pino";
import { writeSection } from "./write-section.js";

const maxTokens = Number(process.env.BENCH_MAX_TOKENS ?? 512);
const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
const warmupRounds = 3;
const sequences = 4;
const prompt = "Tell me a long story about the sea.";
const modelPath = process.env.NOA_BENCH_MODEL_PATH ?? tinyModelPath;
const modelId = `llama-cpp/${path.basename(modelPath, ".gguf")}`;
const clientScript = fileURLToPath(new URL("./stream-client.ts", import.meta.url));

type Run = () => Promise<{ tokens: number; ms: number }>;

async function direct(threads: number): Promise<{ run: Run; close: () => Promise<void> }> {
  const llama = await getLlama({ maxThreads: threads });
  const model = await llama.loadModel({ modelPath });
  const context = await model.createContext({ sequences, threads });
  const chatWrapper = resolveChatWrapper(model);
  return {
    async run() {
      const sequence = context.getSequence();
      const chat = new LlamaChat({ contextSequence: sequence, chatWrapper });
      const started = performance.now();
      await chat.generateResponse([{ type: "user", text: prompt }], { maxTokens, onTextChunk: () => {} });
      const ms = performance.now() - started;
      const tokens = sequence.tokenMeter.usedOutputTokens;
      chat.dispose();
      sequence.dispose();
      return { tokens, ms };
    },
    async close() {
      await context.dispose();
      await model.dispose();
      await llama.dispose();
    },
  };
}

async function throughServer(threads: number): Promise<{ run: Run; close: () => Promise<void> }> {
  const logger = pino({ level: "silent" });
  const registry = createModelRegistry({
    providers: [
      createLlamaCppProvider({ modelPaths: [modelPath], threads, sequencesPerModel: sequences, logger }),
    ],
  });
  // Authentication, rate limiting and usage accounting run on every call, as in production (in-memory stores).
  const access = await createTestAccess();
  const server = build({ registry, logger, access: access.access });
  const { port } = await server.listen(0, "127.0.0.1");
  const client = spawn(
    process.execPath,
    [
      "--import",
      "@noa/runtime/register",
      clientScript,
      `http://127.0.0.1:${port}`,
      modelId,
      String(maxTokens),
      prompt,
      access.adminKey,
    ],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const lines = createInterface({ input: client.stdout })[Symbol.asyncIterator]();
  return {
    async run() {
      client.stdin.write("go\n");
      const line = await lines.next();
      if (line.done) throw new Error("the benchmark client exited");
      return JSON.parse(line.value) as { tokens: number; ms: number };
    },
    async close() {
      client.stdin.end();
      await server.close({ graceMs: 0 });
      await registry.close();
      await access.close();
    },
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function measure(threads: number) {
  // Both are set up (and warmed up, so the server has loaded its model) before timing; runs alternate
  // one at a time so the two never share the cores and drift spreads evenly.
  const subjects = { direct: await direct(threads), server: await throughServer(threads) };
  const rates: Record<keyof typeof subjects, number[]> = { direct: [], server: [] };
  try {
    for (let round = -warmupRounds; round < rounds; round++) {
      for (const name of ["direct", "server"] as const) {
        const { tokens, ms } = await subjects[name].run();
        // Warm-up rounds let both the JIT and the server's lazily loaded model settle.
        if (round >= 0) rates[name].push((tokens / ms) * 1000);
      }
    }
  } finally {
    await subjects.server.close();
    await subjects.direct.close();
  }
  const directRate = median(rates.direct);
  const serverRate = median(rates.server);
  return { threads, directRate, serverRate, overhead: (1 - serverRate / directRate) * 100 };
}

const results = [];
for (const threads of [...new Set([1, availableParallelism()])]) {
  const result = await measure(threads);
  console.log(
    `threads=${threads}: direct ${result.directRate.toFixed(0)} tok/s, server ${result.serverRate.toFixed(0)} tok/s, overhead ${result.overhead.toFixed(1)}%`,
  );
  results.push(result);
}

const table = [
  `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus()[0]?.model ?? "unknown CPU"} (${availableParallelism()} cores), Node ${process.version}; model \`${path.basename(modelPath)}\`, ${maxTokens} tokens per answer, greedy, median of ${rounds} rounds after ${warmupRounds} warm-up rounds.`,
  "",
  "| threads | node-llama-cpp direct (tok/s) | StreamComplete via rpc-server, gRPC client in its own process (tok/s) | server overhead |",
  "|---|---|---|---|",
  ...results.map(
    (r) =>
      `| ${r.threads} | ${r.directRate.toFixed(0)} | ${r.serverRate.toFixed(0)} | ${r.overhead.toFixed(1)}% |`,
  ),
].join("\n");

writeSection("stream-throughput", table);
