/**
 * The cache benchmark's gRPC load generator, in its own process: `load` runs `connections` calls at a
 * time (one HTTP/2 connection, as a connect-node client keeps) of `InferenceService.Complete` for a
 * duration, and answers requests/s and latency percentiles of the successful calls.
 */
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { CacheMode, InferenceService, Role } from "@noa/proto";
import type { LoadResult } from "./rest-load.js";

export interface GrpcLoadCommand {
  type: "load";
  baseUrl: string;
  key: string;
  model: string;
  /** CACHE_MODE_SKIP: the no-cache path. */
  skipCache: boolean;
  connections: number;
  durationS: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
}

async function load(command: GrpcLoadCommand): Promise<LoadResult> {
  const client = createClient(
    InferenceService,
    createGrpcTransport({
      baseUrl: command.baseUrl,
      interceptors: [
        (next) => (request) => {
          request.header.set("authorization", `Bearer ${command.key}`);
          return next(request);
        },
      ],
    }),
  );
  const request = {
    model: command.model,
    messages: [{ role: Role.USER, content: "Tell me about the sea." }],
    maxTokens: 16,
    temperature: 0,
    ...(command.skipCache && { cache: { mode: CacheMode.SKIP } }),
  };
  const times: number[] = [];
  let failures = 0;
  const until = performance.now() + command.durationS * 1000;
  const loop = async () => {
    while (performance.now() < until) {
      const started = performance.now();
      try {
        await client.complete(request);
        times.push(performance.now() - started);
      } catch {
        failures++;
      }
    }
  };
  await Promise.all(Array.from({ length: command.connections }, loop));
  times.sort((a, b) => a - b);
  return {
    requests: times.length,
    perSecond: times.length / command.durationS,
    p50Ms: percentile(times, 50),
    p99Ms: percentile(times, 99),
    failures,
  };
}

process.on("message", (command: GrpcLoadCommand) => {
  load(command).then(
    (result) => process.send?.({ type: "result", result }),
    (error: unknown) => process.send?.({ type: "error", message: String(error) }),
  );
});
process.on("disconnect", () => process.exit(0));
process.send?.({ type: "ready" });
