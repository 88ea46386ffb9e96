import type Anthropic from "@anthropic-ai/sdk";
import { toAbortSignal } from "../call-signal.js";
import { collectStream } from "../collect-stream.js";
import { InvalidRequestError } from "../errors/invalid-request-error.js";
import { ProviderError } from "../errors/provider-error.js";
import type { CallOptions, GenerateResult, LanguageModel, StreamPart, Usage } from "../language-model.js";
import {
  ANTHROPIC_PROVIDER_ID,
  type MessageCreateParamsStreaming,
  type RawMessageStreamEvent,
  type StopReason,
} from "./anthropic-api.js";
import { convertToAnthropicMessages } from "./convert-to-anthropic-messages.js";
import { mapAnthropicError } from "./map-anthropic-error.js";
import { mapAnthropicStopReason } from "./map-anthropic-stop-reason.js";

/** `max_tokens` when the caller sets none: Anthropic requires one, and 4096 fits every current model. */
export const DEFAULT_ANTHROPIC_MAX_TOKENS = 4096;

/** What an Anthropic language model needs; the client should have `maxRetries: 0` (the router retries). */
export interface AnthropicLanguageModelOptions {
  client: Anthropic;
  /** Anthropic's model id, e.g. `claude-sonnet-5-5`. */
  modelId: string;
  defaultMaxTokens?: number;
}

/** Token counts as Anthropic reports them while a stream runs. */
interface StreamState {
  promptTokens: number;
  /** The latest cumulative `output_tokens`. */
  outputTokens: number;
  textDeltas: number;
  stopReason: StopReason | null;
  stopped: boolean;
}

/**
 * A Claude model behind the LanguageModel contract, over the Messages API with streaming
 * (https://docs.anthropic.com/en/api/messages-streaming). `generate` collects the stream, so an abort
 * keeps the partial text and the usage so far, and long answers need no non-streaming timeout.
 * `temperature`, `topP` and `seed` are not sent: API version 2026-10-21, which this SDK speaks, rejects
 * sampling parameters with a 400 even at their defaults, and Anthropic has never had a seed.
 */
export function createAnthropicLanguageModel({
  client,
  modelId,
  defaultMaxTokens = DEFAULT_ANTHROPIC_MAX_TOKENS,
}: AnthropicLanguageModelOptions): LanguageModel {
  const provider = ANTHROPIC_PROVIDER_ID;

  function requestBody(options: CallOptions): MessageCreateParamsStreaming {
    const maxTokens = options.maxTokens ?? defaultMaxTokens;
    if (!Number.isInteger(maxTokens) || maxTokens < 1) {
      throw new InvalidRequestError("maxTokens must be a whole number of at least 1", { provider });
    }
    const { system, messages } = convertToAnthropicMessages(options.messages);
    const stop = options.stop?.filter((sequence) => sequence.length > 0) ?? [];
    return {
      model: modelId,
      max_tokens: maxTokens,
      messages,
      stream: true,
      ...(system !== undefined && { system }),
      ...(stop.length > 0 && { stop_sequences: stop }),
    };
  }

  async function* stream(options: CallOptions): AsyncGenerator<StreamPart> {
    const body = requestBody(options);
    const { signal } = options;
    const state: StreamState = {
      promptTokens: 0,
      outputTokens: 0,
      textDeltas: 0,
      stopReason: null,
      stopped: false,
    };
    let events: AsyncIterable<RawMessageStreamEvent> | undefined;
    try {
      // The signal reaches fetch: aborting closes the upstream connection, mid-body too.
      events = await client.messages.create(body, { signal: toAbortSignal(signal) });
      for await (const event of events) {
        // Events already buffered when the signal fired are not the caller's any more.
        if (signal?.aborted) break;
        const text = apply(state, event);
        if (text) yield { type: "text-delta", text };
        else if (event.type === "message_start" || event.type === "message_delta")
          options.onUsage?.(usageSoFar(state));
      }
    } catch (error) {
      // The SDK throws APIUserAbortError for an abort before the response; aborts are not errors.
      if (!signal?.aborted) throw mapAnthropicError(error);
    }
    if (state.stopped) {
      yield {
        type: "finish",
        finishReason: mapAnthropicStopReason(state.stopReason),
        usage: { promptTokens: state.promptTokens, completionTokens: state.outputTokens },
      };
    } else if (signal?.aborted) {
      yield { type: "finish", finishReason: "cancelled", usage: usageSoFar(state) };
    } else {
      // A clean end of the body without message_stop is a cut stream, not a short answer.
      throw new ProviderError("anthropic: the stream ended before message_stop", {
        provider,
        isRetryable: true,
      });
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

/** Folds one stream event into the state; returns the text it adds, if any. */
function apply(state: StreamState, event: RawMessageStreamEvent): string | undefined {
  switch (event.type) {
    case "message_start": {
      const { usage } = event.message;
      state.promptTokens = promptTokensOf(usage);
      state.outputTokens = usage.output_tokens;
      return undefined;
    }
    case "content_block_delta":
      // Thinking, citations and tool input deltas are not part of the answer's text.
      if (event.delta.type !== "text_delta" || event.delta.text.length === 0) return undefined;
      state.textDeltas += 1;
      return event.delta.text;
    case "message_delta":
      state.stopReason = event.delta.stop_reason;
      state.outputTokens = event.usage.output_tokens;
      // Cumulative like output_tokens when present (server tools can add input mid-answer).
      if (typeof event.usage.input_tokens === "number") {
        state.promptTokens = promptTokensOf({ ...event.usage, input_tokens: event.usage.input_tokens });
      }
      return undefined;
    case "message_stop":
      state.stopped = true;
      return undefined;
    default:
      return undefined;
  }
}

/** Anthropic's `input_tokens` leaves out cached tokens; the prompt is all three together. */
function promptTokensOf(usage: {
  input_tokens: number;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
}): number {
  return usage.input_tokens + (usage.cache_creation_input_tokens ?? 0) + (usage.cache_read_input_tokens ?? 0);
}

/**
 * Usage of a stream cut short by the caller: `output_tokens` is only final in `message_delta`, so the
 * text deltas received (each at least one token) give a floor when it is higher.
 */
function usageSoFar(state: StreamState): Usage {
  return {
    promptTokens: state.promptTokens,
    completionTokens: Math.max(state.outputTokens, state.textDeltas),
  };
}
