import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Registry } from "prom-client";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createSpansDroppedCounter } from "./create-spans-dropped-counter.js";
import { ROOT_CONTEXT, startSpan, startTracing, type Tracing } from "./tracing.js";

// A collector that refuses every export with 400 (which exporters do not retry): each span sent is lost.
let exports = 0;
const collector = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    exports++;
    res.writeHead(400, { "content-type": "application/json" }).end('{"message":"refused"}');
  });
});
beforeAll(async () => {
  collector.listen(0, "127.0.0.1");
  await once(collector, "listening");
  vi.stubEnv("OTEL_EXPORTER_OTLP_ENDPOINT", `http://127.0.0.1:${(collector.address() as AddressInfo).port}`);
});
afterEach(() => {
  exports = 0;
});
afterAll(() => {
  vi.unstubAllEnvs();
  collector.close();
});

/** `noa_trace_spans_dropped_total` for `tracing`, as a registry scrapes it: reason → value. */
async function scrape(tracing: Tracing): Promise<Record<string, number>> {
  const registry = new Registry();
  createSpansDroppedCounter({ registers: [registry], tracing });
  const text = await registry.metrics();
  return Object.fromEntries(
    [...text.matchAll(/^noa_trace_spans_dropped_total\{reason="(\w+)"\} (\d+)$/gm)].map((match) => [
      match[1],
      Number(match[2]),
    ]),
  );
}

const endSpans = (count: number) => {
  for (let index = 0; index < count; index++) startSpan(`span ${index}`, { parent: ROOT_CONTEXT }).span.end();
};

describe("noa_trace_spans_dropped_total", () => {
  it("is 0 for both reasons while tracing is off", async () => {
    const tracing = startTracing({ service: "off", env: {} });
    expect(await scrape(tracing)).toEqual({ queue_full: 0, export_failed: 0 });
  });

  it("counts spans dropped for a full queue and spans in exports the collector refused (protobuf)", async () => {
    vi.stubEnv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf");
    // Two spans fill a batch, which goes at once; while it is being sent, the queue (2) is full.
    vi.stubEnv("OTEL_BSP_MAX_QUEUE_SIZE", "2");
    vi.stubEnv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "2");
    const tracing = startTracing({ service: "protobuf" });
    expect(await scrape(tracing)).toEqual({ queue_full: 0, export_failed: 0 });
    endSpans(5);
    await tracing.shutdown();
    expect(exports).toBe(1);
    expect(await scrape(tracing)).toEqual({ queue_full: 3, export_failed: 2 });
  });

  it("counts spans dropped for a full queue and spans in exports the collector refused (http/json, the SDK's processor)", async () => {
    vi.stubEnv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json");
    // The first two spans fill a batch, which goes at once; while it is being sent, the next two fill
    // the queue (2) and the last two are dropped.
    vi.stubEnv("OTEL_BSP_MAX_QUEUE_SIZE", "2");
    vi.stubEnv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "2");
    const tracing = startTracing({ service: "json" });
    endSpans(6);
    expect(await scrape(tracing)).toEqual({ queue_full: 2, export_failed: 0 });
    await expect(tracing.shutdown()).rejects.toThrow("Bad Request");
    expect(await scrape(tracing)).toEqual({ queue_full: 2, export_failed: 4 });
  });

  it("counts spans in exports the collector refused (http/json, the SDK's processor)", async () => {
    vi.stubEnv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json");
    const tracing = startTracing({ service: "json" });
    endSpans(3);
    // The SDK's processor passes the failed export on as its flush's error.
    await expect(tracing.shutdown()).rejects.toThrow("Bad Request");
    expect(exports).toBeGreaterThan(0);
    expect(await scrape(tracing)).toEqual({ queue_full: 0, export_failed: 3 });
  });
});
