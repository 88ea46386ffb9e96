import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { InferenceService, Role } from "@noa/proto";

/** What a well-behaved client got while something else was going on. */
export interface NormalTrafficReport {
  /** Calls answered as they should be. */
  served: number;
  /** Calls that failed or were answered wrongly, described (at most 10). */
  failures: string[];
}

/**
 * Runs well-behaved clients in a loop until stop(): GET /health, a REST chat completion and a gRPC
 * Complete on the tiny model (4 tokens each), one after another. Each must be answered correctly: the
 * point is that the server keeps serving its ordinary callers while slow or hostile ones are connected.
 */
export function startNormalTraffic(server: { baseUrl: string; adminKey: string; modelId: string }) {
  const report: NormalTrafficReport = { served: 0, failures: [] };
  const grpc = createClient(
    InferenceService,
    createGrpcTransport({
      baseUrl: server.baseUrl,
      interceptors: [
        (next) => (request) => {
          request.header.set("authorization", `Bearer ${server.adminKey}`);
          return next(request);
        },
      ],
    }),
  );
  const calls: Array<[name: string, call: () => Promise<void>]> = [
    [
      "GET /health",
      async () => {
        const response = await fetch(`${server.baseUrl}/health`);
        await response.text();
        if (response.status !== 200) throw new Error(`status ${response.status}`);
      },
    ],
    [
      "POST /v1/chat/completions",
      async () => {
        const response = await fetch(`${server.baseUrl}/v1/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${server.adminKey}`, "content-type": "application/json" },
          body: JSON.stringify({
            model: server.modelId,
            messages: [{ role: "user", content: "Hello" }],
            max_tokens: 4,
          }),
        });
        const body = (await response.json()) as { usage?: { completion_tokens?: number } };
        if (response.status !== 200 || !body.usage?.completion_tokens) {
          throw new Error(`status ${response.status}: ${JSON.stringify(body).slice(0, 200)}`);
        }
      },
    ],
    [
      "gRPC Complete",
      async () => {
        const answer = await grpc.complete(
          { model: server.modelId, messages: [{ role: Role.USER, content: "Hello" }], maxTokens: 4 },
          { timeoutMs: 60_000 },
        );
        if (!answer.usage?.completionTokens) throw new Error("an answer without usage");
      },
    ],
  ];
  let stopping = false;
  const loop = (async () => {
    for (let round = 0; !stopping; round++) {
      const [name, call] = calls[round % calls.length] as (typeof calls)[number];
      try {
        await call();
        report.served++;
      } catch (error) {
        if (report.failures.length < 10) report.failures.push(`${name}: ${(error as Error).message}`);
      }
    }
  })();
  return {
    /** Finishes the call in progress and returns what the clients got. */
    async stop(): Promise<NormalTrafficReport> {
      stopping = true;
      await loop;
      return report;
    },
  };
}
