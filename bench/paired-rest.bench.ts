/**
 * A paired comparison of NOA's REST face, for changes smaller than this machine's swings: every mode's
 * gateway (rest-gateway.ts) runs at the same time as the others, each under its own load generator
 * (rest-load.ts), all against one shared loopback upstream (rest-upstream.ts), so whatever the host does
 * hits every mode alike. Each round prints every mode's CPU per request; at the end, each mode's median
 * ratio to the first. Prints only (docs/benchmarks.md quotes its ratios); not part of `pnpm bench`.
 *
 * PAIRED_MODES is a JSON object: mode name → environment of its gateway, where `SCRIPT` names the gateway
 * script of another checkout (a `git worktree` of the commit to compare with). PAIRED_MODEL is the model
 * asked for (default `openai/gpt-4o-mini`, through the OpenAI provider; `bench/instant` for NOA alone),
 * PAIRED_STREAM=1 asks for streams, PAIRED_ROUNDS (default 5), PAIRED_CONNECTIONS per mode (default 16)
 * and BENCH_DURATION_S (default 5) size the run. Example, this checkout against the previous commit:
 *
 *   git worktree add /tmp/noa-base HEAD~1 && (cd /tmp/noa-base && pnpm install --frozen-lockfile)
 *   PAIRED_MODES='{"base":{"SCRIPT":"/tmp/noa-base/bench/rest-gateway.ts"},"head":{}}' \
 *     pnpm --filter @noa/bench exec tsx paired-rest.bench.ts
 */
import { nextMessage, startBenchProcess, startGatewayProcess } from "./bench-process.js";
import { chatCompletionsTarget, type LoadCommand, type LoadResult } from "./rest-load.js";

const modes = JSON.parse(process.env.PAIRED_MODES ?? "{}") as Record<string, NodeJS.ProcessEnv>;
const names = Object.keys(modes);
if (names.length < 2)
  throw new Error('PAIRED_MODES must name at least two modes, e.g. {"base":{"SCRIPT":"…"},"head":{}}');
const rounds = Number(process.env.PAIRED_ROUNDS ?? 5);
const connections = Number(process.env.PAIRED_CONNECTIONS ?? 16);
const durationS = Number(process.env.BENCH_DURATION_S ?? 5);
const model = process.env.PAIRED_MODEL ?? "openai/gpt-4o-mini";
const stream = process.env.PAIRED_STREAM === "1";

const upstream = startBenchProcess("./rest-upstream.ts");
const { baseURL } = await nextMessage<{ baseURL: string }>(upstream);
const cpuPerRequest: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));

for (let round = 0; round < rounds; round++) {
  // Started in a rotating order, so that no mode always starts first.
  const order = names.map((_, index) => names[(index + round) % names.length] as string);
  const runs = await Promise.all(
    order.map(async (name) => {
      const { SCRIPT, ...env } = modes[name] ?? {};
      const gateway = startGatewayProcess(SCRIPT ?? "./rest-gateway.ts", {
        args: [baseURL],
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: "", ...env },
      });
      const loader = startBenchProcess("./rest-load.ts");
      await nextMessage(loader);
      const { baseUrl, key } = await nextMessage<{ baseUrl: string; key: string }>(gateway);
      const command: LoadCommand = {
        type: "load",
        connections,
        durationS: 2,
        ...chatCompletionsTarget(`${baseUrl}/v1`, key, model, stream),
      };
      return { name, gateway, loader, command };
    }),
  );
  // Warm up together, count together.
  await Promise.all(runs.map((run) => nextMessage(run.loader, run.command)));
  await Promise.all(runs.map((run) => nextMessage(run.gateway, { type: "mark" })));
  const loads = await Promise.all(
    runs.map((run) => nextMessage<{ result: LoadResult }>(run.loader, { ...run.command, durationS })),
  );
  const line: string[] = [];
  for (const [index, run] of runs.entries()) {
    const { cpuUs } = await nextMessage<{ cpuUs: number }>(run.gateway, { type: "stats" });
    const { result } = loads[index] as { result: LoadResult };
    if (result.failures > 0) throw new Error(`${result.failures} failed requests (${run.name})`);
    cpuPerRequest[run.name]?.push(cpuUs / result.requests);
    line.push(`${run.name} ${Math.round(cpuUs / result.requests)} µs (${Math.round(result.perSecond)}/s)`);
    run.gateway.disconnect();
    run.loader.disconnect();
  }
  console.log(`round ${round + 1}: ${line.join(", ")}`);
}
upstream.disconnect();

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
const [first = ""] = names;
for (const name of names) {
  const ratios = (cpuPerRequest[name] ?? []).map(
    (value, round) => value / (cpuPerRequest[first]?.[round] ?? Number.NaN),
  );
  const better = ratios.filter((ratio) => ratio < 1).length;
  console.log(
    `${name}: CPU per request ${median(ratios).toFixed(3)}× ${first}'s (median of ${rounds} rounds; lower in ${better})`,
  );
}
