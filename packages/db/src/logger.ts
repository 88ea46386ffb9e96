/** The slice of pino's API this package logs through (same shape as @noa/providers' `Logger`), so apps pass pino and tests a fake. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
