/**
 * What observability costs NOA's REST face: requests/s and CPU per request with logging (info, through
 * the redacting logger), metrics and tracing (spans exported over OTLP/HTTP to a loopback sink, as protobuf
 * unless the run sets OTEL_EXPORTER_OTLP_PROTOCOL=http/json) all on, against all off. "On" runs
 * twice: exporting every span, and with the standard sampler at 10 % of traces
 * (`OTEL_TRACES_SAMPLER=parentbased_traceidratio`, `OTEL_TRACES_SAMPLER_ARG=0.1`), as production tracing
 * usually runs. NOA alone (rest-gateway.ts's instant in-process model), so the face's own cost is what
 * is compared; the load generator is rest-load.ts. BENCH_ROUNDS rounds, each with a new NOA process
 * per mode: the processes run side by side, each warmed up (BENCH_WARMUP_S), then take the load in turns,
 * BENCH_SLICES slices of BENCH_SLICE_S each, the modes in a rotating order, with a pause after each slice
 * for the work a mode defers (span batches, log batches) to finish in its own turn. This host's speed
 * drifts by tens of percent over a minute, which interleaved slices cancel; and one process of the same
 * code can run several percent slower than the next (how V8 happened to optimize it), which the rounds'
 * median leaves out. Each round gives each mode's cost against that round's "off"; the cost reported is
 * the rounds' median. Writes
 * docs/benchmarks.md between the observability-overhead markers, unless BENCH_WRITE_DOCS=off (figures
 * from a busy machine: printed only). BENCH_OBSERVABILITY_UPSTREAM=1 measures the same through NOA's
 * OpenAI provider to the loopback upstream (rest-upstream.ts), as the REST benchmark runs NOA; printed only.
 * BENCH_OBSERVABILITY_PARTS=1 adds logs only, metrics only, both (no tracing), and all on with no trace
 * sampled (`OTEL_TRACES_SAMPLER_ARG=0`); printed only.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { availableParallelism, cpus } from "node:os";
import { nextMessage, startBenchProcess, startGatewayProcess } from "./bench-process.js";
import { chatCompletionsTarget, type LoadResult } from "./rest-load.js";
import { writeSection } from "./write-section.js";

const roundCount = Number(process.env.BENCH_ROUNDS ?? 5);
const slices = Number(process.env.BENCH_SLICES ?? 8);
const sliceS = Number(process.env.BENCH_SLICE_S ?? 1);
// Long enough for a span batch (OTEL_BSP_SCHEDULE_DELAY below) and a log batch (20 ms) to go out.
const settleMs = 400;
// 2 s after its start, compiling NOA's code still took about 7 % of its CPU (`perf`, every mode), 10 s
// after it about 2 %. The warm-up leaves that out of the steady state compared.
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

type Mode = "off" | "on" | "on, sampled" | "on, none sampled" | "logs" | "metrics" | "logs, metrics";
// BENCH_OBSERVABILITY_PARTS=1: also logs alone, metrics alone, both (no tracing), and all on with no trace
// sampled, to tell the parts' costs apart; printed only.
const parts = process.env.BENCH_OBSERVABILITY_PARTS === "1";
const partModes = ["logs", "metrics", "logs, metrics", "on, none sampled"] as const;
const modes: Mode[] = ["off", "on", "on, sampled", ...(parts ? partModes : [])];
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
  "on, none sampled": {
    BENCH_OBSERVABILITY: "on",
    ...tracingEnv,
    OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
    OTEL_TRACES_SAMPLER_ARG: "0",
  },
  logs: { BENCH_OBSERVABILITY: "logs", OTEL_EXPORTER_OTLP_ENDPOINT: "" },
  metrics: { BENCH_OBSERVABILITY: "metrics", OTEL_EXPORTER_OTLP_ENDPOINT: "" },
  "logs, metrics": { BENCH_OBSERVABILITY: "logs,metrics", OTEL_EXPORTER_OTLP_ENDPOINT: "" },
};

/** What one round's NOA in one mode served over its slices. */
interface Tally {
  requests: number;
  cpuUs: number;
  p99Ms: number[];
}

async function start(mode: Mode) {
  const gateway = startGatewayProcess("./rest-gateway.ts", { args: [upstreamUrl], env: modeEnv[mode] });
  const { baseUrl, key, tracing } = await next<{ baseUrl: string; key: string; tracing: boolean }>(gateway);
  const traced = mode.startsWith("on");
  if (tracing !== traced) throw new Error(`tracing should be ${traced ? "on" : "off"} (${mode})`);
  const command = {
    type: "load" as const,
    connections,
    durationS: sliceS,
    ...chatCompletionsTarget(`${baseUrl}/v1`, key, model),
  };
  return { process: gateway, command };
}

/** One round: a new NOA per mode, each warmed up, then the slices in turn. */
async function round(): Promise<Record<Mode, Tally>> {
  const gateways = [];
  for (const mode of modes) {
    const gateway = await start(mode);
    gateways.push(gateway);
    await next(loader, { ...gateway.command, durationS: warmUpS });
  }
  const tallies = Object.fromEntries(
    modes.map((mode) => [mode, { requests: 0, cpuUs: 0, p99Ms: [] as number[] }]),
  ) as Record<Mode, Tally>;
  for (let slice = 0; slice < slices; slice++) {
    // A rotating order: no mode always follows the same one.
    for (let index = 0; index < modes.length; index++) {
      const at = (index + slice) % modes.length;
      const mode = modes[at] as Mode;
      const { process: gateway, command } = gateways[at] as Awaited<ReturnType<typeof start>>;
      await next(gateway, { type: "mark" });
      const { result } = await next<{ result: LoadResult }>(loader, command);
      await new Promise((resolve) => setTimeout(resolve, settleMs));
      const { cpuUs } = await next<{ cpuUs: number }>(gateway, { type: "stats" });
      if (result.failures > 0) throw new Error(`${result.failures} failed requests (${mode})`);
      tallies[mode].requests += result.requests;
      tallies[mode].cpuUs += cpuUs;
      tallies[mode].p99Ms.push(result.p99Ms);
    }
  }
  for (const { process: gateway } of gateways) {
    gateway.disconnect();
    await new Promise((resolve) => gateway.once("exit", resolve));
  }
  return tallies;
}

const rounds: Record<Mode, Tally>[] = [];
for (let index = 0; index < roundCount; index++) rounds.push(await round());
loader.disconnect();
upstream?.disconnect();
sink.close();
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const perSecond = (tally: Tally) => tally.requests / (slices * sliceS);
/** Each column over all rounds' slices (p99: the median slice's). */
const typical = (mode: Mode): Run => {
  const tallies = rounds.map((tallied) => tallied[mode]);
  const requests = tallies.reduce((sum, tally) => sum + tally.requests, 0);
  return {
    perSecond: requests / (roundCount * slices * sliceS),
    p99Ms: median(tallies.flatMap((tally) => tally.p99Ms)),
    cpuUs: tallies.reduce((sum, tally) => sum + tally.cpuUs, 0) / requests,
  };
};
/** The fewer requests/s `mode` served than "off" in each round, as a share of off's. */
const roundCosts = (mode: Mode) =>
  rounds.map((tallied) => 1 - perSecond(tallied[mode]) / perSecond(tallied.off));
/** The rounds' median cost. */
const cost = (mode: Mode) => median(roundCosts(mode));
console.dir(
  {
    runs: modes.map((mode) => [mode, typical(mode)]),
    roundCosts: Object.fromEntries(
      modes.map((mode) => [mode, roundCosts(mode).map((value) => value.toFixed(3))]),
    ),
    cost: { on: cost("on"), sampled: cost("on, sampled") },
    spansReceived,
  },
  { depth: 3 },
);
if (spansReceived === 0) throw new Error("no spans reached the OTLP sink: tracing was not on");

const fmt = (value: number) => Math.round(value).toLocaleString("en-US");
const percent = (mode: Mode) => `${(cost(mode) * 100).toFixed(1)} %`;
const verdict = (mode: Mode) => (cost(mode) < 0.15 ? "met" : "**missed**");
/** Each round's cost, in the order the rounds ran: how far one run's median can move. */
const roundPercents = (mode: Mode) =>
  roundCosts(mode)
    .map((value) => (value * 100).toFixed(1))
    .join(", ");
const row = (label: string, run: Run) =>
  `| ${label} | ${fmt(run.perSecond)} | ${run.p99Ms.toFixed(1)} | ${fmt(run.cpuUs)} |`;
const text = [
  `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus()[0]?.model ?? "unknown CPU"} (${availableParallelism()} cores), Node ${process.version}; \`POST /v1/chat/completions\` ${viaUpstream ? "through NOA's OpenAI provider to a loopback upstream" : "on NOA's instant in-process model"} at concurrency ${connections}. "On": info logs through the redacting logger (to /dev/null, asynchronously), metrics recorded, and spans exported over OTLP/HTTP (${protocol}) to a loopback sink (${fmt(spansReceived)} export requests received in all), either every span or, with \`OTEL_TRACES_SAMPLER=parentbased_traceidratio\` and \`OTEL_TRACES_SAMPLER_ARG=0.1\`, those of one trace in ten; "off": no logs, no metrics, no tracing. ${roundCount} rounds, each starting a new NOA per mode: they run side by side, each warmed up for ${warmUpS} s, then take the load in turns, ${slices} slices of ${sliceS} s each, the modes in a rotating order, with a ${settleMs} ms pause after each (the host's speed drifts over a minute; every mode sees the same drift). Requests/s and CPU per request are over all slices of a mode; p99 is the median slice's; the cost is the median of the rounds' costs (each against its round's "off").`,
  "",
  "| observability | requests/s | p99 (ms) | NOA CPU per request (µs) |",
  "|---|---|---|---|",
  row("off", typical("off")),
  row("on, every span exported", typical("on")),
  row("on, 10 % of traces sampled", typical("on, sampled")),
  ...(parts
    ? partModes.map((mode) => row(mode.startsWith("on") ? mode : `${mode} only`, typical(mode)))
    : []),
  "",
  `Cost of observability: ${percent("on")} fewer requests/s with every span exported, ${percent("on, sampled")} with 10 % sampled (target < 15 % — ${verdict("on")} and ${verdict("on, sampled")}). The rounds' costs: ${roundPercents("on")} % with every span, ${roundPercents("on, sampled")} % with 10 % sampled. Reproduce: \`pnpm --filter @noa/bench exec tsx observability-overhead.bench.ts\`.`,
].join("\n");
if (viaUpstream || parts) console.log(text);
else writeSection("observability-overhead", text);
