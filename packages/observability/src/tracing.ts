import {
  type Attributes,
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  SimpleSpanProcessor,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-node";

export { type Context, context, type Span, SpanKind, SpanStatusCode, trace };

/** The tracer every NOA module starts its spans with; a no-op until startTracing registers a provider. */
export const tracer = trace.getTracer("noa");

/** A started (or skipped) tracing setup. */
export interface Tracing {
  /** False when no exporter is configured: spans are no-ops and cost next to nothing. */
  readonly enabled: boolean;
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
}

/**
 * Turns tracing on when the standard OpenTelemetry variables ask for it: an OTLP endpoint
 * (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`; the exporter reads the other
 * `OTEL_EXPORTER_OTLP_*` variables itself), unless `OTEL_SDK_DISABLED=true` or
 * `OTEL_TRACES_EXPORTER=none`. `OTEL_SERVICE_NAME` overrides `service`. Spans go out in batches over
 * OTLP/HTTP; `exporter` (tests) receives each span as it ends instead. W3C `traceparent` is the
 * propagation format.
 */
export function startTracing({
  service,
  env = process.env,
  exporter,
}: {
  service: string;
  env?: NodeJS.ProcessEnv;
  exporter?: SpanExporter;
}): Tracing {
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const disabled = env.OTEL_SDK_DISABLED === "true" || env.OTEL_TRACES_EXPORTER === "none";
  if (!exporter && (!endpoint || disabled)) return { enabled: false, shutdown: async () => {} };
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": env.OTEL_SERVICE_NAME || service }),
    spanProcessors: [
      exporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(new OTLPTraceExporter()),
    ],
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  return { enabled: true, shutdown: () => provider.shutdown() };
}

type HeaderSource = Headers | Record<string, string | string[] | undefined>;

/** The trace context a request carries (`traceparent`, `tracestate`), or none. */
export function extractTraceContext(headers: HeaderSource): Context {
  return propagation.extract(ROOT_CONTEXT, headers, {
    keys: (carrier) => (carrier instanceof Headers ? [...carrier.keys()] : Object.keys(carrier)),
    get: (carrier, key) => {
      const value = carrier instanceof Headers ? carrier.get(key) : carrier[key];
      return Array.isArray(value) ? value[0] : (value ?? undefined);
    },
  });
}

/** `headers` plus the trace context of `from` (default: the active one), to send with a call or a job. */
export function injectTraceContext(
  headers: Record<string, string> = {},
  from: Context = context.active(),
): Record<string, string> {
  propagation.inject(from, headers);
  return headers;
}

/**
 * Runs `work` in a new span, active for everything it awaits; the span records a thrown error and
 * ends when `work` settles. `parent` defaults to the active context.
 */
export async function inSpan<T>(
  name: string,
  options: { attributes?: Attributes; kind?: SpanKind; parent?: Context },
  work: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = options.parent ?? context.active();
  const span = tracer.startSpan(name, { attributes: options.attributes, kind: options.kind }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => work(span));
  } catch (error) {
    failSpan(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/** Marks `span` failed with the error's type (never its message: it may carry upstream text). */
export function failSpan(span: Span, error: unknown): void {
  const type = error instanceof Error ? error.name : typeof error;
  span.setStatus({ code: SpanStatusCode.ERROR, message: type });
  span.setAttribute("error.type", type);
}
