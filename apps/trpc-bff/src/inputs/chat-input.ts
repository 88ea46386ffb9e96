import { z } from "zod";

/** A chat message; the contract's Message with its role spelled as web clients do. */
export const messageInput = z.object({
  role: z.enum(["system", "user", "assistant"]),
  content: z.string().min(1, "must not be empty").max(200_000, "at most 200,000 characters"),
});

/**
 * A completion request, checked field by field as rpc-server checks it (proto comments and DESIGN.md's
 * "bad input"), so a web form can show each error beside its field before any call is made.
 */
export const chatInput = z.object({
  model: z.string().trim().min(1, "choose a model").max(256),
  messages: z.array(messageInput).min(1, "at least one message").max(500),
  maxTokens: z.number().int("a whole number").positive("must be greater than 0").max(1_000_000).optional(),
  temperature: z.number().min(0, "must be between 0 and 2").max(2, "must be between 0 and 2").optional(),
  topP: z.number().gt(0, "must be in (0, 1]").max(1, "must be in (0, 1]").optional(),
  stop: z.array(z.string().min(1, "must not be empty")).max(4, "at most 4 stop sequences").optional(),
  seed: z.number().int().min(0).max(4_294_967_295).optional(),
  cache: z.enum(["default", "skip", "refresh", "force"]).optional(),
});

export type ChatInput = z.infer<typeof chatInput>;
