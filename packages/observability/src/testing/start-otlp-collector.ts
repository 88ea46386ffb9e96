import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

/** An attribute as OTLP/HTTP JSON carries it: its key and an AnyValue (`{ stringValue: "…" }`, …). */
export interface OtlpKeyValue {
  key: string;
  value: Record<string, unknown>;
}

/** A span as OTLP/HTTP JSON carries it (the fields tests look at). */
export interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client. */
  kind?: number;
  startTimeUnixNano?: string;
  endTimeUnixNano?: string;
  attributes?: OtlpKeyValue[];
  status?: { code?: number; message?: string };
}

/**
 * A loopback OTLP/HTTP collector for tests: give `endpoint` to a process as OTEL_EXPORTER_OTLP_ENDPOINT
 * and read the spans it exported from `spans`.
 */
export async function startOtlpCollector() {
  const spans: ExportedSpan[] = [];
  /** Each export request's resource attributes. */
  const resources: Array<OtlpKeyValue[]> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
        resourceSpans?: Array<{
          resource?: { attributes?: OtlpKeyValue[] };
          scopeSpans?: Array<{ spans?: ExportedSpan[] }>;
        }>;
      };
      for (const resource of body.resourceSpans ?? []) {
        resources.push(resource.resource?.attributes ?? []);
        for (const scope of resource.scopeSpans ?? []) spans.push(...(scope.spans ?? []));
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    resources,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
