import { TRPCError } from "@trpc/server";
import { chatInput } from "../inputs/chat-input.js";
import { toCompleteRequest } from "../inputs/to-complete-request.js";
import { BffError } from "../to-trpc-error.js";
import { protectedProcedure, router } from "../trpc.js";
import {
  toWebCompletion,
  toWebSummary,
  type WebCompletion,
  type WebStreamEvent,
} from "../web-types/web-completion.js";

/** InferenceService: whole answers and streamed ones. */
export const chatRouter = router({
  /** The whole answer at once (Complete). */
  complete: protectedProcedure
    .input(chatInput)
    .mutation(async ({ ctx, input, signal }): Promise<WebCompletion> => {
      const response = await ctx.call(
        ctx.session.apiKey,
        (options) => ctx.rpc.inference.complete(toCompleteRequest(input), options),
        // Generation is bounded by rpc-server's routing timeouts and by the client, not by the BFF.
        { signal, timeoutMs: null },
      );
      return toWebCompletion(response);
    }),

  /**
   * The answer as it is generated (StreamComplete), over SSE: `delta` events, then `done` with usage and
   * cost. The subscription's signal is the RPC's: unsubscribing (or closing the tab) cancels the call,
   * and rpc-server stops the generation. A failure is the last event, `error`, rather than a thrown
   * error: tRPC's SSE client reconnects after some error codes, which here would start a second
   * generation.
   */
  stream: protectedProcedure.input(chatInput).subscription(async function* ({
    ctx,
    input,
    signal,
  }): AsyncGenerator<WebStreamEvent> {
    try {
      for await (const part of ctx.stream(
        ctx.session.apiKey,
        (options) => ctx.rpc.inference.streamComplete(toCompleteRequest(input), options),
        { signal },
      )) {
        if (part.text) yield { type: "delta", text: part.text };
        if (part.usage) yield { type: "done", ...toWebSummary(part) };
      }
    } catch (error) {
      if (signal?.aborted) return;
      const mapped = error instanceof TRPCError ? error : undefined;
      yield {
        type: "error",
        code: mapped?.code ?? "INTERNAL_SERVER_ERROR",
        message: mapped?.message ?? `internal error (correlation id: ${ctx.correlationId})`,
        correlationId: ctx.correlationId,
        retryAfterMs: mapped instanceof BffError ? (mapped.retryAfterMs ?? null) : null,
      };
    }
  }),
});
