import { openSync } from "node:fs";
import { type DestinationStream, type Logger, type LoggerOptions, pino } from "pino";
import { LineBatch } from "./line-batch.js";
import { maskSensitiveText } from "./mask-sensitive-text.js";

/** Field names whose values are never written, at any depth (matched whole, case-insensitively). */
const secretField =
  /^(?:authorization|proxy-authorization|cookie|set-cookie|x-api-key|api[-_]?key|key|password|passwd|secret|[a-z_-]*secret|token|access[-_]?token|refresh[-_]?token|id[-_]?token|private[-_]?key|master[-_]?key|signing[-_]?key)$/i;

export interface CreateLoggerOptions {
  /** The app, on every line as `service`. */
  service: string;
  level?: string;
  /** On every line as `env`; defaults to NODE_ENV or `production`. */
  env?: string;
  /** Human-readable lines through pino-pretty (development only). */
  pretty?: boolean;
  /** A file to write lines to instead of stdout (written the same way). */
  file?: string;
  /** A stream that takes every line as it is logged (tests). */
  destination?: DestinationStream;
  /**
   * Values never written, whatever their shape (secretsFromEnv: the app's provider keys, secrets,
   * tokens, URL passwords), replaced by `[redacted:secret]` in the message and every field and error.
   */
  secrets?: readonly string[];
}

/**
 * The structured logger of every NOA app: JSON lines with `service` and `env`, and nothing sensitive
 * written. Fields named like credentials (`authorization`, `apiKey`, `password`, `*secret`, `token`…)
 * are replaced at any depth, and every string — the message, field values, error messages and
 * stacks — is masked for keys, tokens, e-mail addresses, card and phone numbers (maskSensitiveText).
 *
 * Writes are asynchronous and batched: lines go out together at most 20 ms after they are logged
 * (LineBatch), instead of a blocking write(2) per line on the request path. What is waiting is written
 * when the process exits (also on an uncaught error); only a SIGKILL can lose the last lines.
 */
export function createLogger({
  service,
  level = "info",
  env = process.env.NODE_ENV ?? "production",
  pretty = false,
  file,
  destination,
  secrets = [],
}: CreateLoggerOptions): Logger {
  const scrub = secrets.length > 0 ? secretScrubber(secrets) : undefined;
  const options: LoggerOptions = {
    level,
    base: { service, env },
    formatters: { log: (object) => redact(object, 0, scrub) as Record<string, unknown> },
    // redact() has already turned errors into plain, masked objects (type, message, stack, code).
    serializers: { err: (error: unknown) => error },
    hooks: {
      logMethod(args, method) {
        // The message is the first string argument (after an optional merging object).
        const index = typeof args[0] === "string" ? 0 : 1;
        const message = args[index];
        if (typeof message === "string") args[index] = maskSensitiveText(scrub ? scrub(message) : message);
        method.apply(this, args as Parameters<typeof method>);
      },
    },
  };
  if (pretty) return pino({ ...options, transport: { target: "pino-pretty" } });
  if (destination) return pino(options, destination);
  // The file opened now, not as sonic-boom would, on a later turn: a process that ends sooner keeps its lines.
  const dest = file === undefined ? 1 : openSync(file, "a");
  return pino(options, new LineBatch(pino.destination({ dest, sync: false })));
}

/**
 * `value` with secret fields replaced and every string masked; errors become plain objects. Plain
 * objects and arrays are copied only when something in them changes (a log line's fields usually hold
 * nothing to mask), other objects always become plain copies of their own fields.
 */
export function redact(value: unknown, depth = 0, scrub?: (text: string) => string): unknown {
  if (typeof value === "string") return maskSensitiveText(scrub ? scrub(value) : value);
  if (value === null || typeof value !== "object" || depth > 8) return value;
  if (value instanceof Error) {
    const error = value as Error & { code?: unknown; cause?: unknown };
    return {
      type: error.name,
      message: redact(error.message, depth, scrub) as string,
      ...(error.stack ? { stack: redact(error.stack, depth, scrub) } : {}),
      ...(error.code !== undefined ? { code: error.code } : {}),
      ...(error.cause !== undefined ? { cause: redact(error.cause, depth + 1, scrub) } : {}),
    };
  }
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let index = 0; index < value.length; index++) {
      const item: unknown = value[index];
      const masked = redact(item, depth + 1, scrub);
      if (masked === item) continue;
      copy ??= value.slice();
      copy[index] = masked;
    }
    return copy ?? value;
  }
  if (value instanceof Date) return value;
  const prototype = Object.getPrototypeOf(value);
  // A class instance (a URL, Headers, a Map) is written as the plain copy, never through its toJSON.
  let copy: Record<string, unknown> | undefined =
    prototype === Object.prototype || prototype === null ? undefined : {};
  const fields = value as Record<string, unknown>;
  const names = Object.keys(fields);
  for (let index = 0; index < names.length; index++) {
    const name = names[index] as string;
    const field = fields[name];
    const masked = field != null && isSecretField(name) ? "[redacted]" : redact(field, depth + 1, scrub);
    if (copy) copy[name] = masked;
    else if (masked !== field) {
      copy = {};
      for (let before = 0; before < index; before++) {
        const kept = names[before] as string;
        copy[kept] = fields[kept];
      }
      copy[name] = masked;
    }
  }
  return copy ?? value;
}

/** Field names seen, and whether they name a secret: a handful of names, tested once each. */
const fieldVerdicts = new Map<string, boolean>();

export function isSecretField(name: string): boolean {
  let secret = fieldVerdicts.get(name);
  if (secret === undefined) {
    secret = secretField.test(name);
    // Names come from code, but nested objects (headers, upstream bodies) may bring many: stay bounded.
    if (fieldVerdicts.size >= 4096) fieldVerdicts.clear();
    fieldVerdicts.set(name, secret);
  }
  return secret;
}

/** `text` with every one of `secrets` replaced by `[redacted:secret]` (the longest first, so none is half-replaced). */
function secretScrubber(secrets: readonly string[]): (text: string) => string {
  const longestFirst = [...secrets].sort((a, b) => b.length - a.length);
  return (text) => {
    let scrubbed = text;
    for (const secret of longestFirst) {
      if (scrubbed.includes(secret)) scrubbed = scrubbed.replaceAll(secret, "[redacted:secret]");
    }
    return scrubbed;
  };
}
