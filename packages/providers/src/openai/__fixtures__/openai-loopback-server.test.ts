import OpenAI from "openai";
import { afterEach, describe, expect, it } from "vitest";
import type { LoopbackServer } from "../../testing/loopback-fault.js";
import type { ChatCompletion, ChatCompletionChunk } from "../openai-api.js";
import { OPENAI_LOOPBACK_API_KEY, startOpenAILoopbackServer } from "./openai-loopback-server.js";

const authorization = `Bearer ${OPENAI_LOOPBACK_API_KEY}`;
const body = {
  model: "gpt-4o-mini",
  messages: [{ role: "user", content: "Tell me about the sea." }],
  max_tokens: 3,
};

describe("OpenAI loopback server", () => {
  let server: LoopbackServer;
  afterEach(async () => {
    await server?.close();
  });

  async function post(
    payload: object,
    headers: Record<string, string> = { authorization },
  ): Promise<Response> {
    return fetch(`${server.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(payload),
    });
  }

  it("streams OpenAI's exact SSE bytes: role, content deltas, finish, usage, [DONE]", async () => {
    server = await startOpenAILoopbackServer();
    const response = await post({ ...body, stream: true, stream_options: { include_usage: true } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const text = await response.text();
    expect(text).toMatch(/^(data: \{[^\n]*\}\n\n)+data: \[DONE\]\n\n$/);

    const events = text.split("\n\n").filter(Boolean);
    expect(events.at(-1)).toBe("data: [DONE]");
    const chunks = events
      .slice(0, -1)
      .map((event) => JSON.parse(event.slice("data: ".length)) as ChatCompletionChunk);
    for (const chunk of chunks) expect(chunk.object).toBe("chat.completion.chunk");
    expect(chunks.map((chunk) => chunk.choices[0]?.delta ?? "usage")).toEqual([
      { role: "assistant", content: "", refusal: null },
      { content: "The" },
      { content: " sea" },
      { content: " is" },
      {},
      "usage",
    ]);
    expect(chunks[4]?.choices[0]?.finish_reason).toBe("length");
    expect(chunks[5]?.choices).toEqual([]);
    expect(chunks[5]?.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 });
    expect(chunks.slice(0, 5).every((chunk) => chunk.usage === null)).toBe(true);
    expect(new Set(chunks.map((chunk) => chunk.id)).size).toBe(1);
  });

  it("sends no usage chunk nor usage fields unless include_usage is asked", async () => {
    server = await startOpenAILoopbackServer();
    const text = await (await post({ ...body, stream: true })).text();
    expect(text).not.toContain('"usage"');
    expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
  });

  it("answers a non-streaming request with a chat.completion object carrying usage", async () => {
    server = await startOpenAILoopbackServer();
    const completion = (await (await post({ ...body, stop: " is" })).json()) as ChatCompletion;
    expect(completion).toMatchObject({
      object: "chat.completion",
      model: "gpt-4o-mini",
      choices: [{ index: 0, message: { role: "assistant", content: "The sea" }, finish_reason: "stop" }],
      usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
    });
  });

  it("answers 401 in OpenAI's error shape without the right bearer key", async () => {
    server = await startOpenAILoopbackServer();
    const response = await post(body, {});
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({
      error: { message: expect.any(String), type: "invalid_request_error", param: null, code: null },
    });
    const wrong = await post(body, { authorization: "Bearer sk-wrong-0000000000" });
    expect(await wrong.json()).toMatchObject({ error: { code: "invalid_api_key" } });
  });

  it("sends status faults with the vendor's body and the retry headers asked for", async () => {
    server = await startOpenAILoopbackServer();
    server.enqueueFaults({ kind: "status", status: 429, retryAfter: "2", retryAfterMs: "150" });
    const response = await post(body);
    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("2");
    expect(response.headers.get("retry-after-ms")).toBe("150");
    expect(await response.json()).toMatchObject({ error: { type: "requests", code: "rate_limit_exceeded" } });
    expect(server.requests[0]?.fault).toEqual({
      kind: "status",
      status: 429,
      retryAfter: "2",
      retryAfterMs: "150",
    });
  });

  it("records each request, and closedByClient only for a client that left early", async () => {
    server = await startOpenAILoopbackServer();
    await (await post(body)).text();
    const abort = new AbortController();
    server.enqueueFaults({ kind: "stall-mid-stream", afterChunks: 1 });
    const response = await fetch(`${server.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization },
      body: JSON.stringify({ ...body, stream: true }),
      signal: abort.signal,
    });
    const reader = response.body?.getReader();
    await reader?.read();
    abort.abort();
    await expect.poll(() => server.requests[1]?.closedByClient).toBe(true);
    expect(server.requests[0]).toMatchObject({
      path: "/v1/chat/completions",
      closedByClient: false,
      chunksSent: 3,
    });
    expect(server.requests[0]?.body).toEqual(body);
  });

  it("lists its models for the SDK at GET /v1/models", async () => {
    server = await startOpenAILoopbackServer({ models: ["llama3.1:8b"] });
    const client = new OpenAI({ apiKey: OPENAI_LOOPBACK_API_KEY, baseURL: server.baseURL, maxRetries: 0 });
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toEqual(["llama3.1:8b"]);
  });
});
