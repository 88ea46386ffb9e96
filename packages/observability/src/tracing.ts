import {
  type Attributes,
  type Context,
  INVALID_SPAN_CONTEXT,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  TraceFlags,
  trace,
} from "@opentelemetry/api";
import { isTracingSuppressed, W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter as OTLPJsonTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as OTLPProtobufTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  type IdGenerator,
  NodeTracerProvider,
  ParentBasedSampler,
  type Sampler,
  SimpleSpanProcessor,
  type SpanExporter,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-node";

export { type Context, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace };

/** The tracer every NOA module starts its spans with; a no-op until startTracing registers a provider. */
export const tracer = trace.getTracer("noa");

/**
 * Set once startTracing turned tracing on (until then spans and trace contexts are not even made): the
 * registered provider's ids, and the bound its sampler's decision on a new trace's root comes to
 * (rootBound), which startSpan applies itself.
 */
let roots: { ids: TraceIds; rootBound: number } | undefined;

/** Two hex digits for each byte value. */
const hexByte = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

const randomWord = () => (Math.random() * 0x100000000) >>> 0;

const hexWord = (word: number) =>
  (hexByte[word >>> 24] as string) +
  (hexByte[(word >>> 16) & 255] as string) +
  (hexByte[(word >>> 8) & 255] as string) +
  (hexByte[word & 255] as string);

/**
 * The provider's ids: random, as the SDK's RandomIdGenerator makes them (from Math.random, never all
 * zeros), but written through a table rather than a Buffer's hex encoding (a call into C++ per id); and
 * a root span's trace id, drawn by startSpan to decide on the trace before any span is made, is handed
 * on to the span the tracer then makes.
 */
class TraceIds implements IdGenerator {
  private handedOn: string | undefined;

  /** The trace id the tracer's next root span gets. */
  handOn(traceId: string): void {
    this.handedOn = traceId;
  }

  generateTraceId(): string {
    const traceId = this.handedOn ?? newTraceId().traceId;
    this.handedOn = undefined;
    return traceId;
  }

  generateSpanId(): string {
    const high = randomWord();
    let low = randomWord();
    if ((high | low) === 0) low = 1;
    return hexWord(high) + hexWord(low);
  }
}

/**
 * A random trace id, and the XOR of its four 32-bit words: what TraceIdRatioBasedSampler compares with
 * its bound (it parses the words back out of the hex).
 */
function newTraceId(): { traceId: string; accumulated: number } {
  const w0 = randomWord();
  const w1 = randomWord();
  const w2 = randomWord();
  let w3 = randomWord();
  if ((w0 | w1 | w2 | w3) === 0) w3 = 1;
  return {
    traceId: hexWord(w0) + hexWord(w1) + hexWord(w2) + hexWord(w3),
    accumulated: (w0 ^ w1 ^ w2 ^ w3) >>> 0,
  };
}

/** The span work gets while tracing is off: records nothing. */
const offSpan = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

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
 * `OTEL_TRACES_EXPORTER=none`. `OTEL_SERVICE_NAME` overrides `service`; `OTEL_TRACES_SAMPLER` and
 * `OTEL_TRACES_SAMPLER_ARG` choose the sampler (default `parentbased_always_on`, as the spec says).
 * Trace contexts are passed explicitly (a span's parent is always given), never kept in an async
 * context. Spans go out in batches over OTLP/HTTP as protobuf (the spec's default; encoded in about a
 * third of JSON's CPU time and bytes), or as JSON when `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` (or
 * `OTEL_EXPORTER_OTLP_PROTOCOL`) is `http/json`; `exporter` (tests) receives each span as it ends instead. W3C `traceparent` is the
 * propagation format.
 * https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/
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
  const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL;
  const otlp = () =>
    protocol === "http/json" ? new OTLPJsonTraceExporter() : new OTLPProtobufTraceExporter();
  const { sampler, rootBound } = samplingFrom(env);
  const ids = new TraceIds();
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": env.OTEL_SERVICE_NAME || service }),
    sampler,
    idGenerator: ids,
    spanProcessors: [exporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(otlp())],
  });
  // No context manager: on Node 20 the AsyncLocalStorage one hooks every promise the process makes
  // (tens of µs per request). NOA hands each span's context on explicitly (inSpan gives it to its work).
  provider.register({ propagator: new W3CTraceContextPropagator(), contextManager: null });
  roots = { ids, rootBound };
  return { enabled: true, shutdown: () => provider.shutdown() };
}

/**
 * The sampler `OTEL_TRACES_SAMPLER` names (with `OTEL_TRACES_SAMPLER_ARG`, a ratio in [0, 1], default 1;
 * an unknown name gives the default, `parentbased_always_on`), and `rootBound`: its decision on a new
 * trace's root (no parent) as TraceIdRatioBasedSampler makes it, sampled when the XOR of the trace id's
 * four 32-bit words is below the bound (2^32 for always on, 0 for always off).
 */
export function samplingFrom(env: NodeJS.ProcessEnv): { sampler: Sampler; rootBound: number } {
  const arg = env.OTEL_TRACES_SAMPLER_ARG?.trim() ? Number(env.OTEL_TRACES_SAMPLER_ARG) : Number.NaN;
  const ratio = arg >= 0 && arg <= 1 ? arg : 1;
  // TraceIdRatioBasedSampler's own bound for `ratio`.
  const ratioBound = ratio === 1 ? 0x100000000 : Math.floor(ratio * 0xffffffff);
  const always = { sampler: new AlwaysOnSampler(), rootBound: 0x100000000 };
  const never = { sampler: new AlwaysOffSampler(), rootBound: 0 };
  const byRatio = { sampler: new TraceIdRatioBasedSampler(ratio), rootBound: ratioBound };
  const parentBased = ({ sampler, rootBound }: { sampler: Sampler; rootBound: number }) => ({
    sampler: new ParentBasedSampler({ root: sampler }),
    rootBound,
  });
  switch (env.OTEL_TRACES_SAMPLER?.trim().toLowerCase()) {
    case "always_on":
      return always;
    case "always_off":
      return never;
    case "traceidratio":
      return byRatio;
    case "parentbased_always_off":
      return parentBased(never);
    case "parentbased_traceidratio":
      return parentBased(byRatio);
    default:
      return parentBased(always);
  }
}

type HeaderSource = Headers | Record<string, string | string[] | undefined>;

/** The trace context a request carries (`traceparent`, `tracestate`), or none. */
export function extractTraceContext(headers: HeaderSource): Context {
  if (!roots) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, headers, headerGetter);
}

/** Reads `Headers` and Node's header objects alike (made once: it is used for every request). */
const headerGetter: TextMapGetter<HeaderSource> = {
  keys: (carrier) => (carrier instanceof Headers ? [...carrier.keys()] : Object.keys(carrier)),
  get: (carrier, key) => {
    const value = carrier instanceof Headers ? carrier.get(key) : carrier[key];
    return Array.isArray(value) ? value[0] : (value ?? undefined);
  },
};

/** `headers` plus the trace context `from` (`traceparent`, `tracestate`), to send with a call or a job. */
export function injectTraceContext(headers: Record<string, string>, from: Context): Record<string, string> {
  propagation.inject(from, headers);
  return headers;
}

/**
 * Runs `work` in a new span under `parent` (ROOT_CONTEXT for none); `work` gets the span and its
 * context, to pass to whatever it calls (the parent's context when the span is skipped). The span
 * records a thrown error and ends when `work` settles.
 */
export function inSpan<T>(
  name: string,
  options: { attributes?: Attributes; kind?: SpanKind; parent: Context },
  work: (span: Span, within: Context) => Promise<T>,
): Promise<T> {
  const { parent } = options;
  const current = roots ? trace.getSpan(parent) : offSpan;
  if (current && !isSampledHere(current)) {
    // Tracing is off, or no sampler records a child of a local span it did not sample: skip the span.
    try {
      return work(current, parent);
    } catch (error) {
      return Promise.reject(error);
    }
  }
  const { span, within } = startSpan(name, options);
  // Callbacks on the one promise rather than an async wrapper: no extra promises or awaits per span.
  let settled: Promise<T>;
  try {
    settled = work(span, within);
  } catch (error) {
    settled = Promise.reject(error);
  }
  // A span that records nothing (a new trace's root the sampler dropped) has nothing to end or fail.
  if (!span.isRecording()) return settled;
  return settled.then(
    (value) => {
      span.end();
      return value;
    },
    (error: unknown) => {
      failSpan(span, error);
      span.end();
      throw error;
    },
  );
}

/**
 * Starts a span under `parent` and returns it with its context, for the calls made under it; the caller
 * ends it. With tracing off: a span that records nothing, and `parent` as its context.
 *
 * A new trace's root span that the sampler drops (most of them, with a ratio sampler) is made here
 * rather than by the tracer: its trace id is drawn and the sampler's decision on it made first (by the
 * bound samplingFrom gives, without hex parsing or id checks), and a dropped one becomes the same
 * non-recording span the tracer would make (random ids, not sampled, so that calls made under it carry
 * the decision on), without the tracer's generic work (attribute checks, links, its diagnostics and span
 * metrics). A sampled one is made by the tracer under that trace id, whose sampler decides the same.
 */
export function startSpan(
  name: string,
  options: { attributes?: Attributes; kind?: SpanKind; parent: Context },
): { span: Span; within: Context } {
  const { parent } = options;
  if (!roots) return { span: offSpan, within: parent };
  if (trace.getSpan(parent) === undefined && !isTracingSuppressed(parent)) {
    const { traceId, accumulated } = newTraceId();
    if (accumulated >= roots.rootBound) {
      const span = trace.wrapSpanContext({
        traceId,
        spanId: roots.ids.generateSpanId(),
        traceFlags: TraceFlags.NONE,
      });
      return { span, within: trace.setSpan(parent, span) };
    }
    roots.ids.handOn(traceId);
  }
  const span = tracer.startSpan(name, { attributes: options.attributes, kind: options.kind }, parent);
  return { span, within: trace.setSpan(parent, span) };
}

/**
 * A span for something that already happened (reported when it ended, like a provider attempt or a
 * cache read): made under `parent` with its real start and end, failed when `error` is given. Nothing
 * is made without a parent span, or under one that is not sampled.
 */
export function recordSpan(
  name: string,
  options: {
    parent: Context;
    durationMs: number;
    kind?: SpanKind;
    attributes?: Attributes;
    error?: unknown;
  },
): void {
  if (!tracesUnder(options.parent)) return;
  const end = Date.now();
  const span = tracer.startSpan(
    name,
    { kind: options.kind, startTime: end - options.durationMs, attributes: options.attributes },
    options.parent,
  );
  if (options.error !== undefined) failSpan(span, options.error);
  span.end(end);
}

/** Whether spans made under `parent` can be recorded: it holds a span, and that span is sampled here. */
export function tracesUnder(parent: Context): boolean {
  const span = trace.getSpan(parent);
  return span !== undefined && isSampledHere(span);
}

/**
 * False for a span of this process that is neither recorded nor sampled (with tracing off, every span):
 * the standard samplers decide its children the same way (parent-based ones follow it, a trace-id ratio
 * gives the same trace id the same answer, always_on would have sampled it), so they need not be made.
 */
export function isSampledHere(span: Span): boolean {
  if (span.isRecording()) return true;
  const spanContext = span.spanContext();
  return spanContext.isRemote === true || (spanContext.traceFlags & TraceFlags.SAMPLED) !== 0;
}

/** Marks `span` failed with the error's type (never its message: it may carry upstream text). */
export function failSpan(span: Span, error: unknown): void {
  const type = error instanceof Error ? error.name : typeof error;
  span.setStatus({ code: SpanStatusCode.ERROR, message: type });
  span.setAttribute("error.type", type);
}
