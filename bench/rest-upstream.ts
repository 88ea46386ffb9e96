/**
 * A fast OpenAI-compatible server for the REST benchmark, run as its own process: `POST
 * /v1/chat/completions` answers a fixed 8-token completion at once (JSON, or the whole SSE stream in one
 * write with `stream: true`). It does as little as a server can, so what the benchmark sees on top of it
 * is NOA's cost. Sends `{ type: "ready", baseURL }` over IPC once listening.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

const words = ["The", " sea", " is", " vast", " and", " deep", " and", " blue"];
const created = Math.floor(Date.now() / 1000);
const usage = { prompt_tokens: 5, completion_tokens: words.length, total_tokens: 5 + words.length };
const completion = Buffer.from(
  JSON.stringify({
    id: "chatcmpl-bench",
    object: "chat.completion",
    created,
    model: "gpt-4o-mini",
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: words.join(""), refusal: null },
        logprobs: null,
        finish_reason: "stop",
      },
    ],
    usage,
    system_fingerprint: null,
  }),
);
const chunk = (choices: unknown[], extra: object = {}) =>
  `data: ${JSON.stringify({ id: "chatcmpl-bench", object: "chat.completion.chunk", created, model: "gpt-4o-mini", system_fingerprint: null, choices, ...extra })}\n\n`;
const stream = Buffer.from(
  [
    chunk([{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }]),
    ...words.map((text) =>
      chunk([{ index: 0, delta: { content: text }, logprobs: null, finish_reason: null }]),
    ),
    chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: "stop" }]),
    chunk([], { usage }),
    "data: [DONE]\n\n",
  ].join(""),
);

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (data: Buffer) => chunks.push(data));
  req.on("end", () => {
    if (req.method !== "POST" || req.url !== "/v1/chat/completions") {
      res.writeHead(404).end();
      return;
    }
    const streaming = Buffer.concat(chunks).includes('"stream":true');
    res.writeHead(200, {
      "content-type": streaming ? "text/event-stream" : "application/json",
      "content-length": streaming ? stream.length : completion.length,
    });
    res.end(streaming ? stream : completion);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  process.send?.({ type: "ready", baseURL: `http://127.0.0.1:${port}/v1` });
});
process.on("disconnect", () => process.exit(0));
