/**
 * What observability costs NOA's REST face: requests/s and CPU per request with logging (info, through
 * the redacting logger), metrics and tracing (spans exported over OTLP/HTTP to a loopback sink, as protobuf
 * unless the run sets OTEL_EXPORTER_OTLP_PROTOCOL=http/json) all on, against all off. "On" runs
 * twice: exporting every span, and with the standard sampler at 10 % of traces
 * (`OTEL_TRACES_SAMPLER=parentbased_traceidratio`, `OTEL_TRACES_SAMPLER_ARG=0.1`), as production tracing
 * usually runs. NOA alone (rest-gateway.ts's instant in-process model), so the face's own cost is what
 * is compared; the load generator is rest-load.ts. The modes run one after another in rounds
 * (BENCH_ROUNDS, default 5), in a rotating order; each round gives each "on" mode's cost against that
 * round's "off", and the cost reported is the median of the rounds' (this host's speed drifts by tens of
 * percent over a minute: a ratio within one round is steadier than a best run per mode). Writes
 * docs/benchmarks.md between the observability-overhead markers, unless BENCH_WRITE_DOCS=off (figures
 * from a busy machine: printed only). BENCH_OBSERVABILITY_UPSTREAM=1 measures the same through NOA's
 * OpenAI provider to the loopback upstream (rest-upstream.ts), as the REST benchmark runs NOA; printed only.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { availableParallelism, cpus } from "node:os";
import { nextMessage, startBenchProcess, startGatewayProcess } from "./bench-process.js";
import { chatCompletionsTarget, type LoadCommand, type LoadResult } from "./rest-load.js";
import { writeSection } from "./write-section.js";

const durationS = Number(process.env.BENCH_DURATION_S ?? 4);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
// Each run starts a new NOA: 2 s after its start, compiling its code still took about 7 % of its CPU
// (`perf`, every mode), 10 s after it about 2 %. The warm-up leaves that out of the steady state compared.
const warmUpS = Number(process.env.BENCH_WARMUP_S ?? 8);
const connections = 50;

// The gateways inherit this process's environment: OTEL_EXPORTER_OTLP_PROTOCOL chooses the encoding.
const protocol = process.env.OTEL_EXPORTER_OTLP_PROTOCOL === "http/json" ? "JSON" : "protobuf";
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

const next = nextMessage;

const viaUpstream = process.env.BENCH_OBSERVABILITY_UPSTREAM === "1";
const upstream = viaUpstream ? startBenchProcess("./rest-upstream.ts") : undefined;
const upstreamUrl = upstream
  ? (await next<{ baseURL: string }>(upstream)).baseURL
  : "http://127.0.0.1:9/unused";
const model = viaUpstream ? "openai/gpt-4o-mini" : "bench/instant";
const loader = startBenchProcess("./rest-load.ts");
await next(loader);

interface Run {
  perSecond: number;
  p99Ms: number;
  cpuUs: number;
}

type Mode = "off" | "on" | "on, sampled";
const modes: Mode[] = ["off", "on", "on, sampled"];
const tracingEnv = { OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl, OTEL_BSP_SCHEDULE_DELAY: "200" };
const modeEnv: Record<Mode, NodeJS.ProcessEnv> = {
  off: { BENCH_OBSERVABILITY: "off", OTEL_EXPORTER_OTLP_ENDPOINT: "" },
  on: { BENCH_OBSERVABILITY: "on", ...tracingEnv, OTEL_TRACES_SAMPLER: "parentbased_always_on" },
  "on, sampled": {
    BENCH_OBSERVABILITY: "on",
    ...tracingEnv,
    OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
    OTEL_TRACES_SAMPLER_ARG: "0.1",
  },
};

async function measure(mode: Mode): Promise<Run> {
  const gateway = startGatewayProcess("./rest-gateway.ts", {
    args: [upstreamUrl],
    env: modeEnv[mode],
  });
  const { baseUrl, key, tracing } = await next<{ baseUrl: string; key: string; tracing: boolean }>(gateway);
  if (tracing !== (mode !== "off")) throw new Error(`tracing should be ${mode === "off" ? "off" : "on"}`);
  const command: LoadCommand = {
    type: "load",
    connections,
    durationS: warmUpS,
    ...chatCompletionsTarget(`${baseUrl}/v1`, key, model),
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

const runs: Record<Mode, Run[]> = { off: [], on: [], "on, sampled": [] };
for (let round = 0; round < rounds; round++) {
  for (let index = 0; index < modes.length; index++) {
    const mode = modes[(index + round) % modes.length] as Mode;
    runs[mode].push(await measure(mode));
  }
}
loader.disconnect();
upstream?.disconnect();
sink.close();
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
/** The fewer requests/s `mode` served than "off" in each round, as a share of off's: the rounds' median. */
const cost = (mode: Mode) =>
  median(runs[mode].map((run, round) => 1 - run.perSecond / (runs.off[round] as Run).perSecond));
/** Each column's median over the rounds. */
const typical = (mode: Mode): Run => ({
  perSecond: median(runs[mode].map((run) => run.perSecond)),
  p99Ms: median(runs[mode].map((run) => run.p99Ms)),
  cpuUs: median(runs[mode].map((run) => run.cpuUs)),
});
console.dir({ runs, cost: { on: cost("on"), sampled: cost("on, sampled") }, spansReceived }, { depth: 3 });
if (spansReceived === 0) throw new Error("no spans reached the OTLP sink: tracing was not on");

const fmt = (value: number) => Math.round(value).toLocaleString("en-US");
const percent = (mode: Mode) => `${(cost(mode) * 100).toFixed(1)} %`;
const verdict = (mode: Mode) => (cost(mode) < 0.15 ? "met" : "**missed**");
const row = (label: string, run: Run) =>
  `| ${label} | ${fmt(run.perSecond)} | ${run.p99Ms.toFixed(1)} | ${fmt(run.cpuUs)} |`;
const text = [
  `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus()[0]?.model ?? "unknown CPU"} (${availableParallelism()} cores), Node ${process.version}; \`POST /v1/chat/completions\` ${viaUpstream ? "through NOA's OpenAI provider to a loopback upstream" : "on NOA's instant in-process model"} at concurrency ${connections}, ${durationS} s per run after a ${warmUpS} s warm-up (each run starts a new NOA). "On": info logs through the redacting logger (to /dev/null, asynchronously), metrics recorded, and spans exported over OTLP/HTTP (${protocol}) to a loopback sink (${fmt(spansReceived)} export requests received in all), either every span or, with \`OTEL_TRACES_SAMPLER=parentbased_traceidratio\` and \`OTEL_TRACES_SAMPLER_ARG=0.1\`, those of one trace in ten; "off": no logs, no metrics, no tracing. ${rounds} rounds, each running the three modes one after another in a rotating order; the table gives each column's median over the rounds, and the cost is the median of the rounds' costs (each "on" run against its round's "off").`,
  "",
  "| observability | requests/s | p99 (ms) | NOA CPU per request (µs) |",
  "|---|---|---|---|",
  row("off", typical("off")),
  row("on, every span exported", typical("on")),
  row("on, 10 % of traces sampled", typical("on, sampled")),
  "",
  `Cost of observability: ${percent("on")} fewer requests/s with every span exported, ${percent("on, sampled")} with 10 % sampled (target < 15 % — ${verdict("on")} and ${verdict("on, sampled")}). Reproduce: \`pnpm --filter @noa/bench exec tsx observability-overhead.bench.ts\`.`,
].join("\n");
if (viaUpstream) console.log(text);
else writeSection("observability-overhead", text);
