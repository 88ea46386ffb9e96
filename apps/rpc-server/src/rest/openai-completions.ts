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

const integer = z.int(expecting("an integer"));

/**
 * The fields of OpenAI's legacy completion request (https://platform.openai.com/docs/api-reference/completions/create)
 * that NOA reads; `null` means unset. Unknown fields are ignored.
 */
export const completionRequestSchema = z.object({
  model: z.string(),
  prompt: z.union([z.string(), z.array(z.string())], expecting("a string")),
  max_tokens: integer.nullish(),
  temperature: z.number().nullish(),
  top_p: z.number().nullish(),
  stop: z.union([z.string(), z.array(z.string())], expecting("a string or an array of strings")).nullish(),
  seed: integer.nullish(),
  n: integer.nullish(),
  best_of: integer.nullish(),
  echo: z.boolean().nullish(),
  suffix: z.string().nullish(),
  logprobs: integer.nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  ...penaltyFields,
});

/**
 * A `POST /v1/completions` body → the completion to run. The prompt is sent to the model as one user
 * message (NOA's providers are chat models); `echo` puts it before the answer. One prompt per request;
 * `n`/`best_of` > 1, `suffix`, `logprobs` and sampling penalties are refused by name.
 */
export function parseCompletionRequest(body: unknown): OpenAICompletionRequest {
  const request = parseRequestBody(completionRequestSchema, body);
  const model = request.model.trim();
  if (model === "") {
    throw invalidParam(
      'model is required: set it to a model id such as "llama-cpp/<model>" (GET /v1/models lists them)',
      "model",
    );
  }
  const prompts = typeof request.prompt === "string" ? [request.prompt] : request.prompt;
  if (prompts.length !== 1) {
    throw invalidParam(
      `prompt must be one string (got ${prompts.length}); send one request per prompt`,
      "prompt",
    );
  }
  const prompt = prompts[0] as string;
  if (prompt === "") throw invalidParam("prompt must not be empty", "prompt");
  for (const [name, value] of [
    ["n", request.n],
    ["best_of", request.best_of],
  ] as const) {
    if (value != null && value !== 1) {
      throw invalidParam(
        `${name} must be 1 (got ${value}): this server returns one choice per request; send ${value} requests instead`,
        name,
      );
    }
  }
  if (request.suffix) throw invalidParam("suffix is not supported by this server; leave it unset", "suffix");
  if (request.logprobs != null) {
    throw invalidParam("logprobs are not supported by this server; leave logprobs unset", "logprobs");
  }
  refusePenalties(request);
  const options = {
    messages: [{ role: "user" as const, content: prompt }],
    maxTokens: request.max_tokens ?? undefined,
    temperature: request.temperature ?? undefined,
    topP: request.top_p ?? undefined,
    stop: typeof request.stop === "string" ? [request.stop] : (request.stop ?? undefined),
    seed: request.seed ?? undefined,
  };
  checkCompletionOptions(options, invalidParam);
  return {
    model,
    options,
    stream: request.stream === true,
    includeUsage: request.stream === true && request.stream_options?.include_usage === true,
    ...(request.echo === true && { prefix: prompt }),
  };
}

/** `text_completion` objects, whole and as stream chunks, as OpenAI spells them. */
export const completionFormat: CompletionWireFormat = {
  idPrefix: "cmpl-",
  answer(meta, result) {
    return {
      id: meta.id,
      object: "text_completion",
      created: meta.created,
      model: meta.model,
      system_fingerprint: null,
      choices: [
        {
          text: result.text,
          index: 0,
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
      `{"id":${JSON.stringify(meta.id)},"object":"text_completion","created":${meta.created},"model":${JSON.stringify(model)},"system_fingerprint":null,"choices":`;
    const textHead = `${head(meta.model)}[{"text":`;
    const textTail = `,"index":0,"logprobs":null,"finish_reason":null}]${usageNull}}`;
    return {
      start: () => [],
      text: (text) => textHead + JSON.stringify(text) + textTail,
      finish(finish) {
        const model = finish.model || meta.model;
        const last = `${head(model)}[{"text":"","index":0,"logprobs":null,"finish_reason":"${toOpenAIFinishReason(finish.finishReason)}"}]${usageNull}}`;
        if (!meta.includeUsage) return [last];
        return [last, `${head(model)}[],"usage":${JSON.stringify(toOpenAIUsage(finish.usage))}}`];
      },
    };
  },
};
