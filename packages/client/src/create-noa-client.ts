import {
  type Client,
  Code,
  ConnectError,
  createClient,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { ApiKeyService, InferenceService, JobService, ModelService, UsageService } from "@noa/proto";
import type { ChatCallOptions, ChatPart, ChatRequest, ChatResult } from "./chat-types.js";
import { type Credential, createAuthInterceptor } from "./create-auth-interceptor.js";
import { toChatSummary, toCompleteRequest } from "./to-chat-request.js";
import { type DefaultTimeouts, withDefaultTimeouts } from "./with-default-timeouts.js";

/** Builds a Connect transport, e.g. `createGrpcTransport` from `@connectrpc/connect-node` for gRPC over HTTP/2. */
export type TransportFactory = (options: { baseUrl: string; interceptors: Interceptor[] }) => Transport;

/** Options of {@link createNoaClient}. */
export interface NoaClientOptions {
  /** The server, e.g. `http://localhost:8080` or `https://noa.example.com`. */
  baseUrl: string;
  /** An API key (`noa_…`) or JWT, or a function returning the current one; sent as `Authorization: Bearer`. */
  apiKey?: Credential;
  /**
   * `"connect"` (default) or `"grpc-web"` over `fetch`, which work in browsers and in Node; or a factory
   * such as connect-node's `createGrpcTransport` for native gRPC.
   */
  transport?: "connect" | "grpc-web" | TransportFactory;
  /** Deadlines for calls that set none: unary 120 s; streams none. */
  timeouts?: DefaultTimeouts;
  /** More interceptors, run after the auth interceptor. */
  interceptors?: Interceptor[];
  /** The `fetch` used by the built-in transports (e.g. one that sets `credentials`). */
  fetch?: typeof globalThis.fetch;
}

/** A client for every NOA service, plus typed chat helpers. */
export interface NoaClient {
  inference: Client<typeof InferenceService>;
  models: Client<typeof ModelService>;
  apiKeys: Client<typeof ApiKeyService>;
  usage: Client<typeof UsageService>;
  jobs: Client<typeof JobService>;
  /** The transport under the clients (with auth and timeouts), for `createClient` on other services. */
  transport: Transport;
  /** A whole answer (InferenceService.Complete). */
  chat(request: ChatRequest, options?: ChatCallOptions): Promise<ChatResult>;
  /**
   * A streamed answer (InferenceService.StreamComplete): `text-delta` parts as tokens are generated, then
   * one `finish` part with usage and cost. Aborting `options.signal` (or leaving the loop) cancels the
   * call and the server stops generating.
   */
  streamChat(request: ChatRequest, options?: ChatCallOptions): AsyncIterable<ChatPart>;
}

/** The default deadline of unary calls: long enough for a whole `Complete` of a few hundred tokens. */
const defaultUnaryTimeoutMs = 120_000;

/**
 * Creates clients for NOA's services on one transport that sends the API key on every call and applies
 * default deadlines. Works in Node 20+ and browsers; see docs/clients.md.
 */
export function createNoaClient(options: NoaClientOptions): NoaClient {
  const interceptors = [
    ...(options.apiKey ? [createAuthInterceptor(options.apiKey)] : []),
    ...(options.interceptors ?? []),
  ];
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  const factory = options.transport ?? "connect";
  const fetch = unavailableWhenUnreachable(baseUrl, options.fetch ?? globalThis.fetch);
  const raw =
    factory === "connect"
      ? createConnectTransport({ baseUrl, interceptors, fetch })
      : factory === "grpc-web"
        ? createGrpcWebTransport({ baseUrl, interceptors, fetch })
        : factory({ baseUrl, interceptors });
  const transport = withDefaultTimeouts(raw, {
    unaryMs: options.timeouts?.unaryMs ?? defaultUnaryTimeoutMs,
    streamMs: options.timeouts?.streamMs,
  });
  const inference = createClient(InferenceService, transport);

  return {
    inference,
    models: createClient(ModelService, transport),
    apiKeys: createClient(ApiKeyService, transport),
    usage: createClient(UsageService, transport),
    jobs: createClient(JobService, transport),
    transport,
    async chat(request, callOptions = {}) {
      const response = await inference.complete(toCompleteRequest(request), callOptions);
      return { text: response.text, ...toChatSummary(response) };
    },
    async *streamChat(request, callOptions = {}) {
      for await (const message of inference.streamComplete(toCompleteRequest(request), callOptions)) {
        if (message.text) yield { type: "text-delta", id: message.id, text: message.text };
        // Only the last message carries a finish reason (UNSPECIFIED = 0 on every other one).
        if (message.finishReason) yield { type: "finish", ...toChatSummary(message) };
      }
    },
  };
}

/**
 * fetch rejects with a bare TypeError when no server answers, which Connect reports as UNKNOWN; the
 * node transports say UNAVAILABLE, as gRPC does. Aborts pass through, so cancellation stays CANCELED.
 */
function unavailableWhenUnreachable(
  baseUrl: string,
  fetch: typeof globalThis.fetch,
): typeof globalThis.fetch {
  return async (input, init) => {
    try {
      return await fetch(input, init);
    } catch (error) {
      if (init?.signal?.aborted || !(error instanceof TypeError)) throw error;
      const cause = error.cause instanceof Error ? error.cause.message : error.message;
      throw new ConnectError(
        `cannot reach ${baseUrl}: ${cause}`,
        Code.Unavailable,
        undefined,
        undefined,
        error,
      );
    }
  };
}
