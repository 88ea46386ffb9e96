import { randomUUID } from "node:crypto";
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
  type ChatCompletion,
  type ChatCompletionChunk,
  OPENAI_CONTEXT_LENGTH_EXCEEDED,
  OPENAI_INVALID_REQUEST_ERROR,
  type OpenAIErrorBody,
  type OpenAIErrorObject,
} from "../openai-api.js";

/** The key the loopback server accepts unless told otherwise. */
export const OPENAI_LOOPBACK_API_KEY = "sk-loopback-0123456789abcdef";

/** How the loopback server behaves; every field has a default fit for the contract suite. */
export interface OpenAILoopbackServerOptions {
  /** The only key accepted as `authorization: Bearer <key>`. */
  apiKey?: string;
  /** Models it serves and lists; others get OpenAI's 404 `model_not_found`. */
  models?: string[];
  /** Prompt plus `max_tokens` beyond this gets OpenAI's 400 `context_length_exceeded`. */
  contextLength?: number;
  /** Pause between streamed chunks, so an abort can land mid-stream. */
  chunkDelayMs?: number;
}

/** The models the loopback serves by default: the provider's default list and one reasoning model. */
export const OPENAI_LOOPBACK_MODELS = ["gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1", "o4-mini"];

interface ChatRequest {
  model: string;
  stream: boolean;
  includeUsage: boolean;
  maxTokens: number | undefined;
  stop: string[];
  promptTokens: number;
}

/** One response in progress: the socket, the record tests read, and whether the server cut it itself. */
interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  record: LoopbackRequest;
  destroyedByServer: boolean;
}

/**
 * A local server speaking OpenAI's exact wire format for `POST /v1/chat/completions` (JSON and SSE with
 * `stream_options.include_usage`) and `GET /v1/models`, answering with `scriptedAnswer`, and injecting
 * the queued LoopbackFaults into chat completion requests (one fault per request, after auth), so the
 * real openai SDK can be tested without a network.
 */
export async function startOpenAILoopbackServer({
  apiKey = OPENAI_LOOPBACK_API_KEY,
  models = OPENAI_LOOPBACK_MODELS,
  contextLength = 4096,
  chunkDelayMs = 2,
}: OpenAILoopbackServerOptions = {}): Promise<LoopbackServer> {
  const requests: LoopbackRequest[] = [];
  const faults: LoopbackFault[] = [];
  let closing = false;

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendError(res, 500, serverError(`loopback failure: ${String(error)}`));
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const record: LoopbackRequest = {
      path: req.url ?? "/",
      headers: req.headers,
      body: parseJson(raw),
      fault: undefined,
      closedByClient: false,
      chunksSent: 0,
    };
    requests.push(record);
    const exchange: Exchange = { req, res, record, destroyedByServer: false };
    res.on("close", () => {
      if (!res.writableEnded && !exchange.destroyedByServer && !closing) record.closedByClient = true;
    });

    const authorization = req.headers.authorization;
    if (authorization !== `Bearer ${apiKey}`) {
      sendError(res, 401, unauthorized(authorization));
      return;
    }
    const route = `${req.method} ${new URL(record.path, "http://loopback").pathname}`;
    if (route === "GET /v1/models") {
      sendJson(res, 200, {
        object: "list",
        data: models.map((id) => ({ id, object: "model", created: 1_715_367_049, owned_by: "system" })),
      });
      return;
    }
    if (route !== "POST /v1/chat/completions") {
      sendError(res, 404, invalidRequest(`Invalid URL (${route})`, null, null));
      return;
    }
    if (record.body === undefined) {
      sendError(res, 400, invalidRequest("We could not parse the JSON body of your request.", null, null));
      return;
    }
    record.fault = faults.shift();
    if (record.fault && applyEarlyFault(exchange, record.fault)) return;

    const request = readChatRequest(record.body);
    if (typeof request === "string") {
      sendError(res, 400, invalidRequest(request, "messages", null));
      return;
    }
    if (!models.includes(request.model)) {
      sendError(
        res,
        404,
        invalidRequest(
          `The model \`${request.model}\` does not exist or you do not have access to it.`,
          null,
          "model_not_found",
        ),
      );
      return;
    }
    const requested = request.promptTokens + (request.maxTokens ?? 0);
    if (requested > contextLength) {
      sendError(
        res,
        400,
        invalidRequest(
          `This model's maximum context length is ${contextLength} tokens. However, you requested ${requested} tokens (${request.promptTokens} in the messages, ${request.maxTokens ?? 0} in the completion). Please reduce the length of the messages or completion.`,
          "messages",
          OPENAI_CONTEXT_LENGTH_EXCEEDED,
        ),
      );
      return;
    }
    const answer = scriptedAnswer({ maxTokens: request.maxTokens ?? 1000, stop: request.stop });
    if (request.stream) await streamAnswer(exchange, request, answer);
    else sendCompletion(exchange, request, answer);
  }

  /** Applies the faults that do not depend on the request's content; true when the response is settled. */
  function applyEarlyFault(exchange: Exchange, fault: LoopbackFault): boolean {
    const { req, res } = exchange;
    switch (fault.kind) {
      case "status": {
        const headers: Record<string, string> = {};
        if (fault.retryAfter !== undefined) headers["retry-after"] = fault.retryAfter;
        if (fault.retryAfterMs !== undefined) headers["retry-after-ms"] = fault.retryAfterMs;
        sendError(res, fault.status, errorForStatus(fault.status), headers);
        return true;
      }
      case "reset-before-headers":
        exchange.destroyedByServer = true;
        req.socket.destroy();
        return true;
      default:
        return false;
    }
  }

  function sendCompletion(
    exchange: Exchange,
    request: ChatRequest,
    answer: ReturnType<typeof scriptedAnswer>,
  ): void {
    const { res, record, req } = exchange;
    const fault = record.fault;
    if (fault?.kind === "stall-before-first-token" || fault?.kind === "stall-mid-stream") return;
    if (fault?.kind === "malformed-sse") {
      res.writeHead(200, { "content-type": "application/json", "x-request-id": requestId() });
      res.end('{"object":"chat.completion","choices":[');
      return;
    }
    const completion: ChatCompletion = {
      id: completionId(),
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      model: request.model,
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: answer.chunks.join(""), refusal: null, annotations: [] },
          logprobs: null,
          finish_reason: answer.finish,
        },
      ],
      usage: usage(request.promptTokens, answer.chunks.length),
      service_tier: "default",
      system_fingerprint: "fp_loopback",
    };
    const body = JSON.stringify(completion);
    if (fault?.kind === "reset-mid-stream") {
      res.writeHead(200, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
        "x-request-id": requestId(),
      });
      res.write(body.slice(0, Math.floor(body.length / 2)), () => {
        exchange.destroyedByServer = true;
        req.socket.destroy();
      });
      return;
    }
    record.chunksSent = answer.chunks.length;
    sendJson(res, 200, completion);
  }

  async function streamAnswer(
    exchange: Exchange,
    request: ChatRequest,
    answer: ReturnType<typeof scriptedAnswer>,
  ): Promise<void> {
    const { res, record, req } = exchange;
    const fault = record.fault;
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      "x-request-id": requestId(),
    });
    res.flushHeaders();
    if (fault?.kind === "stall-before-first-token") return;
    if (fault?.kind === "malformed-sse") {
      res.end('data: {"id":"chatcmpl-loopback","object":"chat.completion.chunk",\n\n');
      return;
    }
    const id = completionId();
    const created = Math.floor(Date.now() / 1000);
    const chunk = (choices: ChatCompletionChunk["choices"]): ChatCompletionChunk => ({
      id,
      object: "chat.completion.chunk",
      created,
      model: request.model,
      service_tier: "default",
      system_fingerprint: "fp_loopback",
      choices,
      ...(request.includeUsage && { usage: null }),
    });
    const send = async (data: ChatCompletionChunk | "[DONE]"): Promise<boolean> => {
      if (res.destroyed) return false;
      res.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
      await sleep(chunkDelayMs);
      return !res.destroyed;
    };

    const first = { role: "assistant", content: "", refusal: null } as const;
    if (!(await send(chunk([{ index: 0, delta: first, logprobs: null, finish_reason: null }])))) return;
    const cutAfter =
      fault?.kind === "reset-mid-stream" || fault?.kind === "stall-mid-stream" ? fault.afterChunks : Infinity;
    for (const text of answer.chunks) {
      if (record.chunksSent >= cutAfter) break;
      if (
        !(await send(chunk([{ index: 0, delta: { content: text }, logprobs: null, finish_reason: null }])))
      ) {
        return;
      }
      record.chunksSent++;
    }
    if (fault?.kind === "reset-mid-stream") {
      exchange.destroyedByServer = true;
      req.socket.destroy();
      return;
    }
    if (fault?.kind === "stall-mid-stream") return;
    if (!(await send(chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: answer.finish }])))) return;
    if (request.includeUsage) {
      const last = { ...chunk([]), usage: usage(request.promptTokens, answer.chunks.length) };
      if (!(await send(last))) return;
    }
    if (await send("[DONE]")) res.end();
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    enqueueFaults: (...next) => {
      faults.push(...next);
    },
    async close() {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

function readChatRequest(body: unknown): ChatRequest | string {
  if (typeof body !== "object" || body === null) return "The request body must be a JSON object.";
  const params = body as Record<string, unknown>;
  if (typeof params.model !== "string") return "you must provide a model parameter";
  if (!Array.isArray(params.messages) || params.messages.length === 0) {
    return "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.";
  }
  const texts = params.messages.map((message: unknown) => messageText(message));
  const stop = params.stop;
  const streamOptions = params.stream_options as { include_usage?: unknown } | null | undefined;
  const maxTokens = params.max_tokens ?? params.max_completion_tokens;
  return {
    model: params.model,
    stream: params.stream === true,
    includeUsage: streamOptions?.include_usage === true,
    maxTokens: typeof maxTokens === "number" ? maxTokens : undefined,
    stop:
      typeof stop === "string"
        ? [stop]
        : Array.isArray(stop)
          ? stop.filter((s) => typeof s === "string")
          : [],
    promptTokens: countPromptTokens(texts),
  };
}

/** A message's text: a string, or the text parts of a content array. */
function messageText(message: unknown): string {
  const content = (message as { content?: unknown } | null)?.content;
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((part: unknown) => (part as { text?: unknown } | null)?.text)
    .filter((text): text is string => typeof text === "string")
    .join(" ");
}

function usage(promptTokens: number, completionTokens: number): NonNullable<ChatCompletion["usage"]> {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

function invalidRequest(message: string, param: string | null, code: string | null): OpenAIErrorObject {
  return { message, type: OPENAI_INVALID_REQUEST_ERROR, param, code };
}

function serverError(message: string): OpenAIErrorObject {
  return { message, type: "server_error", param: null, code: null };
}

/** The 401 bodies OpenAI sends for a missing and for a wrong key (the wrong key echoed masked, as OpenAI does). */
function unauthorized(authorization: string | undefined): OpenAIErrorObject {
  const key = authorization?.replace(/^Bearer\s+/i, "");
  if (!key) {
    return invalidRequest(
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
      null,
      null,
    );
  }
  const masked = key.length > 8 ? `${key.slice(0, 3)}${"*".repeat(key.length - 7)}${key.slice(-4)}` : "***";
  return invalidRequest(
    `Incorrect API key provided: ${masked}. You can find your API key at https://platform.openai.com/account/api-keys.`,
    null,
    "invalid_api_key",
  );
}

/** The body OpenAI sends with each status a `status` fault asks for. */
function errorForStatus(status: number): OpenAIErrorObject {
  switch (status) {
    case 400:
      return invalidRequest(
        "Invalid value for 'temperature': must be between 0 and 2.",
        "temperature",
        "invalid_value",
      );
    case 401:
      return unauthorized(undefined);
    case 403:
      return {
        message: "Country, region, or territory not supported",
        type: "request_forbidden",
        param: null,
        code: "unsupported_country_region_territory",
      };
    case 404:
      return invalidRequest(
        "The model `loopback` does not exist or you do not have access to it.",
        null,
        "model_not_found",
      );
    case 429:
      return {
        message:
          "Rate limit reached for gpt-4o-mini in organization org-loopback on requests per min (RPM): Limit 3, Used 3, Requested 1.",
        type: "requests",
        param: null,
        code: "rate_limit_exceeded",
      };
    case 503:
      return serverError("The engine is currently overloaded, please try again later.");
    default:
      return status >= 500
        ? serverError("The server had an error while processing your request. Sorry about that!")
        : invalidRequest(`Loopback fault with status ${status}.`, null, null);
  }
}

function sendError(
  res: ServerResponse,
  status: number,
  error: OpenAIErrorObject,
  headers: Record<string, string> = {},
): void {
  const body: OpenAIErrorBody = { error };
  sendJson(res, status, body, headers);
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    "x-request-id": requestId(),
    ...headers,
  });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function parseJson(text: string): unknown {
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function requestId(): string {
  return `req_${randomUUID().replaceAll("-", "")}`;
}

function completionId(): string {
  return `chatcmpl-${randomUUID().replaceAll("-", "").slice(0, 24)}`;
}
