/**
 * What NOA's OpenAI-compatible REST face costs in front of a fast OpenAI-compatible server, against
 * calling that server directly: requests/s and latency at concurrency 1 and 50, NOA's CPU per request
 * and peak RSS, and the time to the first byte of a stream. Three processes besides this one: the
 * upstream (rest-upstream.ts), NOA (rest-gateway.ts: auth, rate limiting, usage ledger, metrics and
 * info logging all on) and the load generator (rest-load.ts, autocannon). Writes docs/benchmarks.md
 * between the rest-overhead markers.
 */
import { availableParallelism, cpus } from "node:os";
import { nextMessage, startBenchProcess, startGatewayProcess } from "./bench-process.js";
import { chatCompletionsTarget, type LoadCommand, type LoadResult, type Target } from "./rest-load.js";
import { writeSection } from "./write-section.js";

const durationS = Number(process.env.BENCH_DURATION_S ?? 5);
const ttfbCount = Number(process.env.BENCH_TTFB_REQUESTS ?? 1_000);
// BENCH_CPU_PROF=<dir> writes a V8 CPU profile of NOA's process there.
const cpuProfileDir = process.env.BENCH_CPU_PROF;

const next = nextMessage;

const upstream = startBenchProcess("./rest-upstream.ts");
const { baseURL } = await next<{ baseURL: string }>(upstream);
const gateway = startGatewayProcess("./rest-gateway.ts", {
  args: [baseURL],
  execArgv: cpuProfileDir ? ["--cpu-prof", `--cpu-prof-dir=${cpuProfileDir}`] : [],
});
const { baseUrl, key } = await next<{ baseUrl: string; key: string }>(gateway);
const { maxRssKb: startRssKb } = await next<{ maxRssKb: number }>(gateway, { type: "stats" });
const loader = startBenchProcess("./rest-load.ts");
await next(loader);

type Path = "direct" | "noa" | "instant";
const targets = (stream: boolean): Record<Path, Target> => ({
  direct: chatCompletionsTarget(baseURL, "sk-bench", "gpt-4o-mini", stream),
  noa: chatCompletionsTarget(`${baseUrl}/v1`, key, "openai/gpt-4o-mini", stream),
  instant: chatCompletionsTarget(`${baseUrl}/v1`, key, "bench/instant", stream),
});
const labels: Record<Path, string> = {
  direct: "upstream directly",
  noa: "through NOA (OpenAI provider → upstream)",
  instant: "NOA alone (instant in-process model)",
};

const run = async (command: LoadCommand) => (await next<{ result: LoadResult }>(loader, command)).result;

// Warm-up: let both servers' JIT settle and open NOA's upstream connections.
for (const target of Object.values(targets(false))) {
  await run({ type: "load", connections: 50, durationS: 2, ...target });
}

const rows: string[] = [];
const cpu: Record<string, number> = {};
const rps: Record<string, number> = {};
for (const connections of [1, 50]) {
  let direct: LoadResult | undefined;
  for (const [path, target] of Object.entries(targets(false)) as Array<[Path, Target]>) {
    await next(gateway, { type: "mark" });
    const result = await run({ type: "load", connections, durationS, ...target });
    const { cpuUs } = await next<{ cpuUs: number }>(gateway, { type: "stats" });
    if (result.failures > 0)
      throw new Error(`${result.failures} failed requests (${path}, c=${connections})`);
    console.log(`c=${connections} ${path}`, result, path === "direct" ? "" : cpuUs / result.requests);
    rps[`${path}${connections}`] = result.perSecond;
    if (path === "direct") direct = result;
    else cpu[`${path}${connections}`] = cpuUs / result.requests;
    const added =
      path === "noa" && direct
        ? `+${ms(result.p50Ms - direct.p50Ms)} / +${ms(result.p99Ms - direct.p99Ms)}`
        : "—";
    rows.push(
      `| ${connections} | ${labels[path]} | ${Math.round(result.perSecond).toLocaleString("en-US")} | ${ms(result.p50Ms)} / ${ms(result.p99Ms)} | ${added} | ${path === "direct" ? "—" : Math.round(cpuUs / result.requests)} |`,
    );
  }
}
const streaming = targets(true);
const ttfbDirect = await run({ type: "ttfb", count: ttfbCount, ...streaming.direct });
const ttfbNoa = await run({ type: "ttfb", count: ttfbCount, ...streaming.noa });
if (ttfbDirect.failures + ttfbNoa.failures > 0) throw new Error("failed streaming requests");
const { cpuUs: providerCpuUs } = await next<{ cpuUs: number }>(gateway, { type: "provider", count: 2_000 });
const { maxRssKb } = await next<{ maxRssKb: number }>(gateway, { type: "stats" });
console.log("ttfb", { ttfbDirect, ttfbNoa, providerCpuUs, maxRssKb });

for (const child of [loader, gateway, upstream]) child.disconnect();

function ms(value: number): string {
  return value < 10 ? value.toFixed(2) : value.toFixed(1);
}

const verdict = (ok: boolean) => (ok ? "met" : "**missed**");
// The issue sets the CPU and throughput targets at concurrency 50. One request at a time, every request
// also pays for waking idle processes: a bare node:http proxy over createHttpFetch costs ~290 µs there.
const cpu50 = (path: Path) => cpu[`${path}50`] ?? Infinity;
const ttfbAdded = ttfbNoa.p50Ms - ttfbDirect.p50Ms;
writeSection(
  "rest-overhead",
  [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus()[0]?.model ?? "unknown CPU"} (${availableParallelism()} cores), Node ${process.version}; ${durationS} s per run after a 2 s warm-up, every process on the same machine. Non-streaming \`POST /v1/chat/completions\` (8-token answer); NOA with API-key auth, in-memory rate limiting, usage ledger, metrics and info logs (to /dev/null) on.`,
    "",
    "| concurrency | path | requests/s | p50 / p99 (ms) | added p50 / p99 (ms) | NOA CPU per request (µs) |",
    "|---|---|---|---|---|---|",
    ...rows,
    "",
    `Streaming (\`stream: true\`) through NOA's OpenAI provider, one request at a time, ${ttfbCount} requests (the first tenth not counted): time to the first body byte p50 / p99 ${ms(ttfbDirect.p50Ms)} / ${ms(ttfbDirect.p99Ms)} ms direct, ${ms(ttfbNoa.p50Ms)} / ${ms(ttfbNoa.p99Ms)} ms through NOA: +${ms(ttfbAdded)} ms at p50.`,
    "",
    `The OpenAI provider alone (its \`generate\` called in NOA's process, one call at a time: its Chat Completions transport over NOA's own HTTP/1.1 fetch, createHttpFetch): ${Math.round(providerCpuUs)} µs of CPU per call. NOA's peak RSS: ${Math.round(startRssKb / 1024)} MiB once started, ${Math.round(maxRssKb / 1024)} MiB over the whole benchmark.`,
    "",
    `Targets, through NOA's OpenAI provider at concurrency 50: ≤ 300 µs of CPU per request — ${verdict(cpu50("noa") <= 300)} (${Math.round(cpu50("noa"))}); ≥ 3,000 requests/s — ${verdict((rps.noa50 ?? 0) >= 3000)}; streaming time-to-first-byte overhead ≤ 1 ms at concurrency 1 — ${verdict(ttfbAdded <= 1)}. NOA alone (instant model) at concurrency 50: ≤ 300 µs — ${verdict(cpu50("instant") <= 300)} (${Math.round(cpu50("instant"))}); ≥ 3,000 requests/s — ${verdict((rps.instant50 ?? 0) >= 3000)}.`,
  ].join("\n"),
);
