export { type CreateLoggerOptions, createLogger, redact } from "./create-logger.js";
export { maskSensitiveText, passesLuhn } from "./mask-sensitive-text.js";
