import { LlamaChat } from "node-llama-cpp";
import { collectStream } from "../collect-stream.js";
import { ContextLengthExceededError } from "../errors/context-length-exceeded-error.js";
import { InvalidRequestError } from "../errors/invalid-request-error.js";
import { NoSuchModelError } from "../errors/no-such-model-error.js";
import { ProviderError } from "../errors/provider-error.js";
import { forwardAbort } from "../forward-abort.js";
import type { CallOptions, GenerateResult, LanguageModel, StreamPart, Usage } from "../language-model.js";
import { convertToLlamaChatHistory } from "./convert-to-llama-chat-history.js";
import type { GenerationOutcome, LlamaCppModelManager, SequenceSlot } from "./llama-cpp-model-manager.js";
import { LLAMA_CPP_PROVIDER_ID } from "./llama-cpp-provider-id.js";
import { mapLlamaFinishReason } from "./map-llama-finish-reason.js";

/** What a llama.cpp language model needs: its file stem and the manager that loads it. */
export interface LlamaCppLanguageModelOptions {
  modelId: string;
  manager: LlamaCppModelManager;
}

type Outcome = GenerationOutcome & Usage;

/**
 * A local GGUF model behind the LanguageModel contract. Unset sampling options keep node-llama-cpp's
 * defaults (greedy); `maxTokens` is capped by the room the prompt leaves in the context, so a long
 * answer ends with `length` instead of silently shifting the conversation out of the context.
 */
export function createLlamaCppLanguageModel({
  modelId,
  manager,
}: LlamaCppLanguageModelOptions): LanguageModel {
  const provider = LLAMA_CPP_PROVIDER_ID;

  async function generateOnSequence(
    { sequence, chatWrapper, signal }: SequenceSlot,
    options: CallOptions,
    onText: (text: string, tokens: number) => void,
  ): Promise<Outcome> {
    const history = convertToLlamaChatHistory(options.messages);
    const promptTokens = chatWrapper
      .generateContextState({ chatHistory: history })
      .contextText.tokenize(sequence.model.tokenizer).length;
    const room = sequence.contextSize - promptTokens;
    if (room < 1) {
      // Refused before generating: nothing was used, so nothing is reported (or charged).
      throw new ContextLengthExceededError(
        { provider },
        `the prompt is ${promptTokens} tokens but model "${provider}/${modelId}" has a context of ${sequence.contextSize} tokens for prompt and answer; shorten the conversation`,
      );
    }
    options.onUsage?.({ promptTokens, completionTokens: 0 });
    const stop = options.stop?.filter((text) => text.length > 0);
    const chat = new LlamaChat({ contextSequence: sequence, chatWrapper });
    try {
      const { metadata } = await chat.generateResponse(history, {
        signal,
        stopOnAbortSignal: true,
        maxTokens: Math.min(options.maxTokens ?? room, room),
        temperature: options.temperature,
        topP: options.topP,
        seed: options.seed,
        ...(stop?.length && { customStopTriggers: stop }),
        // The answer's own text (not a thought segment's), with the tokens it took.
        onResponseChunk: (chunk) => {
          if (chunk.type === undefined) onText(chunk.text, chunk.tokens.length);
        },
      });
      return {
        promptTokens,
        // Counted by the sequence, so tokens held back as a stop trigger's start are included.
        completionTokens: sequence.tokenMeter.usedOutputTokens,
        finishReason: mapLlamaFinishReason(metadata.stopReason),
      };
    } catch (error) {
      // An abort before the first token rejects even with stopOnAbortSignal.
      if (!signal.aborted) throw error;
      return {
        promptTokens,
        completionTokens: sequence.tokenMeter.usedOutputTokens,
        finishReason: "cancelled",
      };
    } finally {
      chat.dispose();
    }
  }

  async function* stream(options: CallOptions): AsyncGenerator<StreamPart> {
    if (options.maxTokens !== undefined && options.maxTokens < 1) {
      throw new InvalidRequestError("maxTokens must be at least 1", { provider });
    }
    // Aborted by the caller's signal, or by us when the consumer stops iterating early.
    const controller = new AbortController();
    const detach = forwardAbort(controller, [options.signal]);
    const pending: string[] = [];
    // Tokens of the pending text, and of the text yielded so far: a cancelled answer counts only those.
    let pendingTokens = 0;
    let yieldedTokens = 0;
    let promptTokens = 0;
    let wake: (() => void) | undefined;
    const notify = () => {
      wake?.();
      wake = undefined;
    };
    let result: { outcome: Outcome } | { error: unknown } | undefined;
    const run = manager
      .withSequence(modelId, { signal: controller.signal }, (slot) =>
        generateOnSequence(
          slot,
          {
            ...options,
            onUsage: (usage) => {
              promptTokens = usage.promptTokens;
              options.onUsage?.(usage);
            },
          },
          (text, tokens) => {
            pendingTokens += tokens;
            if (text.length === 0) return;
            pending.push(text);
            notify();
          },
        ),
      )
      .then(
        (outcome) => {
          result = { outcome };
        },
        (error: unknown) => {
          result = { error };
        },
      )
      .finally(notify);

    try {
      while (true) {
        // Text generated after the caller left is never sent, nor counted as delivered.
        if (pending.length > 0 && !controller.signal.aborted) {
          yieldedTokens += pendingTokens;
          pendingTokens = 0;
          options.onUsage?.({ promptTokens, completionTokens: yieldedTokens });
          yield { type: "text-delta", text: pending.splice(0).join("") };
        } else if (result) break;
        else await new Promise<void>((resolve) => (wake = resolve));
      }
      if ("outcome" in result) {
        const { finishReason } = result.outcome;
        // A cancelled answer used the tokens its caller received; the ones generated after it left were not delivered.
        const completionTokens =
          finishReason === "cancelled" ? yieldedTokens : result.outcome.completionTokens;
        yield {
          type: "finish",
          finishReason,
          usage: { promptTokens: result.outcome.promptTokens, completionTokens },
        };
      } else if (controller.signal.aborted) {
        // Aborted while waiting for the model to load or for a free sequence: nothing was generated.
        yield { type: "finish", finishReason: "cancelled", usage: { promptTokens: 0, completionTokens: 0 } };
      } else {
        throw toProviderError(result.error, modelId);
      }
    } finally {
      controller.abort();
      detach();
      await run;
    }
  }

  return {
    provider,
    modelId,
    stream,
    generate: (options: CallOptions): Promise<GenerateResult> =>
      collectStream(stream(options), { provider, modelId }),
  };
}

function toProviderError(error: unknown, modelId: string): Error {
  if (error instanceof ProviderError || error instanceof NoSuchModelError) return error;
  return new ProviderError(`llama.cpp generation with "${modelId}" failed`, {
    provider: LLAMA_CPP_PROVIDER_ID,
    isRetryable: false,
    cause: error,
  });
}
