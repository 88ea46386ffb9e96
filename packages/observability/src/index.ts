export { bearerMatches } from "./bearer-matches.js";
export { correlationIdFrom, correlationIdHeader } from "./correlation-id-from.js";
export { type CreateLoggerOptions, createLogger, redact } from "./create-logger.js";
export {
  createReadiness,
  type DependencyCheck,
  DependencyDown,
  type DependencyState,
  type ReadinessReport,
} from "./create-readiness.js";
export { createSpansDroppedCounter } from "./create-spans-dropped-counter.js";
export { elapsedMs } from "./elapsed-ms.js";
export { FoldedCounter, type FoldedCounterConfig } from "./folded-counter.js";
export { FoldedHistogram, type FoldedHistogramConfig } from "./folded-histogram.js";
export { instrumentModelRegistry, type ModelCallObserver } from "./instrument-model-registry.js";
export { logRequestLine, type RequestLineFields } from "./log-request-line.js";
export { maskSensitiveText, passesLuhn } from "./mask-sensitive-text.js";
export { secretsFromEnv } from "./secrets-from-env.js";
export { startShutdownDeadline } from "./start-shutdown-deadline.js";
export {
  type Context,
  extractTraceContext,
  failSpan,
  injectTraceContext,
  inSpan,
  isSampledHere,
  ROOT_CONTEXT,
  recordSpan,
  type Span,
  SpanKind,
  SpanStatusCode,
  type SpansLost,
  startSpan,
  startTracing,
  type Tracing,
  trace,
  tracesUnder,
} from "./tracing.js";
