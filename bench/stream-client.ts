/**
 * The benchmark's gRPC client, run as its own process so that its decoding does not share the
 * server's event loop (and so the server's cost alone is measured). Prints one JSON line per run.
 */
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { InferenceService, Role } from "@noa/proto";

const [baseUrl, model, maxTokens, prompt, apiKey] = process.argv.slice(2);
const client = createClient(
  InferenceService,
  createGrpcTransport({
    baseUrl: baseUrl ?? "",
    interceptors: [
      (next) => (request) => {
        request.header.set("authorization", `Bearer ${apiKey}`);
        return next(request);
      },
    ],
  }),
);

process.stdin.setEncoding("utf8");
for await (const _line of process.stdin) {
  const started = performance.now();
  let tokens = 0;
  for await (const message of client.streamComplete({
    model,
    messages: [{ role: Role.USER, content: prompt ?? "" }],
    maxTokens: Number(maxTokens),
  })) {
    if (message.usage) tokens = message.usage.completionTokens;
  }
  process.stdout.write(`${JSON.stringify({ tokens, ms: performance.now() - started })}\n`);
}
