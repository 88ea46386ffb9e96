/** The slice of pino's API this package logs through (`logger.info({ modelId }, "model loaded")`), so apps pass pino and tests pass a fake. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
