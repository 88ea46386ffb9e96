/** For tests: a span exporter that keeps every finished span in memory (pass it to startTracing). */
export { InMemorySpanExporter } from "@opentelemetry/sdk-trace-node";
export { type ExportedSpan, type OtlpKeyValue, startOtlpCollector } from "./start-otlp-collector.js";
