import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

const safeCorrelationId = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * A request's correlation id: the caller's `x-correlation-id` when it is a safe token (it goes into logs
 * and headers as is), else a new UUID. Chosen once per request, before tRPC reads anything, so that even
 * a request tRPC refuses outright has one.
 */
export function correlationIdOf(headers: IncomingHttpHeaders): string {
  const incoming = headers["x-correlation-id"];
  return typeof incoming === "string" && safeCorrelationId.test(incoming) ? incoming : randomUUID();
}
