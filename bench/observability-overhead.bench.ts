/**
 * What observability costs NOA's REST face: requests/s and CPU per request with logging (info, through
 * the redacting logger), metrics and tracing (every span exported over OTLP/HTTP to a loopback sink)
 * all on, against all off. NOA alone (rest-gateway.ts's instant in-process model), so the face's own
 * cost is what is compared; the load generator is rest-load.ts. Each mode runs twice, alternating; the
 * better run of each counts. Writes docs/benchmarks.md between the observability-overhead markers.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { availableParallelism, cpus } from "node:os";
import { nextMessage, startBenchProcess } from "./bench-process.js";
import type { LoadCommand, LoadResult } from "./rest-load.js";
import { writeSection } from "./write-section.js";

const durationS = Number(process.env.BENCH_DURATION_S ?? 5);
const connections = 50;

let spansReceived = 0;
const sink = createServer((req, res) => {
  req.on("data", () => {});
  req.on("end", () => {
    spansReceived++;
    res.writeHead(200, { "content-type": "application/json" });
    res.end("{}");
  });
});
await new Promise<void>((resolve) => sink.listen(0, "127.0.0.1", resolve));
const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;

const start = (script: string, env: NodeJS.ProcessEnv = {}) =>
  startBenchProcess(script, { args: ["http://127.0.0.1:9/unused"], env });
const next = nextMessage;

const loader = start("./rest-load.ts");
await next(loader);

interface Run {
  perSecond: number;
  p99Ms: number;
  cpuUs: number;
}

async function measure(mode: "on" | "off"): Promise<Run> {
  const gateway = start(
    "./rest-gateway.ts",
    mode === "on"
      ? { BENCH_OBSERVABILITY: "on", OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl, OTEL_BSP_SCHEDULE_DELAY: "200" }
      : { BENCH_OBSERVABILITY: "off", OTEL_EXPORTER_OTLP_ENDPOINT: "" },
  );
  const { baseUrl, key, tracing } = await next<{ baseUrl: string; key: string; tracing: boolean }>(gateway);
  if (tracing !== (mode === "on")) throw new Error(`tracing should be ${mode}`);
  const command: LoadCommand = {
    type: "load",
    connections,
    durationS: 2,
    url: `${baseUrl}/v1/chat/completions`,
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({
      model: "bench/instant",
      messages: [{ role: "user", content: "Tell me about the sea." }],
      max_tokens: 16,
    }),
  };
  await next(loader, command);
  await next(gateway, { type: "mark" });
  const { result } = await next<{ result: LoadResult }>(loader, { ...command, durationS });
  const { cpuUs } = await next<{ cpuUs: number }>(gateway, { type: "stats" });
  gateway.disconnect();
  await new Promise((resolve) => gateway.once("exit", resolve));
  if (result.failures > 0) throw new Error(`${result.failures} failed requests (${mode})`);
  return { perSecond: result.perSecond, p99Ms: result.p99Ms, cpuUs: cpuUs / result.requests };
}

const runs: Record<"on" | "off", Run[]> = { on: [], off: [] };
for (let round = 0; round < 2; round++) {
  for (const mode of ["off", "on"] as const) runs[mode].push(await measure(mode));
}
loader.disconnect();
sink.close();
const best = (mode: "on" | "off") => runs[mode].reduce((a, b) => (b.perSecond > a.perSecond ? b : a)) as Run;
const off = best("off");
const on = best("on");
const cost = 1 - on.perSecond / off.perSecond;
console.log({ runs, cost, spansReceived });
if (spansReceived === 0) throw new Error("no spans reached the OTLP sink: tracing was not on");

const fmt = (value: number) => Math.round(value).toLocaleString("en-US");
writeSection(
  "observability-overhead",
  [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus()[0]?.model ?? "unknown CPU"} (${availableParallelism()} cores), Node ${process.version}; \`POST /v1/chat/completions\` on NOA's instant in-process model at concurrency ${connections}, ${durationS} s per run after a 2 s warm-up, each mode run twice alternating (the better run shown). "On": info logs through the redacting logger (to /dev/null, asynchronously), metrics recorded, and every span exported over OTLP/HTTP to a loopback sink (${fmt(spansReceived)} export requests received); "off": no logs, no metrics, no tracing.`,
    "",
    "| observability | requests/s | p99 (ms) | NOA CPU per request (µs) |",
    "|---|---|---|---|",
    `| off | ${fmt(off.perSecond)} | ${off.p99Ms.toFixed(1)} | ${fmt(off.cpuUs)} |`,
    `| on | ${fmt(on.perSecond)} | ${on.p99Ms.toFixed(1)} | ${fmt(on.cpuUs)} |`,
    "",
    `Cost of observability: ${(cost * 100).toFixed(1)} % fewer requests/s (target < 15 % — ${cost < 0.15 ? "met" : "**missed**"}). Reproduce: \`pnpm --filter @noa/bench exec tsx observability-overhead.bench.ts\`.`,
  ].join("\n"),
);
