import { randomUUID } from "node:crypto";

/** The header that carries a correlation id in both directions (BFF, rpc-server, webhooks). */
export const correlationIdHeader = "x-correlation-id";

const safeCorrelationId = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * A request's correlation id from its `x-correlation-id` header: the caller's when it is a short token
 * (it goes into logs and headers as is), else a new UUID.
 */
export function correlationIdFrom(headerValue: string | string[] | undefined): string {
  const value = Array.isArray(headerValue) ? headerValue[0] : headerValue;
  return value !== undefined && safeCorrelationId.test(value) ? value : randomUUID();
}
