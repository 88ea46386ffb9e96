import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import {
  countPromptTokens,
  type LoopbackFault,
  type LoopbackRequest,
  type LoopbackServer,
  scriptedAnswer,
} from "../../testing/loopback-fault.js";
import {
  ANTHROPIC_ERROR_STATUS,
  type AnthropicErrorBody,
  type AnthropicErrorType,
} from "../anthropic-api.js";

/** Options of the loopback server; the defaults suit tests. */
export interface AnthropicLoopbackServerOptions {
  /** The key it accepts, as `x-api-key` or `authorization: Bearer`. */
  apiKey?: string;
  /** Pause before each SSE event, so an abort can land mid-stream. */
  eventDelayMs?: number;
}

/** An `event: error` Anthropic sends inside a 200 stream, e.g. when it becomes overloaded mid-answer. */
export interface StreamErrorEvent {
  /** Text chunks sent before the error event. */
  afterChunks: number;
  errorType: AnthropicErrorType;
}

/** A loopback Anthropic API, with the key it accepts. */
export interface AnthropicLoopbackServer extends LoopbackServer {
  apiKey: string;
  /** Error events for the next streaming requests without a fault, in order (Anthropic-only, so not a LoopbackFault). */
  enqueueStreamErrors(...events: StreamErrorEvent[]): void;
}

/** The key the loopback server accepts unless told otherwise. */
export const ANTHROPIC_LOOPBACK_API_KEY = "sk-ant-loopback-0000";

/** The API version after which Anthropic rejects `temperature`, `top_p` and `top_k`. */
const SAMPLING_REMOVED_VERSION = "2026-10-21";

interface TextBlock {
  type: string;
  text?: unknown;
}

/** The part of a Messages API request body the server reads. */
interface MessagesRequest {
  model: string;
  max_tokens: number;
  messages: { role: string; content: string | TextBlock[] }[];
  system?: string | TextBlock[];
  stop_sequences?: string[];
  stream?: boolean;
}

/** What one answer will be, from the request. */
interface Answer {
  chunks: string[];
  stopReason: "end_turn" | "max_tokens" | "stop_sequence";
  stopSequence: string | null;
  inputTokens: number;
}

/**
 * A `node:http` server on 127.0.0.1 speaking Anthropic's Messages API wire format
 * (https://docs.anthropic.com/en/api/messages, .../messages-streaming) for `POST /v1/messages`, so tests
 * run the real `@anthropic-ai/sdk` against it. Answers come from `scriptedAnswer`; faults queued with
 * `enqueueFaults` apply to the next requests in order. Like the real API at version 2026-10-21 it
 * rejects sampling parameters, so a test notices if they are sent.
 */
export async function startAnthropicLoopbackServer({
  apiKey = ANTHROPIC_LOOPBACK_API_KEY,
  eventDelayMs = 2,
}: AnthropicLoopbackServerOptions = {}): Promise<AnthropicLoopbackServer> {
  const faults: LoopbackFault[] = [];
  const streamErrors: StreamErrorEvent[] = [];
  const requests: LoopbackRequest[] = [];
  let served = 0;

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      // A failure of the fixture itself: make it loud in the test rather than a hang.
      if (!res.headersSent) sendError(res, 500, "api_error", `loopback server failed: ${String(error)}`);
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const path = req.url ?? "/";
    let body: unknown;
    try {
      body = raw.length > 0 ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    const record: LoopbackRequest = {
      path,
      headers: req.headers,
      body,
      fault: faults.shift(),
      closedByClient: false,
      chunksSent: 0,
    };
    requests.push(record);
    served += 1;
    const id = `msg_loopback_${String(served).padStart(4, "0")}`;
    res.setHeader("request-id", `req_loopback_${String(served).padStart(4, "0")}`);
    let destroyedByServer = false;
    const destroy = () => {
      destroyedByServer = true;
      req.socket.destroy();
    };
    // `close` before the response ended means the client left (unless this server cut it).
    const closed = new Promise<void>((resolve) => {
      res.on("close", () => {
        if (!res.writableEnded && !destroyedByServer) record.closedByClient = true;
        resolve();
      });
    });
    const clientGone = () => res.destroyed || record.closedByClient;

    const fault = record.fault;
    if (fault?.kind === "reset-before-headers") return destroy();
    if (fault?.kind === "status") {
      if (fault.retryAfter !== undefined) res.setHeader("retry-after", fault.retryAfter);
      if (fault.retryAfterMs !== undefined) res.setHeader("retry-after-ms", fault.retryAfterMs);
      return sendError(
        res,
        fault.status,
        errorTypeOf(fault.status),
        `loopback fault: status ${fault.status}`,
      );
    }

    if (req.method !== "POST" || path.split("?")[0] !== "/v1/messages") {
      return sendError(res, 404, "not_found_error", `${req.method} ${path} is not served here`);
    }
    const version = req.headers["anthropic-version"];
    if (typeof version !== "string" || version.length === 0) {
      return sendError(res, 400, "invalid_request_error", "anthropic-version: header is required");
    }
    if (!hasKey(req, apiKey)) {
      return sendError(res, 401, "authentication_error", "invalid x-api-key");
    }
    const invalid = validate(body, version);
    if (invalid) return sendError(res, 400, "invalid_request_error", invalid);
    const request = body as MessagesRequest;
    const answer = answerTo(request);

    if (fault?.kind === "malformed-sse") {
      res.writeHead(200, sseHeaders);
      res.write("event: message_start\ndata: {not json\n\n");
      res.end();
      return;
    }

    if (!request.stream) {
      if (fault?.kind === "stall-before-first-token" || fault?.kind === "stall-mid-stream") {
        await closed;
        return;
      }
      const json = JSON.stringify(
        messageOf(id, request.model, answer, answer.chunks.join(""), answer.chunks.length),
      );
      if (fault?.kind === "reset-mid-stream") {
        // Headers and half the body, then the connection drops.
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(json) });
        res.write(json.slice(0, Math.floor(json.length / 2)));
        await sleep(eventDelayMs);
        return destroy();
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(json);
      return;
    }

    res.writeHead(200, sseHeaders);
    res.flushHeaders();
    const send = async (event: string, data: unknown): Promise<boolean> => {
      await sleep(eventDelayMs);
      if (clientGone()) return false;
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      return true;
    };
    // Like the real API, message_start has no stop reason yet and counts one output token.
    const start = messageOf(id, request.model, { inputTokens: answer.inputTokens }, "", 1);
    if (!(await send("message_start", { type: "message_start", message: start }))) return;
    if (!(await send("content_block_start", blockStart))) return;
    if (!(await send("ping", { type: "ping" }))) return;

    const streamError = fault ? undefined : streamErrors.shift();
    const cutAfter =
      fault?.kind === "reset-mid-stream" || fault?.kind === "stall-mid-stream"
        ? fault.afterChunks
        : fault?.kind === "stall-before-first-token"
          ? 0
          : (streamError?.afterChunks ?? Number.POSITIVE_INFINITY);
    for (const text of answer.chunks) {
      if (record.chunksSent >= cutAfter) break;
      const delta = { type: "content_block_delta", index: 0, delta: { type: "text_delta", text } };
      if (!(await send("content_block_delta", delta))) return;
      record.chunksSent += 1;
    }
    if (fault?.kind === "reset-mid-stream") {
      await sleep(eventDelayMs);
      return destroy();
    }
    if (fault?.kind === "stall-mid-stream" || fault?.kind === "stall-before-first-token") {
      await closed;
      return;
    }
    if (streamError) {
      const error: AnthropicErrorBody = {
        type: "error",
        error: { type: streamError.errorType, message: `loopback stream error: ${streamError.errorType}` },
      };
      if (await send("error", error)) res.end();
      return;
    }

    if (!(await send("content_block_stop", { type: "content_block_stop", index: 0 }))) return;
    const messageDelta = {
      type: "message_delta",
      delta: {
        stop_reason: answer.stopReason,
        stop_sequence: answer.stopSequence,
        stop_details: null,
        container: null,
      },
      usage: usageOf(answer.inputTokens, answer.chunks.length),
    };
    if (!(await send("message_delta", messageDelta))) return;
    if (!(await send("message_stop", { type: "message_stop" }))) return;
    res.end();
  }

  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;

  return {
    baseURL: `http://127.0.0.1:${port}`,
    apiKey,
    requests,
    enqueueFaults(...next) {
      faults.push(...next);
    },
    enqueueStreamErrors(...next) {
      streamErrors.push(...next);
    },
    async close() {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await stopped;
    },
  };
}

const sseHeaders = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" };

const blockStart = {
  type: "content_block_start",
  index: 0,
  content_block: { type: "text", text: "", citations: null },
};

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on("data", (part: Buffer) => parts.push(part));
    req.on("end", () => resolve(Buffer.concat(parts).toString("utf8")));
    req.on("error", reject);
  });
}

function sendError(res: ServerResponse, status: number, type: AnthropicErrorType, message: string): void {
  const body: AnthropicErrorBody = { type: "error", error: { type, message } };
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function errorTypeOf(status: number): AnthropicErrorType {
  const known = Object.entries(ANTHROPIC_ERROR_STATUS).find(([, code]) => code === status);
  if (known) return known[0] as AnthropicErrorType;
  return status >= 500 ? "api_error" : "invalid_request_error";
}

function hasKey(req: IncomingMessage, apiKey: string): boolean {
  return req.headers["x-api-key"] === apiKey || req.headers.authorization === `Bearer ${apiKey}`;
}

/** Anthropic's 400 message for the first thing wrong with the body, if anything is. */
function validate(body: unknown, version: string): string | undefined {
  if (typeof body !== "object" || body === null) return "the request body must be a JSON object";
  const request = body as Record<string, unknown>;
  if (typeof request.model !== "string" || request.model.length === 0) return "model: Field required";
  if (!Number.isInteger(request.max_tokens) || (request.max_tokens as number) < 0)
    return "max_tokens: Field required";
  if (!Array.isArray(request.messages) || request.messages.length === 0) return "messages: Field required";
  if (version >= SAMPLING_REMOVED_VERSION) {
    for (const name of ["temperature", "top_p", "top_k"]) {
      if (name in request) return `${name}: Extra inputs are not permitted`;
    }
  }
  const stop = request.stop_sequences;
  if (stop !== undefined && (!Array.isArray(stop) || !stop.every((item) => typeof item === "string"))) {
    return "stop_sequences: Input should be a valid list of strings";
  }
  return undefined;
}

function textsOf(content: string | TextBlock[] | undefined): string[] {
  if (content === undefined) return [];
  if (typeof content === "string") return [content];
  return content.flatMap((block) =>
    block.type === "text" && typeof block.text === "string" ? [block.text] : [],
  );
}

function answerTo(request: MessagesRequest): Answer {
  const stop = request.stop_sequences ?? [];
  const { chunks, finish } = scriptedAnswer({ maxTokens: request.max_tokens, stop });
  const inputTokens = countPromptTokens([
    ...textsOf(request.system),
    ...request.messages.flatMap((message) => textsOf(message.content)),
  ]);
  if (finish === "length") return { chunks, stopReason: "max_tokens", stopSequence: null, inputTokens };
  // The scripted text goes on past the cut: the stop sequence that starts right there cut it.
  const text = chunks.join("");
  const uncut = scriptedAnswer({ maxTokens: Number.POSITIVE_INFINITY, stop: [] }).chunks.join("");
  const matched = stop.find((sequence) => uncut.startsWith(sequence, text.length));
  return matched === undefined
    ? { chunks, stopReason: "end_turn", stopSequence: null, inputTokens }
    : { chunks, stopReason: "stop_sequence", stopSequence: matched, inputTokens };
}

function usageOf(inputTokens: number, outputTokens: number) {
  return {
    input_tokens: inputTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    output_tokens: outputTokens,
  };
}

function messageOf(
  id: string,
  model: string,
  { stopReason, stopSequence, inputTokens }: Pick<Answer, "inputTokens"> & Partial<Answer>,
  text: string,
  outputTokens: number,
) {
  return {
    id,
    type: "message",
    role: "assistant",
    content: text.length > 0 ? [{ type: "text", text, citations: null }] : [],
    model,
    stop_reason: stopReason ?? null,
    stop_sequence: stopSequence ?? null,
    stop_details: null,
    container: null,
    usage: usageOf(inputTokens, outputTokens),
  };
}
