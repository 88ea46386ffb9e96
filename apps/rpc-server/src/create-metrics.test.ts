import { Code } from "@connectrpc/connect";
import { createModelRegistry } from "@noa/providers";
import { describe, expect, it } from "vitest";
import { createMetrics } from "./create-metrics.js";

describe("createMetrics", () => {
  it("gives listed models and the first 100 others series of their own; ids beyond count as <provider>/other", async () => {
    const registry = createModelRegistry({
      providers: [
        {
          id: "openai",
          listModels: async () => [
            {
              id: "openai/gpt-4o-mini",
              provider: "openai",
              capabilities: ["chat"],
              contextLength: 0,
              loaded: true,
            },
          ],
          languageModel: () => {
            throw new Error("not called");
          },
          close: async () => {},
        },
      ],
    });
    const metrics = createMetrics({ registry });
    await registry.listModels();
    const attempt = (target: string) =>
      metrics.providerAttempt({ target, attempt: 2, outcome: "error", durationMs: 5 });
    // A client making up model ids: 250 of them, then the listed model.
    for (let i = 0; i < 250; i++) attempt(`openai/made-up-${i}`);
    attempt("openai/gpt-4o-mini");
    metrics.firstToken("openai/made-up-249", 0.1);

    const text = await metrics.registry.metrics();
    const series = text.split("\n").filter((line) => line.startsWith("ai_provider_requests_total{"));
    expect(series).toHaveLength(102);
    expect(series).toContain(
      'ai_provider_requests_total{provider="openai",model="made-up-99",outcome="error"} 1',
    );
    expect(series).toContain(
      'ai_provider_requests_total{provider="openai",model="other",outcome="error"} 150',
    );
    expect(series).toContain(
      'ai_provider_requests_total{provider="openai",model="gpt-4o-mini",outcome="error"} 1',
    );
    expect(text).toContain('noa_provider_retries_total{target="openai/other"} 150');
    expect(text).toContain('noa_time_to_first_token_seconds_count{model="openai/other"} 1');
    expect(text).not.toContain("made-up-100");
  });
});

describe("http_errors_total", () => {
  it("counts a call to a procedure the server does not serve as the caller's (not_found), not as internal", async () => {
    const metrics = createMetrics({ registry: createModelRegistry({ providers: [] }) });
    const call = {
      service: "noa.inference.v1.InferenceService",
      method: "Nope",
      protocol: "grpc",
      seconds: 0,
    };
    metrics.rpcRequest({ ...call, code: Code.Unimplemented });
    const text = await metrics.registry.metrics();
    expect(text).toContain('http_errors_total{category="not_found"} 1');
    expect(text).not.toContain('http_errors_total{category="internal"}');
  });
});

describe("http_requests_total", () => {
  it("labels a method outside HTTP's standard ones as other (HTTP/2 takes any token), so series stay bounded", async () => {
    const metrics = createMetrics({ registry: createModelRegistry({ providers: [] }) });
    metrics.httpRequest({ method: "BREW", route: "/v1/models", status: 405, seconds: 0 });
    metrics.httpRequest({ method: "GET", route: "/v1/models", status: 200, seconds: 0 });
    const text = await metrics.registry.metrics();
    expect(text).toContain('http_requests_total{method="other",route="/v1/models",status="405"} 1');
    expect(text).toContain('http_requests_total{method="GET",route="/v1/models",status="200"} 1');
    expect(text).not.toContain("BREW");
  });
});

describe("unparsedRequest", () => {
  it("counts a request refused before any route as route unparsed, and its error by category", async () => {
    const metrics = createMetrics({ registry: createModelRegistry({ providers: [] }) });
    metrics.unparsedRequest(408);
    metrics.unparsedRequest(431);
    const text = await metrics.registry.metrics();
    expect(text).toContain('http_requests_total{method="other",route="unparsed",status="408"} 1');
    expect(text).toContain('http_requests_total{method="other",route="unparsed",status="431"} 1');
    expect(text).toContain('http_errors_total{category="timeout"} 1');
    expect(text).toContain('http_errors_total{category="invalid_request"} 1');
  });
});
