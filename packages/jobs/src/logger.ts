/** The logging surface @noa/jobs uses (pino's, passed in by each app's composition root). */
export interface Logger {
  debug(object: object, message?: string): void;
  info(object: object | string, message?: string): void;
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
}
