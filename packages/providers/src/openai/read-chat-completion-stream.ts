import type OpenAI from "openai";
import { APIError, OpenAIError } from "openai";
import type { ChatCompletionChunk } from "./openai-api.js";

/** What a stream's reader logs to: the SDK client's logger at its level (the details are the raw data). */
type SDKLogger = Pick<OpenAI["logger"], "error">;

/** An event of a Server-Sent Events stream, as the SDK's decoder gives it. */
interface SseEvent {
  event: string | null;
  data: string;
}

/**
 * The chunks of a streamed Chat Completion, with the semantics of the openai SDK's
 * `Stream.fromSSEResponse` (differentially tested against it): lines end at LF, CRLF or CR; `data` lines
 * are joined with LF; a blank line ends an event; `[DONE]` ends the stream (what follows is ignored); an
 * event whose data holds `error` throws the SDK's `APIError`; data that is not JSON throws its
 * SyntaxError; an abort ends the iteration quietly; stopping early cancels the body and (failing too)
 * aborts `controller` if given, which closes the connection. `finish` runs when the iteration ends,
 * however it ends. Unlike the SDK it decodes the body's bytes in place, without its per-chunk copies,
 * byte loops and three layers of async generators, on every streamed request's path to its first token.
 */
export async function* readChatCompletionStream(
  response: Response,
  client: Pick<OpenAI, "logger" | "logLevel">,
  controller?: { abort(): void },
  finish?: () => void,
): AsyncGenerator<ChatCompletionChunk> {
  const body = response.body;
  if (!body) {
    controller?.abort();
    finish?.();
    throw new OpenAIError("Attempted to iterate over a response with no body");
  }
  const log: SDKLogger | undefined = client.logLevel && client.logLevel !== "off" ? client.logger : undefined;
  const decoder = new SseDecoder();
  let done = false;
  /** What an event carries for the reader; undefined for `[DONE]` and whatever follows it. */
  const chunkOf = (sse: SseEvent): ChatCompletionChunk | undefined => {
    if (done) return undefined;
    if (sse.data.startsWith("[DONE]")) {
      done = true;
      return undefined;
    }
    let data: { error?: unknown; message?: string } | null;
    try {
      data = JSON.parse(sse.data);
    } catch (error) {
      log?.error("Could not parse message into JSON:", sse.data);
      log?.error("From chunk:", sse.data);
      throw error;
    }
    if (sse.event === null || !sse.event.startsWith("thread.")) {
      if (data?.error) {
        throw new APIError(undefined, data.error as object, undefined, response.headers);
      }
      return data as unknown as ChatCompletionChunk;
    }
    if (sse.event === "error") throw new APIError(undefined, data?.error as object, data?.message, undefined);
    return { event: sse.event, data } as unknown as ChatCompletionChunk;
  };
  try {
    for await (const bytes of body as unknown as AsyncIterable<Uint8Array>) {
      for (const sse of decoder.decode(bytes)) {
        const chunk = chunkOf(sse);
        if (chunk !== undefined) yield chunk;
      }
    }
    for (const sse of decoder.flush()) {
      const chunk = chunkOf(sse);
      if (chunk !== undefined) yield chunk;
    }
    done = true;
  } catch (error) {
    if (isAbortError(error)) return;
    throw error;
  } finally {
    // Stopped early (or failed): the request goes, and its socket with it (leaving the loop above has
    // cancelled the body already, which is enough without a controller).
    if (!done) controller?.abort();
    finish?.();
  }
}

const LF = 10;
const CR = 13;
const NONE: readonly SseEvent[] = [];

/** Bytes → lines (LF, CRLF or CR, across chunk boundaries) → events, as the SDK's LineDecoder and SSEDecoder. */
class SseDecoder {
  /** The bytes of an unfinished line. */
  #pending: Buffer | undefined;
  /** The last chunk ended with CR: a LF starting the next one belongs to it. */
  #afterCr = false;
  #event: string | null = null;
  #data: string[] = [];

  decode(chunk: Uint8Array): readonly SseEvent[] {
    let bytes = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.#afterCr) {
      this.#afterCr = false;
      if (bytes[0] === LF) bytes = bytes.subarray(1);
    }
    if (this.#pending) {
      bytes = Buffer.concat([this.#pending, bytes]);
      this.#pending = undefined;
    }
    let events: SseEvent[] | undefined;
    const hasCr = bytes.indexOf(CR) !== -1;
    let start = 0;
    for (;;) {
      let end: number;
      let next: number;
      if (!hasCr) {
        end = bytes.indexOf(LF, start);
        if (end === -1) break;
        next = end + 1;
      } else {
        end = start;
        while (end < bytes.length && bytes[end] !== LF && bytes[end] !== CR) end++;
        if (end === bytes.length) break;
        next = end + 1;
        if (bytes[end] === CR) {
          if (next === bytes.length) this.#afterCr = true;
          else if (bytes[next] === LF) next++;
        }
      }
      const event = this.#line(bytes.toString("utf8", start, end));
      if (event) {
        events ??= [];
        events.push(event);
      }
      start = next;
    }
    if (start < bytes.length) this.#pending = bytes.subarray(start);
    return events ?? NONE;
  }

  /** The end of the stream: an unfinished line counts as a line (an unfinished event is dropped). */
  flush(): readonly SseEvent[] {
    const pending = this.#pending;
    this.#pending = undefined;
    if (!pending) return NONE;
    const event = this.#line(pending.toString("utf8"));
    return event ? [event] : NONE;
  }

  #line(line: string): SseEvent | undefined {
    if (line === "") {
      // As the SDK: an empty event name counts as none.
      if (!this.#event && this.#data.length === 0) return undefined;
      const event = { event: this.#event, data: this.#data.join("\n") };
      this.#event = null;
      this.#data = [];
      return event;
    }
    if (line.charCodeAt(0) === 58 /* ":" comment */) return undefined;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === "event") this.#event = value;
    else if (field === "data") this.#data.push(value);
    return undefined;
  }
}

/** As the SDK tells an abort: a spec fetch's AbortError (or Expo's cancellation). */
function isAbortError(error: unknown): boolean {
  return (
    typeof error === "object" &&
    error !== null &&
    (("name" in error && error.name === "AbortError") ||
      ("message" in error && String(error.message).includes("FetchRequestCanceledException")))
  );
}
