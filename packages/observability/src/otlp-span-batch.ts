import {
  type Attributes,
  type AttributeValue,
  type HrTime,
  type SpanContext,
  TraceFlags,
  type TraceState,
} from "@opentelemetry/api";
import { type ExportResult, ExportResultCode, type InstrumentationScope } from "@opentelemetry/core";
import { OTLPExporterBase } from "@opentelemetry/otlp-exporter-base";
import {
  convertLegacyHttpOptions,
  createOtlpHttpExportDelegate,
} from "@opentelemetry/otlp-exporter-base/node-http";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import type { Resource } from "@opentelemetry/resources";
import type { SpanProcessor } from "@opentelemetry/sdk-trace-node";
import { ProtoWriter, varintSize } from "./proto-writer.js";
import { RecordedSpan } from "./recorded-span.js";
import type { SpanIds } from "./span-ids.js";

/** An encoded batch: an ExportTraceServiceRequest's bytes, and how many spans it carries. */
interface Batch {
  bytes: Uint8Array;
  spans: number;
}

/** Sends a batch's bytes over OTLP/HTTP: what the SDK's protobuf exporter does after encoding. */
export type BatchSender = Pick<OTLPExporterBase<Batch>, "export" | "shutdown">;

/** The batch limits, as the SDK's BatchSpanProcessor reads them (`OTEL_BSP_*`, the same defaults). */
export interface BatchLimits {
  scheduledDelayMs: number;
  maxQueueSize: number;
  maxExportBatchSize: number;
}

export function batchLimitsFrom(env: NodeJS.ProcessEnv): BatchLimits {
  const read = (name: string, fallback: number) => {
    const value = Number(env[name]?.trim() || Number.NaN);
    return Number.isFinite(value) && value >= 0 ? value : fallback;
  };
  const maxQueueSize = Math.max(1, read("OTEL_BSP_MAX_QUEUE_SIZE", 2048));
  return {
    scheduledDelayMs: read("OTEL_BSP_SCHEDULE_DELAY", 5000),
    maxQueueSize,
    maxExportBatchSize: Math.min(maxQueueSize, Math.max(1, read("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512))),
  };
}

/**
 * The SDK's OTLP/HTTP protobuf sender, configured from the `OTEL_EXPORTER_OTLP_*` variables as its
 * OTLPTraceExporter is (endpoint, headers, timeout, compression, retries), sending bytes already encoded.
 */
export function createOtlpBatchSender(): BatchSender {
  return new OTLPExporterBase<Batch>(
    createOtlpHttpExportDelegate(
      convertLegacyHttpOptions({}, "TRACES", "v1/traces", { "Content-Type": "application/x-protobuf" }),
      {
        serializeRequest: (batch: Batch) => batch.bytes,
        deserializeResponse: ProtobufTraceSerializer.deserializeResponse,
      },
      "otlp_http_span_exporter",
      { name: "span", countItems: (batch: Batch) => batch.spans },
      undefined,
    ),
  );
}

/**
 * A span processor that encodes each sampled span as OTLP protobuf the moment it ends, and sends the
 * bytes in batches, under the limits the SDK's BatchSpanProcessor honours (`OTEL_BSP_*`: a batch goes
 * after the schedule delay or once it holds the export batch size; spans past the queue size, counting
 * those being sent, are dropped; `dropped` and `failed` count what was lost). The SDK's processor
 * keeps ended spans as objects until their batch goes (by default up to 5 s), long enough for the
 * collector to copy them out of the young generation and into the old one, where a full collection has
 * to find them dead: here a span is garbage as soon as it has ended. The request is byte for byte what
 * the SDK's serializer writes for the same spans (otlp-span-batch.test.ts compares them). One resource
 * and scope (NOA's) for every span.
 */
export class OtlpSpanBatch implements SpanProcessor {
  private readonly writer = new ProtoWriter();
  private waiting = 0;
  private sending = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;
  /** The request's fixed part: ResourceSpans' resource field, and ScopeSpans' scope field. */
  private readonly resourceField: Uint8Array;
  private readonly scopeField: Uint8Array;
  /** Spans dropped because the queue was full. */
  dropped = 0;
  /** Spans in batches the sender gave up on (after its retries). */
  failed = 0;

  constructor(
    resource: Resource,
    scope: InstrumentationScope,
    private readonly sender: BatchSender,
    private readonly limits: BatchLimits,
  ) {
    this.resourceField = fieldBytes((writer) => writeResource(writer, resource));
    this.scopeField = fieldBytes((writer) => writeScope(writer, scope));
  }

  onStart(): void {}

  /** Takes NOA's spans only: a RecordedSpan is sampled by construction and keeps its ids as words. */
  onEnd(span: RecordedSpan): void {
    if (this.closed) return;
    if (this.waiting + this.sending >= this.limits.maxQueueSize) {
      this.dropped++;
      return;
    }
    this.writer.tag(2, 2);
    writeSpan(this.writer, span);
    this.waiting++;
    if (this.waiting >= this.limits.maxExportBatchSize) this.send();
    else if (this.timer === undefined) {
      this.timer = setTimeout(this.send, this.limits.scheduledDelayMs);
      this.timer.unref();
    }
  }

  /** Sends what waits, and resolves when every batch sent so far has been answered. */
  async forceFlush(): Promise<void> {
    this.send();
    await Promise.all(this.inFlight);
  }

  async shutdown(): Promise<void> {
    if (this.closed) return;
    await this.forceFlush();
    this.closed = true;
    await this.sender.shutdown();
  }

  private readonly send = (): void => {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.waiting === 0) return;
    // request() copies the spans out: the writer's buffer is written over by the next batch.
    const batch = { bytes: this.request(), spans: this.waiting };
    this.writer.pos = 0;
    this.sending += batch.spans;
    this.waiting = 0;
    const sent = new Promise<void>((resolve) => {
      this.sender.export(batch, (result: ExportResult) => {
        // A failed batch is dropped, as the SDK's processor drops it (the sender has retried it).
        if (result.code !== ExportResultCode.SUCCESS) this.failed += batch.spans;
        this.sending -= batch.spans;
        resolve();
      });
    });
    this.inFlight.add(sent);
    void sent.then(() => this.inFlight.delete(sent));
  };

  /** ExportTraceServiceRequest { resource_spans: [{ resource, scope_spans: [{ scope, spans }] }] }. */
  private request(): Uint8Array {
    const spans = this.writer.bytes.subarray(0, this.writer.pos);
    const scopeSpans = this.scopeField.length + spans.length;
    const resourceSpans = this.resourceField.length + 1 + varintSize(scopeSpans) + scopeSpans;
    const out = new ProtoWriter(1 + varintSize(resourceSpans) + resourceSpans);
    out.tag(1, 2);
    out.varint(resourceSpans);
    out.raw(this.resourceField);
    out.tag(2, 2);
    out.varint(scopeSpans);
    out.raw(this.scopeField);
    out.raw(spans);
    return out.bytes.subarray(0, out.pos);
  }
}

function fieldBytes(write: (writer: ProtoWriter) => void): Uint8Array {
  const writer = new ProtoWriter(1024);
  write(writer);
  return writer.bytes.slice(0, writer.pos);
}

/** Resource (field 1 of ResourceSpans): attributes, dropped_attributes_count 0. */
function writeResource(writer: ProtoWriter, resource: Resource): void {
  writer.tag(1, 2);
  const at = writer.begin();
  writeAttributes(writer, resource.attributes, 1);
  writer.tag(2, 0);
  writer.varint(0);
  writer.end(at);
}

/** InstrumentationScope (field 1 of ScopeSpans): name, version (NOA's scope has no attributes or schema URL). */
function writeScope(writer: ProtoWriter, scope: InstrumentationScope): void {
  writer.tag(1, 2);
  const at = writer.begin();
  writer.tag(1, 2);
  writer.string(scope.name);
  if (scope.version) {
    writer.tag(2, 2);
    writer.string(scope.version);
  }
  writer.end(at);
}

/** Span flags: the W3C flags, and whether the parent was remote (OTLP's SpanFlags). */
function spanFlags(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 0xff) | 0x100 | (isRemote ? 0x200 : 0);
}

/** A span's or link's first three fields: trace_id, span_id and trace_state (when there is one). */
function writeIds(writer: ProtoWriter, context: SpanContext): void {
  writer.tag(1, 2);
  writer.hex(context.traceId);
  writer.tag(2, 2);
  writer.hex(context.spanId);
  writeTraceState(writer, context.traceState);
}

/** A RecordedSpan's trace_id, span_id and trace_state, from the words its ids are kept as. */
function writeRecordedIds(writer: ProtoWriter, ids: SpanIds): void {
  const { trace } = ids;
  writer.tag(1, 2);
  writer.varint(16);
  writer.word(trace.w0);
  writer.word(trace.w1);
  writer.word(trace.w2);
  writer.word(trace.w3);
  writeSpanIdWords(writer, 2, ids);
  writeTraceState(writer, ids.traceState);
}

/** A span id (`field`: span_id or parent_span_id) from its two words. */
function writeSpanIdWords(writer: ProtoWriter, field: number, { high, low }: SpanIds): void {
  writer.tag(field, 2);
  writer.varint(8);
  writer.word(high);
  writer.word(low);
}

/** trace_state (field 3 of a span or link), when there is one. */
function writeTraceState(writer: ProtoWriter, traceState: TraceState | undefined): void {
  const text = traceState?.serialize();
  if (text) {
    writer.tag(3, 2);
    writer.string(text);
  }
}

/** One Span message, its fields in the SDK serializer's order. */
function writeSpan(writer: ProtoWriter, span: RecordedSpan): void {
  const at = writer.begin();
  writeRecordedIds(writer, span.ids);
  const { parent } = span;
  // A parent of this process (a RecordedSpan) is never remote; a parent's context says whether it is.
  let remoteParent = false;
  if (parent instanceof RecordedSpan) {
    writeSpanIdWords(writer, 4, parent.ids);
  } else if (parent) {
    remoteParent = parent.isRemote === true;
    if (parent.spanId) {
      writer.tag(4, 2);
      writer.hex(parent.spanId);
    }
  }
  writer.tag(5, 2);
  writer.string(span.name);
  writer.tag(6, 0);
  writer.varint(span.kind + 1);
  writeTimeMs(writer, 7, span.startMs);
  writeTimeMs(writer, 8, span.endTimeMs);
  const { attributeKeys, attributeValues } = span;
  for (let index = 0; index < attributeKeys.length; index++) {
    writeKeyValue(writer, 9, attributeKeys[index] as string, attributeValues[index]);
  }
  writer.tag(10, 0);
  writer.varint(span.droppedAttributesCount);
  for (const event of span.events) {
    writer.tag(11, 2);
    const eventAt = writer.begin();
    writeTime(writer, 1, event.time);
    writer.tag(2, 2);
    writer.string(event.name);
    if (event.attributes) writeAttributes(writer, event.attributes, 3);
    writer.tag(4, 0);
    writer.varint(event.droppedAttributesCount ?? 0);
    writer.end(eventAt);
  }
  writer.tag(12, 0);
  writer.varint(span.droppedEventsCount);
  for (const link of span.links) {
    writer.tag(13, 2);
    writeLink(writer, link.context, link.attributes, link.droppedAttributesCount);
  }
  writer.tag(14, 0);
  writer.varint(span.droppedLinksCount);
  writer.tag(15, 2);
  const statusAt = writer.begin();
  if (span.status.message) {
    writer.tag(2, 2);
    writer.string(span.status.message);
  }
  writer.tag(3, 0);
  writer.varint(span.status.code);
  writer.end(statusAt);
  writer.tag(16, 5);
  writer.fixed32(spanFlags(TraceFlags.SAMPLED, remoteParent));
  writer.end(at);
}

function writeLink(
  writer: ProtoWriter,
  context: SpanContext,
  attributes: Attributes | undefined,
  dropped: number | undefined,
): void {
  const at = writer.begin();
  writeIds(writer, context);
  if (attributes) writeAttributes(writer, attributes, 4);
  writer.tag(5, 0);
  writer.varint(dropped ?? 0);
  writer.tag(6, 5);
  writer.fixed32(spanFlags(context.traceFlags, context.isRemote));
  writer.end(at);
}

function writeTime(writer: ProtoWriter, field: number, [seconds, nanos]: HrTime): void {
  writer.tag(field, 1);
  writer.fixed64Nanos(seconds, nanos);
}

/** Epoch milliseconds as the HrTime the SDK's millisToHrTime makes of them, without making it. */
function writeTimeMs(writer: ProtoWriter, field: number, ms: number): void {
  writer.tag(field, 1);
  writer.fixed64Nanos(Math.trunc(ms / 1000), Math.round((ms % 1000) * 1e6));
}

/** Attributes as repeated KeyValue under `field`. */
function writeAttributes(writer: ProtoWriter, attributes: Attributes, field: number): void {
  for (const key in attributes) {
    if (Object.hasOwn(attributes, key)) writeKeyValue(writer, field, key, attributes[key]);
  }
}

/** One KeyValue under `field`. */
function writeKeyValue(
  writer: ProtoWriter,
  field: number,
  key: string,
  value: AttributeValue | null | undefined,
): void {
  writer.tag(field, 2);
  const at = writer.begin();
  writer.tag(1, 2);
  writer.string(key);
  writer.tag(2, 2);
  const valueAt = writer.begin();
  writeAnyValue(writer, value);
  writer.end(valueAt);
  writer.end(at);
}

const minInt64 = -(2 ** 63);
const maxInt64 = 2 ** 63;

/** AnyValue: a string, bool, int64 (an integer in range), double, or array of them. */
function writeAnyValue(writer: ProtoWriter, value: AttributeValue | null | undefined): void {
  if (typeof value === "string") {
    writer.tag(1, 2);
    writer.string(value);
  } else if (typeof value === "boolean") {
    writer.tag(2, 0);
    writer.varint(value ? 1 : 0);
  } else if (typeof value === "number") {
    if (Number.isInteger(value) && value >= minInt64 && value < maxInt64) {
      writer.tag(3, 0);
      writer.varint(value);
    } else {
      writer.tag(4, 1);
      writer.double(value);
    }
  } else if (Array.isArray(value)) {
    writer.tag(5, 2);
    const at = writer.begin();
    for (const item of value) {
      writer.tag(1, 2);
      const itemAt = writer.begin();
      writeAnyValue(writer, item);
      writer.end(itemAt);
    }
    writer.end(at);
  }
}
