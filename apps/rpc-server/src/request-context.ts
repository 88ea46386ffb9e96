import { randomUUID } from "node:crypto";
import { createContextKey } from "@connectrpc/connect";

/** Header that carries the correlation id in both directions. */
export const correlationIdHeader = "x-correlation-id";

/** The request's correlation id, set for every call before any handler runs. */
export const correlationIdKey = createContextKey<string>("", { description: "correlation id" });

const safeCorrelationId = /^[A-Za-z0-9._:-]{1,128}$/;

/** Takes the caller's correlation id when it is a short token (so it is safe to log), else makes one. */
export function correlationIdFrom(headerValue: string | string[] | undefined): string {
  const value = Array.isArray(headerValue) ? headerValue[0] : headerValue;
  return value !== undefined && safeCorrelationId.test(value) ? value : randomUUID();
}
