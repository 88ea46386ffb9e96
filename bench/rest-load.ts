/**
 * The REST benchmark's load generator, in its own process so that it does not share NOA's event loop.
 * Over IPC it answers `load` (autocannon at a fixed concurrency for a duration: requests/s and latency
 * percentiles, taken from each response's own sub-millisecond time rather than autocannon's whole-ms
 * histogram) and `ttfb` (sequential streaming requests: time from sending to the first body byte).
 */
import http from "node:http";
import autocannon from "autocannon";

export interface Target {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * The benchmarks' request: `POST <v1Url>/chat/completions` asking `model` a short question (16 tokens at
 * most), as a stream on request, with `apiKey` as the bearer token.
 */
export function chatCompletionsTarget(v1Url: string, apiKey: string, model: string, stream = false): Target {
  return {
    url: `${v1Url}/chat/completions`,
    headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({
      model,
      messages: [{ role: "user", content: "Tell me about the sea." }],
      max_tokens: 16,
      ...(stream && { stream: true }),
    }),
  };
}

export type LoadCommand =
  | ({ type: "load"; connections: number; durationS: number } & Target)
  | ({ type: "ttfb"; count: number } & Target);

export interface LoadResult {
  requests: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  failures: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
}

function load(command: Extract<LoadCommand, { type: "load" }>): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const times: number[] = [];
    let failures = 0;
    const instance = autocannon(
      {
        url: command.url,
        method: "POST",
        headers: command.headers,
        body: command.body,
        connections: command.connections,
        duration: command.durationS,
      },
      (error, result) => {
        if (error) {
          reject(error);
          return;
        }
        times.sort((a, b) => a - b);
        resolve({
          requests: times.length,
          perSecond: times.length / command.durationS,
          p50Ms: percentile(times, 50),
          p99Ms: percentile(times, 99),
          failures: failures + result.errors + result.timeouts,
        });
      },
    );
    instance.on("response", (_client, statusCode, _bytes, responseTime) => {
      if (statusCode === 200) times.push(responseTime);
      else failures++;
    });
  });
}

async function ttfb(command: Extract<LoadCommand, { type: "ttfb" }>): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const times: number[] = [];
  let failures = 0;
  const once = () =>
    new Promise<void>((resolve, reject) => {
      const started = performance.now();
      const request = http.request(
        command.url,
        { method: "POST", headers: command.headers, agent },
        (response) => {
          let first = true;
          response.on("data", () => {
            if (first) times.push(performance.now() - started);
            first = false;
          });
          response.on("end", () => {
            if (response.statusCode !== 200) failures++;
            resolve();
          });
        },
      );
      request.on("error", reject);
      request.end(command.body);
    });
  for (let i = 0; i < command.count; i++) await once();
  agent.destroy();
  const measured = times.slice(Math.floor(command.count / 10)).sort((a, b) => a - b);
  return {
    requests: times.length,
    perSecond: Number.NaN,
    p50Ms: percentile(measured, 50),
    p99Ms: percentile(measured, 99),
    failures,
  };
}

process.on("message", (command: LoadCommand) => {
  (command.type === "load" ? load(command) : ttfb(command)).then(
    (result) => process.send?.({ type: "result", result }),
    (error: unknown) => process.send?.({ type: "error", message: String(error) }),
  );
});
process.on("disconnect", () => process.exit(0));
process.send?.({ type: "ready" });
