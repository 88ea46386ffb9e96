import {
  type Attributes,
  type AttributeValue,
  type Exception,
  type HrTime,
  type Link,
  type Span,
  type SpanContext,
  type SpanKind,
  type SpanStatus,
  SpanStatusCode,
  type TimeInput,
  TraceFlags,
} from "@opentelemetry/api";
import {
  hrTimeDuration,
  hrTimeToMilliseconds,
  type InstrumentationScope,
  isAttributeValue,
  isTimeInput,
  millisToHrTime,
  sanitizeAttributes,
  timeInputToHrTime,
} from "@opentelemetry/core";
import type { Resource } from "@opentelemetry/resources";
import type { ReadableSpan, TimedEvent } from "@opentelemetry/sdk-trace-node";
import type { SpanIds } from "./span-ids.js";

/** What the spans of one tracing setup share: where they go when they end, and their limits. */
export interface SpanSink {
  readonly resource: Resource;
  readonly scope: InstrumentationScope;
  /** Attributes per span (and per event); further new keys are counted as dropped. */
  readonly attributeCountLimit: number;
  /** String attribute values (and strings in arrays) are cut to this length. */
  readonly attributeValueLengthLimit: number;
  /** Events per span; past it the oldest is dropped. */
  readonly eventCountLimit: number;
  /** Called once, when the span ends (a span processor's onEnd). */
  end(span: RecordedSpan): void;
}

/** When performance's clock started, in epoch milliseconds (a getter that calls into Node each time). */
const timeOrigin = performance.timeOrigin;

/** Now, in epoch milliseconds with sub-millisecond precision (performance's clock, anchored once). */
export const nowMs = (): number => timeOrigin + performance.now();

/**
 * A TimeInput in epoch milliseconds, as the SDK reads it (timeInputToHrTime): a number below half the
 * time origin is performance.now()'s, a larger one epoch milliseconds; numbers are read without making
 * HrTimes.
 */
function epochMsOf(time: TimeInput): number {
  if (typeof time === "number") return time < timeOrigin / 2 ? timeOrigin + time : time;
  return hrTimeToMilliseconds(timeInputToHrTime(time));
}

/**
 * A sampled span: what the OpenTelemetry SDK's span records (name, kind, parent, times, attributes,
 * events, links, status, with the SDK's rules for limits, status and what happens after the end), kept
 * in plain fields, its times as epoch milliseconds and its ids as numbers (`ids`) until something asks
 * for them in the API's forms (HrTime, hex), and its attributes as two arrays, keys and values, until
 * something asks for them as an object. It is a ReadableSpan, so the SDK's span processors and
 * exporters take it as it is. NOA makes these itself rather than through the SDK's tracer, which does
 * generic work every span pays for (per-span closures and clock anchoring, attribute sanitizing of every
 * option, hex ids written for every span and checked by regular expressions for every child,
 * diagnostics and span metrics).
 */
export class RecordedSpan implements Span, ReadableSpan {
  /** The attributes' keys, in the order they were first set (what an object would keep). */
  readonly attributeKeys: string[] = [];
  /** The value of each key in attributeKeys, at the same index. */
  readonly attributeValues: AttributeValue[] = [];
  readonly links: Link[] = [];
  readonly events: TimedEvent[] = [];
  status: SpanStatus = { code: SpanStatusCode.UNSET };
  droppedAttributesCount = 0;
  droppedEventsCount = 0;
  droppedLinksCount = 0;
  /** Epoch ms; -1 until the span ends. */
  private endMs = -1;
  private context: SpanContext | undefined;

  /**
   * `parent`: the span it was made under when that is one of these (its ids are read from there), else
   * the parent's context (a remote caller's), or none for a trace's root.
   */
  constructor(
    readonly ids: SpanIds,
    public name: string,
    readonly kind: SpanKind,
    readonly parent: RecordedSpan | SpanContext | undefined,
    readonly startMs: number,
    private readonly sink: SpanSink,
  ) {}

  spanContext(): SpanContext {
    if (this.context === undefined) {
      const { trace, traceState } = this.ids;
      this.context = { traceId: trace.hex, spanId: this.ids.spanIdHex, traceFlags: TraceFlags.SAMPLED };
      if (traceState) this.context.traceState = traceState;
    }
    return this.context;
  }

  get parentSpanContext(): SpanContext | undefined {
    return this.parent instanceof RecordedSpan ? this.parent.spanContext() : this.parent;
  }

  get startTime(): HrTime {
    return millisToHrTime(this.startMs);
  }

  /** Epoch ms of the end; -1 until the span ends. */
  get endTimeMs(): number {
    return this.endMs;
  }

  get endTime(): HrTime {
    return this.endMs < 0 ? [0, 0] : millisToHrTime(this.endMs);
  }

  get duration(): HrTime {
    return this.endMs < 0 ? [-1, -1] : hrTimeDuration(this.startTime, this.endTime);
  }

  get ended(): boolean {
    return this.endMs >= 0;
  }

  /** The attributes as the API's object (made on each read: NOA's own exporter reads the arrays). */
  get attributes(): Attributes {
    const attributes: Attributes = {};
    for (let index = 0; index < this.attributeKeys.length; index++) {
      attributes[this.attributeKeys[index] as string] = this.attributeValues[index];
    }
    return attributes;
  }

  get resource(): Resource {
    return this.sink.resource;
  }

  get instrumentationScope(): InstrumentationScope {
    return this.sink.scope;
  }

  isRecording(): boolean {
    return this.endMs < 0;
  }

  setAttribute(key: string, value: AttributeValue | undefined): this {
    if (value == null || this.endMs >= 0 || key.length === 0 || !isAttributeValue(value)) return this;
    const keys = this.attributeKeys;
    // A span has a handful of attributes: a scan beats a keyed store into an object per span.
    const at = keys.indexOf(key);
    if (at !== -1) {
      this.attributeValues[at] = this.truncated(value);
    } else if (keys.length >= this.sink.attributeCountLimit) {
      this.droppedAttributesCount++;
    } else {
      keys.push(key);
      this.attributeValues.push(this.truncated(value));
    }
    return this;
  }

  setAttributes(attributes: Attributes): this {
    for (const key of Object.keys(attributes)) this.setAttribute(key, attributes[key]);
    return this;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.endMs >= 0) return this;
    const { eventCountLimit, attributeCountLimit } = this.sink;
    if (eventCountLimit === 0) {
      this.droppedEventsCount++;
      return this;
    }
    if (this.events.length >= eventCountLimit) {
      this.events.shift();
      this.droppedEventsCount++;
    }
    let at = time;
    let given: Attributes | undefined;
    if (isTimeInput(attributesOrTime)) at ??= attributesOrTime;
    else given = attributesOrTime;
    const attributes: Attributes = {};
    let droppedAttributesCount = 0;
    let count = 0;
    for (const [key, value] of Object.entries(sanitizeAttributes(given))) {
      if (count >= attributeCountLimit) droppedAttributesCount++;
      else {
        attributes[key] = this.truncated(value as AttributeValue);
        count++;
      }
    }
    const eventMs = at === undefined ? nowMs() : epochMsOf(at);
    this.events.push({ name, attributes, time: millisToHrTime(eventMs), droppedAttributesCount });
    return this;
  }

  addLink(link: Link): this {
    this.links.push(link);
    return this;
  }

  addLinks(links: Link[]): this {
    this.links.push(...links);
    return this;
  }

  /** As the SDK: UNSET is ignored, OK is final, a message is kept only with ERROR. */
  setStatus(status: SpanStatus): this {
    if (this.endMs >= 0 || status.code === SpanStatusCode.UNSET) return this;
    if (this.status.code === SpanStatusCode.OK) return this;
    this.status =
      status.code === SpanStatusCode.ERROR && typeof status.message === "string"
        ? { code: status.code, message: status.message }
        : { code: status.code };
    return this;
  }

  updateName(name: string): this {
    if (this.endMs < 0) this.name = name;
    return this;
  }

  /** Ends the span (now, or at `endTime`, never before its start) and hands it to the sink; once. */
  end(endTime?: TimeInput): void {
    if (this.endMs >= 0) return;
    const at = endTime === undefined ? nowMs() : epochMsOf(endTime);
    this.endMs = Math.max(at, this.startMs);
    this.sink.end(this);
  }

  /**
   * An `exception` event with the exception's type only: NOA keeps error messages out of its spans
   * (they may carry upstream or user text).
   */
  recordException(exception: Exception, time?: TimeInput): void {
    const type =
      typeof exception === "string"
        ? "string"
        : (exception.name ?? (exception.code === undefined ? "Error" : String(exception.code)));
    this.addEvent("exception", { "exception.type": type }, time);
  }

  private truncated(value: AttributeValue): AttributeValue {
    const limit = this.sink.attributeValueLengthLimit;
    if (typeof value === "string") return value.length > limit ? value.slice(0, limit) : value;
    if (Array.isArray(value) && limit < Number.POSITIVE_INFINITY) {
      return value.map((item) =>
        typeof item === "string" && item.length > limit ? item.slice(0, limit) : item,
      ) as AttributeValue;
    }
    return value;
  }
}
