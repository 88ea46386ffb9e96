import type OpenAI from "openai";
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "openai";
import { CallController, type CallSignal } from "../call-signal.js";
import { forwardAbort } from "../forward-abort.js";
import type { HttpFetchInit } from "../http/create-http-fetch.js";
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionCreateParamsBase } from "./openai-api.js";
import { readChatCompletionStream } from "./read-chat-completion-stream.js";

/** What the transport sends with: the SDK client holds the key, base URL and logger; `fetch` sends. */
export interface ChatCompletionsTransportOptions {
  client: OpenAI;
  /** createHttpFetch, or a fetch that takes the call's signal as it is (CallSignal). */
  fetch: (input: string, init: HttpFetchInit) => Promise<Response>;
  /** Longest wait for the response headers (the whole answer when not streaming); none by default. */
  timeoutMs?: number;
}

type Params = Omit<ChatCompletionCreateParamsBase, "stream">;

/** `POST /chat/completions`, answered whole or as a stream of chunks; failures are the SDK's error classes. */
export interface ChatCompletionsTransport {
  complete(params: Params, signal: CallSignal | undefined): Promise<ChatCompletion>;
  stream(params: Params, signal: CallSignal | undefined): Promise<AsyncIterable<ChatCompletionChunk>>;
}

/**
 * Chat Completions over `fetch` with the openai SDK's own wire semantics but not its per-call machinery:
 * the request is one `fetch` with precomputed headers, a non-2xx answer becomes the SDK's `APIError`
 * subclass (`APIError.generate`, as the SDK builds it), a failure before the headers an
 * `APIConnectionError`, the timeout an `APIConnectionTimeoutError`, and a stream is decoded as the SDK's
 * `Stream.fromSSEResponse` does, in-stream error events included (readChatCompletionStream). The SDK's
 * request pipeline (header merging through `Headers`, retry bookkeeping, eager debug formatting) cost
 * about 250 µs of CPU per call, several times the HTTP request itself; NOA's router does the retries anyway.
 */
export function createChatCompletionsTransport({
  client,
  fetch,
  timeoutMs,
}: ChatCompletionsTransportOptions): ChatCompletionsTransport {
  const url = `${client.baseURL.replace(/\/+$/, "")}/chat/completions`;
  const headers = {
    "content-type": "application/json",
    authorization: `Bearer ${client.apiKey}`,
  };
  const jsonHeaders = { ...headers, accept: "application/json" };
  const streamHeaders = { ...headers, accept: "text/event-stream" };

  /** The response once its headers are in; a timeout or the caller's abort ends the request. */
  async function post(
    body: string,
    requestHeaders: typeof headers,
    signal: CallSignal | undefined,
  ): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(url, { method: "POST", headers: requestHeaders, body, signal });
    } catch (error) {
      if (signal?.aborted) {
        throw signal.reason instanceof APIConnectionTimeoutError ? signal.reason : new APIUserAbortError();
      }
      throw new APIConnectionError({ cause: error instanceof Error ? error : undefined });
    }
    if (!response.ok) throw await statusError(response);
    return response;
  }

  /** A controller that follows the caller's signal and, when set, the timeout; `unlink` detaches both. */
  function link(signal: CallSignal | undefined) {
    const controller = new CallController();
    const detach = forwardAbort(controller, [signal]);
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => controller.abort(new APIConnectionTimeoutError()), timeoutMs);
    return {
      controller,
      clearTimeout: () => clearTimeout(timer),
      unlink: () => {
        clearTimeout(timer);
        detach();
      },
    };
  }

  return {
    async complete(params, signal) {
      // Not `{ ...params, stream }`: on Node 20 each key a literal adds after a spread costs ~1 µs.
      const body = JSON.stringify(Object.assign({}, params, { stream: false }));
      // Without a timeout the caller's signal is all there is: no controller, listener or timer per call.
      if (timeoutMs === undefined) {
        const response = await post(body, jsonHeaders, signal);
        return (await response.json()) as ChatCompletion;
      }
      const call = link(signal);
      try {
        const response = await post(body, jsonHeaders, call.controller.signal);
        return (await response.json()) as ChatCompletion;
      } catch (error) {
        const reason: unknown = call.controller.signal.reason;
        throw reason instanceof APIConnectionTimeoutError ? reason : error;
      } finally {
        call.unlink();
      }
    },
    async stream(params, signal) {
      const body = JSON.stringify(Object.assign({}, params, { stream: true }));
      // Without a timeout the caller's signal is all there is; a reader that stops early cancels the body,
      // which closes the socket.
      if (timeoutMs === undefined) {
        return readChatCompletionStream(await post(body, streamHeaders, signal), client);
      }
      // With one, the stream also aborts this controller when its reader stops early.
      const call = link(signal);
      let response: Response;
      try {
        response = await post(body, streamHeaders, call.controller.signal);
      } catch (error) {
        call.unlink();
        throw error;
      }
      // The timeout covers the wait for the headers; the caller's signal goes on covering the stream.
      call.clearTimeout();
      return readChatCompletionStream(response, client, call.controller, call.unlink);
    },
  };
}

/** The SDK's error for a non-2xx answer, built from the body as the SDK does (JSON, else the text as message). */
async function statusError(response: Response): Promise<APIError> {
  const text = await response.text().catch(() => "");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return APIError.generate(
    response.status,
    json as object | undefined,
    json === undefined ? text : undefined,
    response.headers,
  );
}
