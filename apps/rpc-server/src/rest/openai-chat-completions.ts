import type { ChatMessage, ChatRole } from "@noa/providers";
import { z } from "zod";
import { checkCompletionOptions } from "../check-completion-options.js";
import { expecting, parseRequestBody } from "./parse-request-body.js";
import { penaltyFields, refusePenalties } from "./refuse-penalties.js";
import { invalidParam } from "./rest-request-error.js";
import {
  type CompletionWireFormat,
  type OpenAICompletionRequest,
  toOpenAIFinishReason,
  toOpenAIUsage,
} from "./serve-completion.js";

const content = z.union(
  [z.string(), z.array(z.object({ type: z.string(), text: z.string().optional() }))],
  expecting("a string or an array of text parts"),
);

const integer = z.int(expecting("an integer"));

/**
 * The fields of OpenAI's chat completion request (https://platform.openai.com/docs/api-reference/chat/create)
 * that NOA reads, with their JSON types; `null` means unset, as for OpenAI. Unknown fields are ignored.
 */
export const chatCompletionRequestSchema = z.object({
  model: z.string(),
  messages: z.array(z.object({ role: z.string(), content: content.nullish() })),
  max_tokens: integer.nullish(),
  max_completion_tokens: integer.nullish(),
  temperature: z.number().nullish(),
  top_p: z.number().nullish(),
  stop: z.union([z.string(), z.array(z.string())], expecting("a string or an array of strings")).nullish(),
  seed: integer.nullish(),
  n: integer.nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: integer.nullish(),
  tools: z.array(z.unknown()).nullish(),
  functions: z.array(z.unknown()).nullish(),
  response_format: z.object({ type: z.string() }).nullish(),
  ...penaltyFields,
});

/** `developer` is OpenAI's newer name for `system`. */
const roles: Record<string, ChatRole> = {
  system: "system",
  developer: "system",
  user: "user",
  assistant: "assistant",
};

/**
 * A `POST /v1/chat/completions` body → the completion to run. Types come from the schema; the ranges are
 * the Connect face's (checkCompletionOptions), with the same messages. What NOA cannot honour is refused
 * by name rather than ignored: `n` > 1, logprobs, tools, non-text content, JSON response formats and
 * sampling penalties.
 */
export function parseChatCompletionRequest(body: unknown): OpenAICompletionRequest {
  const request = parseRequestBody(chatCompletionRequestSchema, body);
  const model = request.model.trim();
  if (model === "") {
    throw invalidParam(
      'model is required: set it to a model id such as "llama-cpp/<model>" (GET /v1/models lists them)',
      "model",
    );
  }
  refuseUnsupported(request);
  const messages = request.messages.map((message, index): ChatMessage => {
    const role = roles[message.role];
    if (!role) {
      throw invalidParam(
        `messages[${index}].role must be "system", "developer", "user" or "assistant" (got ${JSON.stringify(message.role)})${message.role === "tool" || message.role === "function" ? "; tool calls are not supported" : ""}`,
        `messages[${index}].role`,
      );
    }
    return { role, content: textOf(message.content, index) };
  });
  const options = {
    messages,
    maxTokens: request.max_completion_tokens ?? request.max_tokens ?? undefined,
    temperature: request.temperature ?? undefined,
    topP: request.top_p ?? undefined,
    stop: typeof request.stop === "string" ? [request.stop] : (request.stop ?? undefined),
    seed: request.seed ?? undefined,
  };
  checkCompletionOptions(options, (message, field) =>
    // The Connect face's field names, spelled as this request spells them.
    invalidParam(
      message,
      field === "max_tokens" && request.max_completion_tokens != null ? "max_completion_tokens" : field,
    ),
  );
  return {
    model,
    options,
    stream: request.stream === true,
    includeUsage: request.stream === true && request.stream_options?.include_usage === true,
  };
}

function refuseUnsupported(request: z.output<typeof chatCompletionRequestSchema>): void {
  refusePenalties(request);
  if (request.n != null && request.n !== 1) {
    throw invalidParam(
      `n must be 1 (got ${request.n}): this server returns one choice per request; send ${request.n} requests instead`,
      "n",
    );
  }
  if (request.logprobs === true || (request.top_logprobs ?? 0) > 0) {
    throw invalidParam(
      "logprobs are not supported by this server; leave logprobs and top_logprobs unset",
      "logprobs",
    );
  }
  if (request.tools?.length || request.functions?.length) {
    throw invalidParam(
      "tool and function calling are not supported by this server; leave tools unset",
      "tools",
    );
  }
  const format = request.response_format?.type;
  if (format !== undefined && format !== "text") {
    throw invalidParam(
      `response_format "${format}" is not supported by this server; leave it unset or use "text"`,
      "response_format",
    );
  }
}

/** A message's text: the string, or its text parts joined; other part types are refused. */
function textOf(
  value: string | Array<{ type: string; text?: string | undefined }> | null | undefined,
  index: number,
): string {
  if (value == null) return "";
  if (typeof value === "string") return value;
  let text = "";
  for (const [part, { type, text: partText }] of value.entries()) {
    if (type === "text" && partText === undefined) {
      throw invalidParam(
        `messages[${index}].content[${part}].text is required: a text part is {"type":"text","text":"…"}`,
        `messages[${index}].content[${part}].text`,
      );
    }
    if (type !== "text" || partText === undefined) {
      throw invalidParam(
        `messages[${index}].content[${part}] must be a text part ({"type":"text","text":"…"}); this server takes text only (got type ${JSON.stringify(type)})`,
        `messages[${index}].content[${part}]`,
      );
    }
    text += text === "" ? partText : `\n${partText}`;
  }
  return text;
}

/** Chat completion objects and `chat.completion.chunk` events, as OpenAI spells them. */
export const chatCompletionFormat: CompletionWireFormat = {
  idPrefix: "chatcmpl-",
  answer(meta, result) {
    return {
      id: meta.id,
      object: "chat.completion",
      created: meta.created,
      model: meta.model,
      system_fingerprint: null,
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: result.text, refusal: null },
          logprobs: null,
          finish_reason: toOpenAIFinishReason(result.finishReason),
        },
      ],
      usage: toOpenAIUsage(result.usage),
    };
  },
  chunks(meta) {
    const usageNull = meta.includeUsage ? ',"usage":null' : "";
    const head = (model: string) =>
      `{"id":${JSON.stringify(meta.id)},"object":"chat.completion.chunk","created":${meta.created},"model":${JSON.stringify(model)},"system_fingerprint":null,"choices":`;
    // Text chunks are the hot path: one JSON.stringify of the text between fixed halves.
    const textHead = `${head(meta.model)}[{"index":0,"delta":{"content":`;
    const textTail = `},"logprobs":null,"finish_reason":null}]${usageNull}}`;
    return {
      start: () => [
        `${head(meta.model)}[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]${usageNull}}`,
      ],
      text: (text) => textHead + JSON.stringify(text) + textTail,
      finish(finish) {
        const model = finish.model || meta.model;
        const last = `${head(model)}[{"index":0,"delta":{},"logprobs":null,"finish_reason":"${toOpenAIFinishReason(finish.finishReason)}"}]${usageNull}}`;
        if (!meta.includeUsage) return [last];
        return [last, `${head(model)}[],"usage":${JSON.stringify(toOpenAIUsage(finish.usage))}}`];
      },
    };
  },
};
