import {
  type Attributes,
  type Context,
  createContextKey,
  createNoopMeter,
  defaultTextMapSetter,
  INVALID_SPAN_CONTEXT,
  isSpanContextValid,
  type MeterProvider,
  ROOT_CONTEXT,
  type Span,
  type SpanAttributes,
  type SpanContext,
  SpanKind,
  type SpanStatus,
  SpanStatusCode,
  type TextMapGetter,
  TraceFlags,
  type TraceState,
  trace,
} from "@opentelemetry/api";
import { ExportResultCode, isTracingSuppressed, W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter as OTLPJsonTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import type { SpanProcessorOptions } from "@opentelemetry/sdk-trace";
import {
  BatchSpanProcessor,
  type BufferConfig,
  SimpleSpanProcessor,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-node";
import { batchLimitsFrom, createOtlpBatchSender, OtlpSpanBatch } from "./otlp-span-batch.js";
import { nowMs, RecordedSpan, type SpanSink } from "./recorded-span.js";
import { SpanIds, TraceWords } from "./span-ids.js";

export { type Context, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace };

/** How new spans are decided: by their parent's sampled flag, or by the trace id against rootBound. */
export interface Sampling {
  /** A span with a parent follows the parent's decision (the `parentbased_*` samplers). */
  parentBased: boolean;
  /**
   * A trace is sampled when the XOR of its id's four 32-bit words is below this bound (how the SDK's
   * TraceIdRatioBasedSampler decides; 2^32 for always on, 0 for always off): every new trace's root,
   * and every span when the sampler is not parent-based.
   */
  rootBound: number;
}

/**
 * Set once startTracing turned tracing on (until then spans and trace contexts are not even made): how
 * spans are decided, where they end up, and the propagator.
 */
let setup: { sampling: Sampling; sink: SpanSink; propagator: W3CTraceContextPropagator } | undefined;

/** A random 32-bit word, as a signed int (a small integer to V8, not a heap number). */
const randomWord = () => (Math.random() * 0x100000000) | 0;

/**
 * A new span's ids in `trace`: a random span id, as the SDK's RandomIdGenerator makes them (from
 * Math.random, never all zeros), kept as words (SpanIds).
 */
function newSpanIds(trace: TraceWords, traceState?: TraceState): SpanIds {
  const high = randomWord();
  let low = randomWord();
  if ((high | low) === 0) low = 1;
  return new SpanIds(trace, high, low, traceState);
}

/** The span work gets while tracing is off: records nothing. */
const offSpan = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/**
 * The root of a new trace the sampler dropped: records nothing, like the SDK's non-recording span, and
 * writes its ids (random, as the SDK would give them) only when something asks for its context, to pass
 * the trace on (most such requests call nothing downstream). `trace` holds the trace id's words, drawn
 * to make the decision.
 */
class UnsampledRoot implements Span {
  private context: SpanContext | undefined;

  constructor(private readonly trace: TraceWords) {}

  spanContext(): SpanContext {
    this.context ??= {
      traceId: this.trace.hex,
      spanId: newSpanIds(this.trace).spanIdHex,
      traceFlags: TraceFlags.NONE,
    };
    return this.context;
  }

  isRecording(): boolean {
    return false;
  }

  setAttribute(): this {
    return this;
  }

  setAttributes(_attributes: SpanAttributes): this {
    return this;
  }

  addEvent(): this {
    return this;
  }

  addLink(): this {
    return this;
  }

  addLinks(): this {
    return this;
  }

  setStatus(_status: SpanStatus): this {
    return this;
  }

  updateName(): this {
    return this;
  }

  end(): void {}

  recordException(): void {}
}

/** The key @opentelemetry/api keeps a context's span under (createContextKey is Symbol.for). */
const spanKey = createContextKey("OpenTelemetry Context Key SPAN");

/**
 * `parent` with `span` as its span: what trace.setSpan gives, without copying the parent's values into
 * a new Map (and making three closures) for every span. Setting or deleting a value makes the API's
 * own context.
 */
class SpanInContext implements Context {
  constructor(
    private readonly parent: Context,
    private readonly span: Span,
  ) {}

  getValue(key: symbol): unknown {
    return key === spanKey ? this.span : this.parent.getValue(key);
  }

  setValue(key: symbol, value: unknown): Context {
    return this.parent.setValue(spanKey, this.span).setValue(key, value);
  }

  deleteValue(key: symbol): Context {
    return key === spanKey
      ? this.parent.deleteValue(spanKey)
      : this.parent.setValue(spanKey, this.span).deleteValue(key);
  }
}

/** Spans tracing lost since it started, by why. */
export interface SpansLost {
  /** Ended while the batch queue was full (`OTEL_BSP_MAX_QUEUE_SIZE`). */
  queueFull: number;
  /** In exports that failed after the exporter's retries (an unreachable or refusing collector). */
  exportFailed: number;
}

/** What tracing that is off (or a process that does not trace) has lost. */
export const nothingLost: Readonly<SpansLost> = Object.freeze({ queueFull: 0, exportFailed: 0 });

/** A started (or skipped) tracing setup. */
export interface Tracing {
  /** False when no exporter is configured: spans are no-ops and cost next to nothing. */
  readonly enabled: boolean;
  /** What was lost so far (zeros when tracing is off). */
  spansLost(): SpansLost;
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
}

/**
 * Turns tracing on when the standard OpenTelemetry variables ask for it: an OTLP endpoint
 * (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`; the exporter reads the other
 * `OTEL_EXPORTER_OTLP_*` variables itself, the batch processor the `OTEL_BSP_*` ones), unless
 * `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`. `OTEL_SERVICE_NAME` overrides `service`;
 * `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` choose the sampler (default
 * `parentbased_always_on`, as the spec says); `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`,
 * `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT` (or their `OTEL_ATTRIBUTE_*` forms) and
 * `OTEL_SPAN_EVENT_COUNT_LIMIT` bound what a span keeps. Trace contexts are passed explicitly (a span's
 * parent is always given), never kept in an async context. Spans go out in batches over OTLP/HTTP as
 * protobuf (the spec's default; encoded in about a third of JSON's CPU time and bytes), each encoded as
 * it ends (OtlpSpanBatch), or through the SDK's batch processor and exporter as JSON when
 * `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` (or `OTEL_EXPORTER_OTLP_PROTOCOL`) is `http/json`; `exporter`
 * (tests) receives each span as it ends instead. W3C `traceparent` is the propagation format.
 * NOA makes its spans itself (RecordedSpan), deciding them as the SDK's samplers would, and hands them to
 * the SDK's span processors and OTLP exporters.
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
  if (!exporter && (!endpoint || disabled)) {
    return { enabled: false, spansLost: () => nothingLost, shutdown: async () => {} };
  }
  const limit = (names: string[], fallback: number) => {
    const value = Number(names.map((name) => env[name]?.trim()).find(Boolean));
    return Number.isInteger(value) && value >= 0 ? value : fallback;
  };
  const attributeCountLimit = limit(["OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT"], 128);
  const attributeValueLengthLimit = limit(
    ["OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"],
    Number.POSITIVE_INFINITY,
  );
  const resource = defaultResource().merge(
    resourceFromAttributes({ "service.name": env.OTEL_SERVICE_NAME || service }),
  );
  const scope = { name: "noa" };
  const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL;
  // The SDK's batch processor reports the spans it drops only as a self-observability metric, and no
  // processor counts failed exports: the exporter counts those.
  let queueFull = 0;
  let exportFailed = 0;
  // The processor reads OTEL_BSP_* itself and hands this on to the SDK's processor, which takes it.
  const countingQueueFull: BufferConfig & SpanProcessorOptions = {
    selfObsMeterProvider: queueFullMeter((spans) => {
      queueFull += spans;
    }),
  };
  const counted = (inner: SpanExporter): SpanExporter => ({
    export: (spans, done) =>
      inner.export(spans, (result) => {
        if (result.code !== ExportResultCode.SUCCESS) exportFailed += spans.length;
        done(result);
      }),
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  });
  const processor = exporter
    ? new SimpleSpanProcessor(counted(exporter))
    : protocol === "http/json"
      ? new BatchSpanProcessor(counted(new OTLPJsonTraceExporter()), countingQueueFull)
      : new OtlpSpanBatch(resource, scope, createOtlpBatchSender(), batchLimitsFrom(env));
  const sink: SpanSink = {
    resource,
    scope,
    attributeCountLimit,
    attributeValueLengthLimit: attributeValueLengthLimit > 0 ? attributeValueLengthLimit : Infinity,
    eventCountLimit: limit(["OTEL_SPAN_EVENT_COUNT_LIMIT"], 128),
    end: (span) => processor.onEnd(span),
  };
  setup = { sampling: samplingFrom(env), sink, propagator: new W3CTraceContextPropagator() };
  return {
    enabled: true,
    spansLost: () =>
      processor instanceof OtlpSpanBatch
        ? { queueFull: processor.dropped, exportFailed: processor.failed }
        : { queueFull, exportFailed },
    shutdown: () => processor.shutdown(),
  };
}

/**
 * A meter provider for the SDK batch processor's self-observability metrics that hears only what it
 * drops for a full queue (`otel.sdk.processor.span.processed` with `error.type` `queue_full`) and tells
 * `dropped`; every other instrument is a no-op.
 */
function queueFullMeter(dropped: (spans: number) => void): MeterProvider {
  const meter = createNoopMeter();
  const noopCounter = meter.createCounter("");
  meter.createCounter = (name) =>
    name === "otel.sdk.processor.span.processed"
      ? {
          add: (value, attributes) => {
            if (attributes?.["error.type"] === "queue_full") dropped(value);
          },
        }
      : noopCounter;
  return { getMeter: () => meter };
}

/**
 * How the sampler `OTEL_TRACES_SAMPLER` names decides (with `OTEL_TRACES_SAMPLER_ARG`, a ratio in [0, 1],
 * default 1; an unknown name gives the default, `parentbased_always_on`): the same decisions as the
 * SDK's AlwaysOn, AlwaysOff, TraceIdRatioBased and ParentBased samplers (tracing.test.ts compares them).
 */
export function samplingFrom(env: NodeJS.ProcessEnv): Sampling {
  const arg = env.OTEL_TRACES_SAMPLER_ARG?.trim() ? Number(env.OTEL_TRACES_SAMPLER_ARG) : Number.NaN;
  const ratio = arg >= 0 && arg <= 1 ? arg : 1;
  // TraceIdRatioBasedSampler's own bound for `ratio`.
  const ratioBound = ratio === 1 ? 0x100000000 : Math.floor(ratio * 0xffffffff);
  switch (env.OTEL_TRACES_SAMPLER?.trim().toLowerCase()) {
    case "always_on":
      return { parentBased: false, rootBound: 0x100000000 };
    case "always_off":
      return { parentBased: false, rootBound: 0 };
    case "traceidratio":
      return { parentBased: false, rootBound: ratioBound };
    case "parentbased_always_off":
      return { parentBased: true, rootBound: 0 };
    case "parentbased_traceidratio":
      return { parentBased: true, rootBound: ratioBound };
    default:
      return { parentBased: true, rootBound: 0x100000000 };
  }
}

type HeaderSource = Headers | Record<string, string | string[] | undefined>;

/** The trace context a request carries (`traceparent`, `tracestate`), or none. */
export function extractTraceContext(headers: HeaderSource): Context {
  if (!setup) return ROOT_CONTEXT;
  return setup.propagator.extract(ROOT_CONTEXT, headers, headerGetter);
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
  setup?.propagator.inject(from, headers, defaultTextMapSetter);
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
  const current = setup ? trace.getSpan(parent) : offSpan;
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
 * The span is decided as the SDK's tracer decides it (samplingFrom's sampler): a new trace's root by
 * its trace id, drawn first (without hex parsing: the bound is applied to the drawn words), and a span
 * with a parent by the parent's flag (parent-based samplers) or its trace id. A dropped one records
 * nothing but carries its trace on (a new root's ids are written only if asked for); under suppressed
 * tracing the span is the API's invalid one.
 */
export function startSpan(
  name: string,
  options: { attributes?: Attributes; kind?: SpanKind; parent: Context },
): { span: Span; within: Context } {
  const { parent } = options;
  if (!setup) return { span: offSpan, within: parent };
  const span = open(setup, name, parent, options.kind, options.attributes, nowMs());
  return { span, within: new SpanInContext(parent, span) };
}

/** A new span under `parent`, started at `startMs`: recorded when sampled, else one that records nothing. */
function open(
  { sampling, sink }: NonNullable<typeof setup>,
  name: string,
  parent: Context,
  kind: SpanKind = SpanKind.INTERNAL,
  attributes: Attributes | undefined,
  startMs: number,
): Span {
  if (isTracingSuppressed(parent)) return offSpan;
  const parentSpan = trace.getSpan(parent);
  let ids: SpanIds;
  let parentOf: RecordedSpan | SpanContext | undefined;
  if (parentSpan instanceof RecordedSpan) {
    // One of these is sampled and valid by construction: its children are too, under any sampler
    // (a trace-id ratio gives its trace the same answer).
    ids = newSpanIds(parentSpan.ids.trace, parentSpan.ids.traceState);
    parentOf = parentSpan;
  } else {
    const parentContext = parentSpan?.spanContext();
    if (parentContext === undefined || !isSpanContextValid(parentContext)) {
      const w0 = randomWord();
      const w1 = randomWord();
      const w2 = randomWord();
      let w3 = randomWord();
      if ((w0 | w1 | w2 | w3) === 0) w3 = 1;
      const words = new TraceWords(w0, w1, w2, w3);
      if (words.ratioWord >= sampling.rootBound) return new UnsampledRoot(words);
      ids = newSpanIds(words);
    } else {
      const words = TraceWords.fromHex(parentContext.traceId);
      const sampled = sampling.parentBased
        ? (parentContext.traceFlags & TraceFlags.SAMPLED) !== 0
        : words.ratioWord < sampling.rootBound;
      ids = newSpanIds(words, parentContext.traceState);
      if (!sampled) {
        const { traceId, traceState } = parentContext;
        return trace.wrapSpanContext({
          traceId,
          spanId: ids.spanIdHex,
          traceFlags: TraceFlags.NONE,
          traceState,
        });
      }
      parentOf = parentContext;
    }
  }
  const span = new RecordedSpan(ids, name, kind, parentOf, startMs, sink);
  if (attributes) span.setAttributes(attributes);
  return span;
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
  if (!setup || !tracesUnder(options.parent)) return;
  const end = nowMs();
  const span = open(setup, name, options.parent, options.kind, options.attributes, end - options.durationMs);
  if (!span.isRecording()) return;
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
  if (span instanceof UnsampledRoot) return false;
  const spanContext = span.spanContext();
  return spanContext.isRemote === true || (spanContext.traceFlags & TraceFlags.SAMPLED) !== 0;
}

/** Marks `span` failed with the error's type (never its message: it may carry upstream text). */
export function failSpan(span: Span, error: unknown): void {
  const type = error instanceof Error ? error.name : typeof error;
  span.setStatus({ code: SpanStatusCode.ERROR, message: type });
  span.setAttribute("error.type", type);
}
