import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { type CompleteRequest, Role, type StreamCompleteRequest } from "@noa/proto";
import { BadRequestSchema } from "@noa/proto/google/rpc";
import type { CallOptions, ChatRole } from "@noa/providers";

const maxStopSequences = 4;

const roles: Partial<Record<Role, ChatRole>> = {
  [Role.SYSTEM]: "system",
  [Role.USER]: "user",
  [Role.ASSISTANT]: "assistant",
};

/**
 * Checks what protobuf types cannot (ranges, required fields) and turns a request into provider call
 * options. Every refusal is INVALID_ARGUMENT naming the field and what to send instead.
 */
export function parseCompletionRequest(
  request: CompleteRequest | StreamCompleteRequest,
  signal: AbortSignal,
): { model: string; options: CallOptions } {
  // The message says what to fix; the google.rpc.BadRequest detail names the field for programs.
  const invalid = (message: string, field: string) =>
    new ConnectError(message, Code.InvalidArgument, undefined, [
      {
        desc: BadRequestSchema,
        value: create(BadRequestSchema, { fieldViolations: [{ field, description: message }] }),
      },
    ]);
  if (request.model.trim() === "") {
    throw invalid(
      'model is required: set it to a model id such as "llama-cpp/<model>" (ModelService.ListModels lists them)',
      "model",
    );
  }
  if (request.messages.length === 0) throw invalid("messages must hold at least one message", "messages");
  const messages = request.messages.map((message, index) => {
    const role = roles[message.role];
    if (!role)
      throw invalid(
        `messages[${index}].role must be ROLE_SYSTEM, ROLE_USER or ROLE_ASSISTANT`,
        `messages[${index}].role`,
      );
    if (message.content === "")
      throw invalid(`messages[${index}].content must not be empty`, `messages[${index}].content`);
    return { role, content: message.content };
  });
  if (request.maxTokens !== undefined && request.maxTokens <= 0) {
    throw invalid(
      `max_tokens must be greater than 0 (got ${request.maxTokens}); leave it unset for the model's default`,
      "max_tokens",
    );
  }
  const { temperature, topP } = request;
  if (temperature !== undefined && !(temperature >= 0 && temperature <= 2)) {
    throw invalid(`temperature must be between 0 and 2 (got ${temperature})`, "temperature");
  }
  if (topP !== undefined && !(topP > 0 && topP <= 1)) {
    throw invalid(`top_p must be greater than 0 and at most 1 (got ${topP})`, "top_p");
  }
  if (request.stop.length > maxStopSequences) {
    throw invalid(`stop holds at most ${maxStopSequences} sequences (got ${request.stop.length})`, "stop");
  }
  const emptyStop = request.stop.indexOf("");
  if (emptyStop !== -1) throw invalid(`stop[${emptyStop}] must not be empty`, `stop[${emptyStop}]`);
  return {
    model: request.model.trim(),
    options: {
      messages,
      maxTokens: request.maxTokens,
      temperature,
      topP,
      stop: request.stop.length > 0 ? [...request.stop] : undefined,
      seed: request.seed,
      signal,
    },
  };
}
