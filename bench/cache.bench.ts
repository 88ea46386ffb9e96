/**
 * What a response-cache hit costs through NOA's REST and gRPC faces, against the no-cache path (the
 * same request with the cache skipped, answered by the OpenAI provider from the fastest possible
 * upstream, bench/rest-upstream.ts) and against an instant in-process model: requests/s, latency and NOA's
 * CPU per request, at concurrency 1 and 50, each path in a NOA process of its own. A NOA with only the
 * Redis tier measures hits served from Redis. Processes: the upstream, NOA (rest-gateway.ts with cache tiers), the REST
 * load generator (rest-load.ts, autocannon) and the gRPC one (grpc-load.ts). Writes docs/benchmarks.md
 * between the cache markers.
 */
import { availableParallelism, cpus, loadavg } from "node:os";
import { nextMessage, startBenchProcess, startGatewayProcess } from "./bench-process.js";
import type { GrpcLoadCommand } from "./grpc-load.js";
import type { LoadCommand, LoadResult } from "./rest-load.js";
import { writeSection } from "./write-section.js";

const durationS = Number(process.env.BENCH_DURATION_S ?? 5);
// Other work on the machine shows in every number: say how busy it was.
const loadBefore = loadavg()[0] ?? 0;

const start = (script: string, args: string[] = []) => startBenchProcess(script, { args });
const next = nextMessage;

const upstream = start("./rest-upstream.ts");
const { baseURL } = await next<{ baseURL: string }>(upstream);
const restLoader = start("./rest-load.ts");
const grpcLoader = start("./grpc-load.ts");
await Promise.all([next(restLoader), next(grpcLoader)]);

type Path = "hit" | "miss" | "instant";
const labels: Record<Path, string> = {
  hit: "cache hit",
  miss: "no cache: OpenAI provider → upstream",
  instant: "no cache: instant in-process model",
};
interface Run {
  face: "REST" | "gRPC";
  path: Path;
  connections: number;
  result: LoadResult;
  cpuUs: number;
}

/** One NOA with the given tiers: every face × path × concurrency, NOA's CPU measured around each run. */
/**
 * One face × path in a NOA of its own with the given tiers (so no run inherits another's heap, sockets or
 * cache): a 2 s warm-up, a check that the path is what it says, then concurrency 1 and 50, NOA's CPU
 * measured around each run.
 */
async function measure(tiers: string, face: "REST" | "gRPC", path: Path): Promise<Run[]> {
  const gateway = startGatewayProcess("./rest-gateway.ts", { args: [baseURL, tiers] });
  const { baseUrl, key } = await next<{ baseUrl: string; key: string }>(gateway);
  const model = path === "instant" ? "bench/instant" : "openai/gpt-4o-mini";
  const rest: Extract<LoadCommand, { type: "load" }> = {
    type: "load",
    connections: 1,
    durationS,
    url: `${baseUrl}/v1/chat/completions`,
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${key}`,
      ...(path !== "hit" && { "cache-control": "no-store" }),
    },
    body: JSON.stringify({
      model,
      messages: [{ role: "user", content: "Tell me about the sea." }],
      max_tokens: 16,
      temperature: 0,
    }),
  };
  const grpc: GrpcLoadCommand = {
    type: "load",
    baseUrl,
    key,
    model,
    skipCache: path !== "hit",
    connections: 1,
    durationS,
  };
  const run = async (connections: number, seconds: number): Promise<Run> => {
    const command = { ...(face === "REST" ? rest : grpc), connections, durationS: seconds };
    const loader = face === "REST" ? restLoader : grpcLoader;
    await next(gateway, { type: "mark" });
    const { result } = await next<{ result: LoadResult }>(loader, command);
    const { cpuUs } = await next<{ cpuUs: number }>(gateway, { type: "stats" });
    if (result.failures > 0)
      throw new Error(`${result.failures} failed requests (${face} ${path} c=${connections})`);
    return { face, path, connections, result, cpuUs };
  };

  // Warm-up: the JIT, NOA's upstream connections, and the cached answer itself.
  await run(50, 2);
  // The path is what it says: a hit is served by the first configured tier, the others bypass the cache.
  const response = await fetch(rest.url, { method: "POST", headers: rest.headers, body: rest.body });
  const served = response.headers.get("x-noa-cache-tier") ?? response.headers.get("x-noa-cache");
  const expected = path === "hit" ? tiers.split(",")[0] : "bypass";
  if (served !== expected) throw new Error(`${path} was served as ${served}, not ${expected}`);
  const runs: Run[] = [];
  for (const connections of [1, 50]) {
    const measured = await run(connections, durationS);
    console.log(tiers, face, path, connections, measured.result, measured.cpuUs / measured.result.requests);
    runs.push(measured);
  }
  gateway.disconnect();
  await new Promise((resolve) => gateway.once("exit", resolve));
  return runs;
}

const withMemory: Run[] = [];
const redisOnly: Run[] = [];
for (const face of ["REST", "gRPC"] as const) {
  for (const path of ["hit", "miss", "instant"] as const)
    withMemory.push(...(await measure("memory,redis", face, path)));
  redisOnly.push(...(await measure("redis", face, "hit")));
}
const byOrder = (a: Run, b: Run) =>
  a.face === b.face ? a.connections - b.connections : a.face.localeCompare(b.face) * -1;
withMemory.sort(byOrder);
redisOnly.sort(byOrder);
for (const child of [restLoader, grpcLoader, upstream]) child.disconnect();

const ms = (value: number) => (value < 10 ? value.toFixed(2) : value.toFixed(1));
const perRequest = (run: Run) => run.cpuUs / run.result.requests;
const row = (run: Run, label: string) =>
  `| ${run.face} | ${run.connections} | ${label} | ${Math.round(run.result.perSecond).toLocaleString("en-US")} | ${ms(run.result.p50Ms)} / ${ms(run.result.p99Ms)} | ${Math.round(perRequest(run))} |`;
const rows = [
  ...withMemory.map((run) => row(run, run.path === "hit" ? "cache hit (memory)" : labels[run.path])),
  ...redisOnly.map((run) => row(run, "cache hit (Redis; memory tier off)")),
];
const find = (face: string, path: Path, connections: number, runs = withMemory) =>
  runs.find((run) => run.face === face && run.path === path && run.connections === connections);
const verdict = (ok: boolean) => (ok ? "met" : "**missed**");
const cheaper = ["REST", "gRPC"].every((face) =>
  [1, 50].every((c) => {
    const hit = find(face, "hit", c);
    const miss = find(face, "miss", c);
    return hit && miss && perRequest(hit) < perRequest(miss);
  }),
);
const cpuOf = (face: string, path: Path) => {
  const run = find(face, path, 50);
  return run ? Math.round(perRequest(run)) : Number.NaN;
};
const bestHits = (face: string) =>
  Math.max(
    find(face, "hit", 50)?.result.perSecond ?? 0,
    find(face, "hit", 50, redisOnly)?.result.perSecond ?? 0,
  );
const ratio = (face: string) => {
  const hit = find(face, "hit", 50);
  const miss = find(face, "miss", 50);
  return hit && miss ? (perRequest(miss) / perRequest(hit)).toFixed(1) : "?";
};
writeSection(
  "cache",
  [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus()[0]?.model ?? "unknown CPU"} (${availableParallelism()} cores), Node ${process.version}, Redis on loopback; ${durationS} s per run after a 2 s warm-up, every process on the same machine (1-minute load average ${loadBefore.toFixed(1)} before, ${(loadavg()[0] ?? 0).toFixed(1)} after). \`POST /v1/chat/completions\` (REST, autocannon) and \`InferenceService.Complete\` (gRPC, connect-node, one HTTP/2 connection), greedy, 16 max tokens, 8-token answer; NOA with API-key auth, in-memory rate limiting, usage ledger, metrics and info logs (to /dev/null) on. "No cache" is the same request with \`Cache-Control: no-store\` / \`CACHE_MODE_SKIP\`.`,
    "",
    "| face | concurrency | path | requests/s | p50 / p99 (ms) | NOA CPU per request (µs) |",
    "|---|---|---|---|---|---|",
    ...rows,
    "",
    `Reading it: a memory hit costs about as much NOA CPU as the instant model, i.e. NOA with no provider at all (${cpuOf("REST", "hit")} vs ${cpuOf("REST", "instant")} µs per request on REST, ${cpuOf("gRPC", "hit")} vs ${cpuOf("gRPC", "instant")} µs on gRPC, at concurrency 50): the cache's own work — two SHA-256 keys, the LRU lookup, the wrappers — is about 7 µs measured in-process, within the noise here. A hit costs ${ratio("REST")}× less NOA CPU than a miss through the OpenAI provider on REST, ${ratio("gRPC")}× on gRPC. Hits per second are bounded by NOA's cost per request outside the cache (HTTP or HTTP/2 and protobuf, authentication, rate limiting, validation, the usage ledger, metrics, tracing and the log line), with the load generator on the same 2 cores; gRPC through connect-node costs two to three times REST's per request. Redis hits at concurrency 50 cost less than memory hits because identical requests that arrive while one Redis lookup is in flight are coalesced into it (with coalescing off, a Redis hit costs about what a memory hit does).`,
    "",
    `Targets: a hit costs less NOA CPU than a miss against the fastest upstream, on both faces at both concurrencies — ${verdict(cheaper)}; ≥ 5,000 hits/s at concurrency 50 — REST ${verdict(bestHits("REST") >= 5000)} (${Math.round(find("REST", "hit", 50)?.result.perSecond ?? 0).toLocaleString("en-US")} from memory, ${Math.round(find("REST", "hit", 50, redisOnly)?.result.perSecond ?? 0).toLocaleString("en-US")} from Redis), gRPC ${verdict(bestHits("gRPC") >= 5000)} (${Math.round(bestHits("gRPC")).toLocaleString("en-US")}).`,
  ].join("\n"),
);
