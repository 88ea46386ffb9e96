import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { scriptedAnswer } from "../../testing/loopback-fault.js";
import { type AnthropicLoopbackServer, startAnthropicLoopbackServer } from "./anthropic-loopback-server.js";

let server: AnthropicLoopbackServer;
beforeEach(async () => {
  server = await startAnthropicLoopbackServer();
});
afterEach(async () => {
  await server.close();
});

function post(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.baseURL}/v1/messages`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "anthropic-version": "2026-10-21",
      "x-api-key": server.apiKey,
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

const request = {
  model: "claude-test",
  max_tokens: 3,
  system: "You are terse.",
  messages: [{ role: "user", content: "Tell me about the sea." }],
};

/** Splits an SSE body into its events, each `{ event, data }`, checking every event's exact line shape. */
function parseSse(text: string): { event: string; data: unknown }[] {
  expect(text.endsWith("\n\n")).toBe(true);
  return text
    .slice(0, -2)
    .split("\n\n")
    .map((block) => {
      const lines = block.split("\n");
      expect(lines).toHaveLength(2);
      const [eventLine = "", dataLine = ""] = lines;
      expect(eventLine).toMatch(/^event: [a-z_]+$/);
      expect(dataLine).toMatch(/^data: \{.*\}$/);
      return { event: eventLine.slice("event: ".length), data: JSON.parse(dataLine.slice("data: ".length)) };
    });
}

describe("anthropic loopback server", () => {
  it("answers a non-streaming request with a whole message in Anthropic's shape", async () => {
    const response = await post(request);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("application/json");
    const text = scriptedAnswer({ maxTokens: 3, stop: [] }).chunks.join("");
    expect(await response.json()).toMatchObject({
      id: expect.stringMatching(/^msg_/),
      type: "message",
      role: "assistant",
      content: [{ type: "text", text }],
      model: "claude-test",
      stop_reason: "max_tokens",
      stop_sequence: null,
      usage: { input_tokens: 8, output_tokens: 3 },
    });
  });

  it("streams the full event sequence as SSE, one text_delta per chunk, the data echoing the event name", async () => {
    const response = await post({ ...request, stream: true });
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const events = parseSse(await response.text());
    expect(events.map((event) => event.event)).toEqual([
      "message_start",
      "content_block_start",
      "ping",
      "content_block_delta",
      "content_block_delta",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    for (const { event, data } of events) expect(data).toMatchObject({ type: event });
    expect(events[0]?.data).toMatchObject({
      message: {
        type: "message",
        role: "assistant",
        content: [],
        stop_reason: null,
        usage: { input_tokens: 8 },
      },
    });
    const deltas = events.filter((event) => event.event === "content_block_delta");
    expect(deltas.map(({ data }) => (data as { delta: { text: string } }).delta.text)).toEqual(
      scriptedAnswer({ maxTokens: 3, stop: [] }).chunks,
    );
    expect(events.at(-2)?.data).toEqual({
      type: "message_delta",
      delta: { stop_reason: "max_tokens", stop_sequence: null, stop_details: null, container: null },
      usage: {
        input_tokens: 8,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        output_tokens: 3,
      },
    });
  });

  it("names the stop sequence that cut the answer", async () => {
    const response = await post({ ...request, max_tokens: 50, stop_sequences: ["deep"] });
    const message = (await response.json()) as {
      content: { text: string }[];
      stop_reason: string;
      stop_sequence: string;
    };
    expect(message.stop_reason).toBe("stop_sequence");
    expect(message.stop_sequence).toBe("deep");
    expect(message.content[0]?.text).toBe("The sea is vast and ");
  });

  it("accepts the key as a bearer token and answers 401 in Anthropic's error shape without one", async () => {
    const bearer = await post(request, { "x-api-key": "", authorization: `Bearer ${server.apiKey}` });
    expect(bearer.status).toBe(200);
    const missing = await post(request, { "x-api-key": "wrong" });
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({
      type: "error",
      error: { type: "authentication_error", message: expect.any(String) },
    });
  });

  it("requires anthropic-version and rejects sampling parameters as API version 2026-10-21 does", async () => {
    const noVersion = await post(request, { "anthropic-version": "" });
    expect(noVersion.status).toBe(400);
    const sampled = await post({ ...request, temperature: 1 });
    expect(sampled.status).toBe(400);
    expect(await sampled.json()).toMatchObject({ error: { type: "invalid_request_error" } });
  });

  it("applies queued faults in order: status with retry headers, then malformed SSE, then normal", async () => {
    server.enqueueFaults(
      { kind: "status", status: 529, retryAfter: "2", retryAfterMs: "150" },
      { kind: "malformed-sse" },
    );
    const overloaded = await post(request);
    expect(overloaded.status).toBe(529);
    expect(overloaded.headers.get("retry-after")).toBe("2");
    expect(overloaded.headers.get("retry-after-ms")).toBe("150");
    expect(await overloaded.json()).toMatchObject({ type: "error", error: { type: "overloaded_error" } });

    const malformed = await post({ ...request, stream: true });
    expect(malformed.status).toBe(200);
    const body = await malformed.text();
    expect(body.startsWith("event: message_start\ndata: ")).toBe(true);
    expect(() => JSON.parse(body.split("\n")[1]?.slice("data: ".length) ?? "")).toThrow();

    expect((await post(request)).status).toBe(200);
    expect(server.requests.map((seen) => seen.fault?.kind)).toEqual(["status", "malformed-sse", undefined]);
  });

  it("cuts a stream after the given chunks and records what it sent", async () => {
    server.enqueueFaults({ kind: "reset-mid-stream", afterChunks: 2 });
    const response = await post({ ...request, max_tokens: 20, stream: true });
    await expect(response.text()).rejects.toThrow();
    expect(server.requests[0]?.chunksSent).toBe(2);
    expect(server.requests[0]?.closedByClient).toBe(false);
  });

  it("records that the client closed a stalled stream", async () => {
    server.enqueueFaults({ kind: "stall-mid-stream", afterChunks: 1 });
    const abort = new AbortController();
    const response = await fetch(`${server.baseURL}/v1/messages`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "anthropic-version": "2026-10-21",
        "x-api-key": server.apiKey,
      },
      body: JSON.stringify({ ...request, stream: true }),
      signal: abort.signal,
    });
    const reader = response.body?.getReader();
    let received = "";
    while (!received.includes("content_block_delta")) {
      const { value } = (await reader?.read()) ?? {};
      received += new TextDecoder().decode(value);
    }
    abort.abort();
    await expect.poll(() => server.requests[0]?.closedByClient).toBe(true);
    expect(server.requests[0]?.chunksSent).toBe(1);
  });
});
