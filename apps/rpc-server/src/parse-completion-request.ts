import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { CacheMode, type CompleteRequest, Role, type StreamCompleteRequest } from "@noa/proto";
import { BadRequestSchema } from "@noa/proto/google/rpc";
import type { CacheOptions, CallOptions, CallSignal, ChatRole } from "@noa/providers";
import { checkCompletionOptions } from "./check-completion-options.js";

const roles: Partial<Record<Role, ChatRole>> = {
  [Role.SYSTEM]: "system",
  [Role.USER]: "user",
  [Role.ASSISTANT]: "assistant",
};

const cacheModes: Partial<Record<CacheMode, CacheOptions["mode"]>> = {
  [CacheMode.UNSPECIFIED]: "default",
  [CacheMode.SKIP]: "skip",
  [CacheMode.REFRESH]: "refresh",
  [CacheMode.FORCE]: "force",
};

/** INVALID_ARGUMENT with a message that says what to fix and a google.rpc.BadRequest detail naming the field. */
function invalid(message: string, field: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument, undefined, [
    {
      desc: BadRequestSchema,
      value: create(BadRequestSchema, { fieldViolations: [{ field, description: message }] }),
    },
  ]);
}

/**
 * Checks what protobuf types cannot (ranges, required fields; the rules shared with the REST face are in
 * checkCompletionOptions) and turns a request into provider call options. Every refusal is
 * INVALID_ARGUMENT naming the field and what to send instead.
 */
export function parseCompletionRequest(
  request: CompleteRequest | StreamCompleteRequest,
  signal: CallSignal,
): { model: string; options: CallOptions } {
  if (request.model.trim() === "") {
    throw invalid(
      'model is required: set it to a model id such as "llama-cpp/<model>" (ModelService.ListModels lists them)',
      "model",
    );
  }
  const messages = request.messages.map((message, index) => {
    const role = roles[message.role];
    if (!role) {
      throw invalid(
        `messages[${index}].role must be ROLE_SYSTEM, ROLE_USER or ROLE_ASSISTANT`,
        `messages[${index}].role`,
      );
    }
    return { role, content: message.content };
  });
  const options = {
    messages,
    maxTokens: request.maxTokens,
    temperature: request.temperature,
    topP: request.topP,
    stop: request.stop.length > 0 ? [...request.stop] : undefined,
    seed: request.seed,
  };
  checkCompletionOptions(options, invalid);
  const cache = request.cache && parseCacheControl(request.cache);
  // Not `{ ...options, signal }`: on Node 20 each key a literal adds after a spread costs ~1 µs.
  return {
    model: request.model.trim(),
    options: Object.assign(options, cache ? { cache, signal } : { signal }),
  };
}

/** The contract's CacheControl → the call's cache options; an unknown mode is refused by name. */
function parseCacheControl(control: NonNullable<CompleteRequest["cache"]>): CacheOptions {
  const mode = cacheModes[control.mode];
  if (!mode) {
    throw invalid(
      `cache.mode ${control.mode} is not a CacheMode: use CACHE_MODE_UNSPECIFIED, CACHE_MODE_SKIP, CACHE_MODE_REFRESH or CACHE_MODE_FORCE`,
      "cache.mode",
    );
  }
  return { mode, ...(control.ttlSeconds !== undefined && { ttlSeconds: control.ttlSeconds }) };
}
