import { randomUUID } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { maskSensitiveText, startTracing } from "@noa/observability";
import { InMemorySpanExporter } from "@noa/observability/testing";
import { InferenceService, Role } from "@noa/proto";
import { createOpenAIProvider } from "@noa/providers";
import {
  type LoopbackServer,
  OPENAI_LOOPBACK_API_KEY,
  startOpenAILoopbackServer,
} from "@noa/providers/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./__fixtures__/start-test-server.js";

// Issue 9: what an operator sees — every metric on /metrics once its path has run, and log lines that
// never carry a credential or personal data, whatever the request carried.
const spans = new InMemorySpanExporter();
const tracing = startTracing({ service: "rpc-server", exporter: spans });
let upstream: LoopbackServer;
let server: TestServer;

beforeAll(async () => {
  upstream = await startOpenAILoopbackServer();
  server = await startTestServer({
    providers: [createOpenAIProvider({ apiKey: OPENAI_LOOPBACK_API_KEY, baseURL: upstream.baseURL })],
    routing: {
      routes: { default: ["openai/gpt-4o-mini", "llama-cpp/llama-2-tiny-random"] },
      retry: { maxAttempts: 2, baseDelayMs: 1 },
      circuitBreaker: { failureThreshold: 100 },
    },
    tracing,
  });
});
afterAll(async () => {
  await server?.close();
  await upstream?.close();
  await tracing.shutdown();
});

async function scrape(): Promise<string> {
  const response = await fetch(`${server.baseUrl}/metrics`);
  expect(response.status).toBe(200);
  return response.text();
}

/** The value of one sample, e.g. `http_requests_total{method="POST",route="/v1/chat/completions",status="200"}`. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.lastIndexOf("}"));
    const found = Object.fromEntries(
      [...body.matchAll(/(\w+)="([^"]*)"/g)].map((match) => [match[1], match[2]] as const),
    );
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) {
      return Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return 0;
}

describe("metrics", () => {
  it("counts requests, errors, provider attempts, retries, fallbacks, tokens, cost and time to first token", async () => {
    const openai = new OpenAI({ baseURL: `${server.baseUrl}/v1`, apiKey: server.adminKey, maxRetries: 0 });
    const before = await scrape();
    const user = [{ role: "user" as const, content: "Tell me about the sea." }];

    await openai.chat.completions.create({ model: "openai/gpt-4o-mini", messages: user, max_tokens: 8 });
    // Both tries of the first target fail: one retry, then the fallback serves.
    upstream.enqueueFaults({ kind: "status", status: 503 }, { kind: "status", status: 503 });
    await openai.chat.completions.create({ model: "default", messages: user, max_tokens: 4 });
    await expect(
      new OpenAI({ baseURL: `${server.baseUrl}/v1`, apiKey: "noa_wrong", maxRetries: 0 }).models.list(),
    ).rejects.toThrow();
    const grpc = createClient(
      InferenceService,
      createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [server.auth] }),
    );
    for await (const _ of grpc.streamComplete({
      model: server.modelId,
      messages: [{ role: Role.USER, content: "Hello" }],
      maxTokens: 4,
    })) {
      // drain
    }
    const connect = createClient(
      InferenceService,
      createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1" }),
    );
    await expect(connect.complete({ model: server.modelId, messages: [] })).rejects.toThrow();

    const after = await scrape();
    const grew = (name: string, labels: Record<string, string>) =>
      sample(after, name, labels) - sample(before, name, labels);

    expect(
      grew("http_requests_total", { method: "POST", route: "/v1/chat/completions", status: "200" }),
    ).toBe(2);
    expect(grew("http_requests_total", { method: "GET", route: "/v1/models", status: "401" })).toBe(1);
    expect(grew("http_errors_total", { category: "unauthenticated" })).toBe(2);
    expect(
      grew("http_request_duration_seconds_count", { route: "/v1/chat/completions", status: "200" }),
    ).toBe(2);
    expect(
      grew("noa_rpc_requests_total", {
        service: "noa.inference.v1.InferenceService",
        method: "StreamComplete",
        protocol: "grpc",
        code: "ok",
      }),
    ).toBe(1);
    expect(
      grew("noa_rpc_requests_total", { method: "Complete", protocol: "connect", code: "unauthenticated" }),
    ).toBe(1);
    expect(
      grew("ai_provider_requests_total", { provider: "openai", model: "gpt-4o-mini", outcome: "ok" }),
    ).toBe(1);
    expect(
      grew("ai_provider_requests_total", { provider: "openai", model: "gpt-4o-mini", outcome: "error" }),
    ).toBe(2);
    expect(grew("noa_provider_retries_total", { target: "openai/gpt-4o-mini" })).toBe(1);
    expect(grew("noa_provider_fallbacks_total", { target: "llama-cpp/llama-2-tiny-random" })).toBe(1);
    expect(grew("ai_provider_latency_seconds_count", { provider: "openai", model: "gpt-4o-mini" })).toBe(3);
    expect(
      grew("noa_tokens_total", { model: "openai/gpt-4o-mini", direction: "completion" }),
    ).toBeGreaterThan(0);
    expect(
      grew("noa_tokens_total", { model: "llama-cpp/llama-2-tiny-random", direction: "prompt" }),
    ).toBeGreaterThan(0);
    expect(grew("noa_time_to_first_token_seconds_count", { model: "llama-cpp/llama-2-tiny-random" })).toBe(1);
    expect(grew("noa_cache_requests_total", { result: "miss" })).toBe(3);
    expect(after).toMatch(/^ai_provider_cost_total\{provider="openai",model="openai\/gpt-4o-mini"\} /m);
    for (const name of [
      "http_active_connections",
      "noa_usage_buffer_depth",
      "noa_circuit_breaker_state",
      'noa_trace_spans_dropped_total{reason="export_failed"} 0',
      "noa_rate_limit_rejections_total",
      "noa_rpc_request_duration_seconds_bucket",
      "process_cpu_seconds_total",
      "nodejs_eventloop_lag_seconds",
    ]) {
      expect(after).toContain(name);
    }
  });
});

describe("logs", () => {
  it("write one line per call with the model asked for and what served it", async () => {
    const grpc = createClient(
      InferenceService,
      createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [server.auth] }),
    );
    const answer = await grpc.complete({
      model: server.modelId,
      // A prompt of its own, so no cache holds its answer.
      messages: [{ role: Role.USER, content: `Hello ${randomUUID()}` }],
      maxTokens: 3,
    });
    const line = server.logs.find(
      (entry) =>
        entry.msg === "rpc" &&
        entry.correlationId === answer.id &&
        entry.procedure?.toString().endsWith("/Complete"),
    );
    expect(line).toMatchObject({
      service: "rpc-server",
      protocol: "grpc",
      code: "ok",
      model: server.modelId,
      served: server.modelId,
      provider: "llama-cpp",
      attempts: 1,
      completionTokens: answer.usage?.completionTokens,
      cached: false,
    });
    expect(typeof line?.ms).toBe("number");

    // A stream's line names the model asked for too.
    let streamId = "";
    for await (const part of grpc.streamComplete({
      model: server.modelId,
      messages: [{ role: Role.USER, content: `Hello ${randomUUID()}` }],
      maxTokens: 3,
    })) {
      streamId = part.id;
    }
    const streamLine = server.logs.find((entry) => entry.msg === "rpc" && entry.correlationId === streamId);
    expect(streamLine).toMatchObject({ code: "ok", model: server.modelId, served: server.modelId });
  });

  it("never write the API key, e-mail address or card number a request carried", async () => {
    const key = `noa_Zx9Qw2Er4T_${"k".repeat(43)}`;
    const email = "jane.doe@example.com";
    const card = "4111 1111 1111 1111";
    const response = await fetch(`${server.baseUrl}/v1/chat/completions`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${key}`,
        "content-type": "application/json",
        "x-correlation-id": email,
      },
      body: JSON.stringify({ model: card, messages: [{ role: "user", content: `${email} ${card}` }] }),
    });
    expect(response.status).toBe(401);
    // An unknown model id naming a card number and an e-mail address, from a valid key.
    const refused = await fetch(`${server.baseUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: `${email}/${card}`, messages: [{ role: "user", content: "hi" }] }),
    });
    expect(refused.status).toBe(404);
    const written = JSON.stringify(server.logs);
    const line = server.logs.find((entry) => entry.route === "/v1/chat/completions" && entry.status === 404);
    // The line keeps the requested model, masked.
    expect(line?.model).toBe("[redacted:email]/[redacted:card]");
    for (const secret of [key, server.adminKey, email, card]) expect(written).not.toContain(secret);
  });
});

describe("traces", () => {
  const traceId = "0af7651916cd43dd8448eb211c80319c";
  const traceparent = `00-${traceId}-b7ad6b7169203331-01`;

  it("continue a REST caller's trace through auth, rate limit and each provider attempt", async () => {
    upstream.enqueueFaults({ kind: "status", status: 503 });
    const response = await fetch(`${server.baseUrl}/v1/chat/completions`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${server.adminKey}`,
        "content-type": "application/json",
        traceparent,
      },
      body: JSON.stringify({
        model: "openai/gpt-4o-mini",
        messages: [{ role: "user", content: "Hi" }],
        max_tokens: 4,
      }),
    });
    expect(response.status).toBe(200);
    const inTrace = spans.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);
    const request = inTrace.find((span) => span.name === "POST /v1/chat/completions");
    expect(request?.parentSpanContext?.spanId).toBe("b7ad6b7169203331");
    expect(request?.attributes["http.response.status_code"]).toBe(200);
    const children = inTrace.filter(
      (span) => span.parentSpanContext?.spanId === request?.spanContext().spanId,
    );
    expect(children.map((span) => span.name)).toEqual(
      expect.arrayContaining(["auth", "rate-limit admit", "provider attempt"]),
    );
    const attempts = inTrace.filter((span) => span.name === "provider attempt");
    expect(attempts.map((span) => span.attributes["noa.outcome"])).toEqual(["error", "ok"]);
  });

  it("continue a gRPC caller's trace into a streaming call's provider attempt", async () => {
    const grpc = createClient(
      InferenceService,
      createGrpcTransport({
        baseUrl: server.baseUrl,
        interceptors: [
          server.auth,
          (next) => (request) => {
            request.header.set("traceparent", "00-1bf7651916cd43dd8448eb211c80319d-c7ad6b7169203332-01");
            return next(request);
          },
        ],
      }),
    );
    for await (const _ of grpc.streamComplete({
      model: server.modelId,
      messages: [{ role: Role.USER, content: "Hello" }],
      maxTokens: 4,
    })) {
      // drain
    }
    const inTrace = spans
      .getFinishedSpans()
      .filter((span) => span.spanContext().traceId === "1bf7651916cd43dd8448eb211c80319d");
    const call = inTrace.find((span) => span.name === "noa.inference.v1.InferenceService/StreamComplete");
    expect(call?.parentSpanContext?.spanId).toBe("c7ad6b7169203332");
    const under = (name: string) => inTrace.find((span) => span.name === name)?.parentSpanContext?.spanId;
    expect(under("auth")).toBe(call?.spanContext().spanId);
    expect(under("rate-limit admit")).toBe(call?.spanContext().spanId);
    expect(under("provider attempt")).toBe(call?.spanContext().spanId);
    const attempt = inTrace.find((span) => span.name === "provider attempt");
    expect(attempt?.attributes["noa.target"]).toBe(server.modelId);
  });
});

describe("prompt and answer logging", () => {
  it("is off by default, and with NOA_LOG_CONTENT on writes them masked on one line per call", async () => {
    const marker = `Tell me about the sea, ${randomUUID()}, or mail jane.doe@example.com`;
    const grpc = (target: TestServer) =>
      createClient(
        InferenceService,
        createGrpcTransport({ baseUrl: target.baseUrl, interceptors: [target.auth] }),
      );
    await grpc(server).complete({
      model: server.modelId,
      messages: [{ role: Role.USER, content: marker }],
      maxTokens: 3,
    });
    expect(JSON.stringify(server.logs)).not.toContain(marker.slice(0, 40));

    const logging = await startTestServer({ logContent: true });
    try {
      const answer = await grpc(logging).complete({
        model: logging.modelId,
        messages: [{ role: Role.USER, content: marker }],
        maxTokens: 3,
      });
      const line = logging.logs.find((entry) => entry.msg === "completion content");
      expect(line).toMatchObject({
        correlationId: answer.id,
        model: logging.modelId,
        prompt: [{ role: "user", content: marker.replace("jane.doe@example.com", "[redacted:email]") }],
        // The answer goes through the same masking as every string.
        completion: maskSensitiveText(answer.text),
      });
    } finally {
      await logging.close();
    }
  });
});
