import {
  createTRPCClient,
  httpBatchLink,
  httpSubscriptionLink,
  splitLink,
  type TRPCClient,
  TRPCClientError,
} from "@trpc/client";
import type { AppRouter } from "../router.js";

export type {
  FieldError,
  SessionInfo,
  WebCapability,
  WebCompletion,
  WebCompletionSummary,
  WebFinishReason,
  WebJob,
  WebJobResult,
  WebJobSpec,
  WebJobState,
  WebModel,
  WebRole,
  WebStreamEvent,
  WebUsage,
  WebUsageRow,
  WebUsageSummary,
} from "../router.js";
export type { AppRouter };

type EventSourceLike = NonNullable<Parameters<typeof httpSubscriptionLink>[0]["EventSource"]>;

/** How a web app (or a Node test) reaches the BFF. */
export interface BffClientOptions {
  /** The BFF's tRPC endpoint, e.g. `/trpc` in the page or `http://127.0.0.1:3000/trpc`. */
  url: string;
  /**
   * The session's CSRF token (from `auth.session` or `auth.signIn`), sent with every mutation (as
   * `x-csrf-token`) and subscription (as the `csrfToken` connection parameter: EventSource sets no headers).
   */
  csrfToken: () => string | null | undefined;
  /** Node: a fetch that keeps cookies. Browsers: the global one, with `credentials: "same-origin"`. */
  fetch?: typeof fetch;
  /** Node has no global EventSource: pass the `eventsource` package's. */
  EventSource?: EventSourceLike;
  /** Options for each EventSource (e.g. the `eventsource` package's `fetch`). */
  eventSourceOptions?: Record<string, unknown>;
}

/** The typed client of every BFF procedure. */
export type BffClient = TRPCClient<AppRouter>;

/**
 * A tRPC client for the BFF: queries and mutations batched over HTTP (mutations carry `x-csrf-token`),
 * subscriptions over SSE (carrying the token in their URL). Import this and the `Web*` types; nothing
 * here touches Protobuf.
 */
export function createBffClient(options: BffClientOptions): BffClient {
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        true: httpSubscriptionLink({
          url: options.url,
          EventSource: options.EventSource,
          connectionParams: () => {
            const token = options.csrfToken();
            return token ? { csrfToken: token } : null;
          },
          eventSourceOptions: () => ({ withCredentials: true, ...options.eventSourceOptions }),
        }),
        false: httpBatchLink({
          url: options.url,
          fetch: options.fetch,
          headers: ({ opList }) => {
            const token = options.csrfToken();
            // Signing in has no session yet: any value proves the request came from a page that could set it.
            return opList.some((op) => op.type === "mutation") ? { "x-csrf-token": token || "sign-in" } : {};
          },
        }),
      }),
    ],
  });
}

/** What a failed call tells a user: the tRPC code, the server's message, the correlation id, field errors. */
export interface BffErrorDescription {
  code: string;
  message: string;
  correlationId: string | null;
  retryAfterMs: number | null;
  fieldErrors: Array<{ path: string; message: string }>;
}

/** Reads any error a BFF call threw into what a page shows. */
export function describeBffError(error: unknown): BffErrorDescription {
  if (error instanceof TRPCClientError) {
    const data = (error.data ?? {}) as {
      code?: string;
      correlationId?: string | null;
      retryAfterMs?: number | null;
      fieldErrors?: Array<{ path: string; message: string }> | null;
    };
    return {
      code: data.code ?? "NETWORK",
      message: error.message,
      correlationId: data.correlationId ?? null,
      retryAfterMs: data.retryAfterMs ?? null,
      fieldErrors: data.fieldErrors ?? [],
    };
  }
  return {
    code: "NETWORK",
    message: error instanceof Error ? error.message : String(error),
    correlationId: null,
    retryAfterMs: null,
    fieldErrors: [],
  };
}
