import type { CallSignal } from "../call-signal.js";
import { collectStream } from "../collect-stream.js";
import type { LanguageModel, StreamPart } from "../language-model.js";

/** What one call of a fake model does. */
export type FakeBehaviour =
  /** Streams these chunks, then finishes `stop`. */
  | { chunks: string[] }
  /** Throws before any token. */
  | { error: Error }
  /** Streams these chunks, then throws. */
  | { chunks: string[]; thenError: Error }
  /** Streams these chunks, then produces nothing until the signal aborts. */
  | { stallAfter: string[] };

/**
 * A scripted LanguageModel for wrapper tests: each call takes the next behaviour (the last one repeats).
 * Follows the abort contract: an abort ends the stream with `cancelled`.
 */
export function createFakeLanguageModel(provider: string, modelId: string, behaviours: FakeBehaviour[]) {
  const state = { calls: 0, aborted: 0 };
  const next = (): FakeBehaviour => {
    const behaviour = behaviours[Math.min(state.calls, behaviours.length - 1)];
    state.calls++;
    if (!behaviour) throw new Error("no behaviour scripted");
    return behaviour;
  };

  async function* stream(signal: CallSignal | undefined): AsyncGenerator<StreamPart> {
    const behaviour = next();
    if ("error" in behaviour) throw behaviour.error;
    const chunks = "stallAfter" in behaviour ? behaviour.stallAfter : behaviour.chunks;
    let sent = 0;
    for (const chunk of chunks) {
      if (signal?.aborted) break;
      await Promise.resolve();
      yield { type: "text-delta", text: chunk };
      sent++;
    }
    if ("thenError" in behaviour) throw behaviour.thenError;
    if ("stallAfter" in behaviour && !signal?.aborted) {
      await new Promise((resolve) => signal?.addEventListener("abort", resolve, { once: true }));
    }
    if (signal?.aborted) state.aborted++;
    yield {
      type: "finish",
      finishReason: signal?.aborted ? "cancelled" : "stop",
      usage: { promptTokens: 1, completionTokens: sent },
    };
  }

  const model: LanguageModel = {
    provider,
    modelId,
    stream: (options) => stream(options.signal),
    generate: (options) => collectStream(stream(options.signal), { provider, modelId }),
  };
  return { model, state };
}

/** Reads a stream to its end or its error, for tests that assert both what arrived and how it ended. */
export async function drainStream(
  stream: AsyncIterable<StreamPart>,
): Promise<{ parts: StreamPart[]; error: unknown }> {
  const parts: StreamPart[] = [];
  try {
    for await (const part of stream) parts.push(part);
    return { parts, error: undefined };
  } catch (error) {
    return { parts, error };
  }
}
