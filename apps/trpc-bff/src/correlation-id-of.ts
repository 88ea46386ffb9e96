import type { IncomingHttpHeaders } from "node:http";
import { correlationIdFrom, correlationIdHeader } from "@noa/observability";

/**
 * A request's correlation id (correlationIdFrom its `x-correlation-id`). Chosen once per request, before
 * tRPC reads anything, so that even a request tRPC refuses outright has one.
 */
export function correlationIdOf(headers: IncomingHttpHeaders): string {
  return correlationIdFrom(headers[correlationIdHeader]);
}
