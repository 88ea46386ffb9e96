import type { SpanContext } from "@opentelemetry/api";
import { SpanIds, TraceWords, wordAt } from "../span-ids.js";

/** The ids a SpanContext spells in hex, as a RecordedSpan keeps them. */
export function spanIdsOf(context: SpanContext): SpanIds {
  return new SpanIds(
    TraceWords.fromHex(context.traceId),
    wordAt(context.spanId, 0),
    wordAt(context.spanId, 8),
    context.traceState,
  );
}
