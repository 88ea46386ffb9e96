import type OpenAI from "openai";
import { InvalidRequestError } from "../errors/invalid-request-error.js";
import { ProviderError } from "../errors/provider-error.js";
import type {
  CallOptions,
  FinishReason,
  GenerateResult,
  LanguageModel,
  StreamPart,
  Usage,
} from "../language-model.js";
import type { Logger } from "../logger.js";
import { convertToOpenAIMessages } from "./convert-to-openai-messages.js";
import type { ChatCompletionsTransport } from "./create-chat-completions-transport.js";
import { isOpenAIReasoningModel } from "./is-openai-reasoning-model.js";
import { mapOpenAIError } from "./map-openai-error.js";
import { mapOpenAIFinishReason } from "./map-openai-finish-reason.js";
import {
  type ChatCompletion,
  type ChatCompletionCreateParamsBase,
  OPENAI_PROVIDER_ID,
} from "./openai-api.js";

/** What an OpenAI language model needs: the provider's client (its API key is kept out of messages), its transport and the model id. */
export interface OpenAILanguageModelOptions {
  client: OpenAI;
  transport: ChatCompletionsTransport;
  modelId: string;
  logger?: Logger;
}

type RequestParams = Omit<ChatCompletionCreateParamsBase, "stream" | "stream_options">;

const provider = OPENAI_PROVIDER_ID;
const noUsage: Usage = { promptTokens: 0, completionTokens: 0 };

/**
 * A Chat Completions model (OpenAI or any OpenAI-compatible server) behind the LanguageModel contract.
 * The caller's signal goes to the request, so aborting closes the upstream connection. Aborted calls
 * end `cancelled` with usage estimated as one completion token per content chunk received and 0 prompt
 * tokens (OpenAI reports usage only at the end); `generate` is one non-streaming request, so its
 * cancelled result is empty. A stream cut before its finish reason throws a retryable ProviderError.
 */
export function createOpenAILanguageModel({
  client,
  transport,
  modelId,
  logger,
}: OpenAILanguageModelOptions): LanguageModel {
  const mapError = (error: unknown) => mapOpenAIError(error, { secrets: [client.apiKey] });
  const reasoning = isOpenAIReasoningModel(modelId);

  function toRequestParams(options: CallOptions): RequestParams {
    if (options.maxTokens !== undefined && options.maxTokens < 1) {
      throw new InvalidRequestError("maxTokens must be at least 1", { provider });
    }
    if (reasoning && (options.temperature !== undefined || options.topP !== undefined)) {
      logger?.debug({ provider, modelId }, "reasoning model: temperature and topP are not sent");
    }
    const stop = options.stop?.filter((text) => text.length > 0);
    return {
      model: modelId,
      messages: convertToOpenAIMessages(options.messages),
      // `max_tokens` is what every OpenAI-compatible server understands; OpenAI's reasoning models reject
      // it and take `max_completion_tokens` (which also counts their hidden reasoning tokens).
      ...(options.maxTokens !== undefined &&
        (reasoning ? { max_completion_tokens: options.maxTokens } : { max_tokens: options.maxTokens })),
      ...(!reasoning && options.temperature !== undefined && { temperature: options.temperature }),
      ...(!reasoning && options.topP !== undefined && { top_p: options.topP }),
      ...(stop?.length && { stop }),
      ...(options.seed !== undefined && { seed: options.seed }),
    };
  }

  async function* stream(options: CallOptions): AsyncGenerator<StreamPart> {
    const { signal } = options;
    const params = toRequestParams(options);
    let contentChunks = 0;
    let finishReason: FinishReason | undefined;
    let usage: Usage | undefined;
    try {
      const withUsage = Object.assign({}, params, { stream_options: { include_usage: true } });
      const chunks = await transport.stream(withUsage, signal);
      // On abort the SDK ends this loop without an error; the signal tells a cancel from a cut.
      for await (const chunk of chunks) {
        if (signal?.aborted) break;
        if (chunk.usage) {
          usage = {
            promptTokens: chunk.usage.prompt_tokens,
            completionTokens: chunk.usage.completion_tokens,
          };
        }
        const choice = chunk.choices[0];
        if (choice?.delta?.content) {
          contentChunks++;
          yield { type: "text-delta", text: choice.delta.content };
        }
        if (choice?.finish_reason) finishReason = mapOpenAIFinishReason(choice.finish_reason);
      }
    } catch (error) {
      // Once the finish reason is in, the answer is whole; only the usage chunk was lost.
      if (!signal?.aborted && finishReason === undefined) throw mapError(error);
    }

    const estimate: Usage = { promptTokens: usage?.promptTokens ?? 0, completionTokens: contentChunks };
    if (finishReason !== undefined) {
      if (!usage && !signal?.aborted) {
        // Some OpenAI-compatible servers ignore `stream_options.include_usage`.
        logger?.warn(
          { provider, modelId },
          "stream ended without usage; completion tokens estimated from chunks",
        );
      }
      yield { type: "finish", finishReason, usage: usage ?? estimate };
    } else if (signal?.aborted) {
      yield { type: "finish", finishReason: "cancelled", usage: estimate };
    } else {
      throw new ProviderError(
        `the OpenAI stream of "${modelId}" ended after ${contentChunks} chunks without a finish reason`,
        { provider, isRetryable: true },
      );
    }
  }

  async function generate(options: CallOptions): Promise<GenerateResult> {
    const { signal } = options;
    const params = toRequestParams(options);
    let completion: ChatCompletion;
    try {
      completion = await transport.complete(params, signal);
    } catch (error) {
      if (signal?.aborted) return { text: "", finishReason: "cancelled", usage: noUsage };
      throw mapError(error);
    }
    const choice = Array.isArray(completion.choices) ? completion.choices[0] : undefined;
    if (!choice) {
      throw new ProviderError(`OpenAI answered "${modelId}" without a choice`, {
        provider,
        isRetryable: true,
      });
    }
    return {
      text: choice.message?.content ?? "",
      finishReason: mapOpenAIFinishReason(choice.finish_reason),
      usage: completion.usage
        ? {
            promptTokens: completion.usage.prompt_tokens,
            completionTokens: completion.usage.completion_tokens,
          }
        : noUsage,
    };
  }

  return { provider, modelId, stream, generate };
}
