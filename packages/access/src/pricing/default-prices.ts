import type { ModelPrice } from "./model-price.js";

/**
 * Built-in standard rates (no batch discount, no prompt caching), USD per million tokens, checked on
 * 2026-11-26. Anthropic: the model pages of https://platform.claude.com/docs (Opus 5.5 $4/$20, Sonnet 5.5
 * $2/$10, Haiku 5.5 $0.10/$0.50 up to 100 000 prompt tokens and $0.50/$2.50 above). OpenAI:
 * https://openai.com/api/pricing as published for these models (unchanged since their launch or, for o3,
 * since the June 2025 cut). Config overrides any of them; `llama-cpp/*` is free unless configured.
 */
export const DEFAULT_PRICES: Readonly<Record<string, ModelPrice>> = {
  "openai/gpt-4o-mini": { inputPerMillion: 0.15, outputPerMillion: 0.6 },
  "openai/gpt-4o": { inputPerMillion: 2.5, outputPerMillion: 10 },
  // The first gpt-4o snapshot kept its launch price; later snapshots cost what `gpt-4o` does.
  "openai/gpt-4o-2024-05-13": { inputPerMillion: 5, outputPerMillion: 15 },
  "openai/gpt-4.1": { inputPerMillion: 2, outputPerMillion: 8 },
  "openai/gpt-4.1-mini": { inputPerMillion: 0.4, outputPerMillion: 1.6 },
  "openai/gpt-4.1-nano": { inputPerMillion: 0.1, outputPerMillion: 0.4 },
  "openai/o3": { inputPerMillion: 2, outputPerMillion: 8 },
  "openai/o3-mini": { inputPerMillion: 1.1, outputPerMillion: 4.4 },
  "openai/o4-mini": { inputPerMillion: 1.1, outputPerMillion: 4.4 },
  "openai/gpt-5": { inputPerMillion: 1.25, outputPerMillion: 10 },
  "openai/gpt-5-mini": { inputPerMillion: 0.25, outputPerMillion: 2 },
  "openai/gpt-5-nano": { inputPerMillion: 0.05, outputPerMillion: 0.4 },

  "anthropic/claude-opus-5-5": { inputPerMillion: 4, outputPerMillion: 20 },
  "anthropic/claude-sonnet-5-5": { inputPerMillion: 2, outputPerMillion: 10 },
  "anthropic/claude-haiku-5-5": {
    inputPerMillion: 0.1,
    outputPerMillion: 0.5,
    longContext: { abovePromptTokens: 100_000, inputPerMillion: 0.5, outputPerMillion: 2.5 },
  },
  "anthropic/claude-opus-5": { inputPerMillion: 5, outputPerMillion: 25 },
  "anthropic/claude-sonnet-5": { inputPerMillion: 2, outputPerMillion: 10 },
  "anthropic/claude-opus-4-5": { inputPerMillion: 5, outputPerMillion: 25 },
  "anthropic/claude-sonnet-4-5": { inputPerMillion: 3, outputPerMillion: 15 },
  "anthropic/claude-haiku-4-5": { inputPerMillion: 1, outputPerMillion: 5 },
};

/** Prices by `<provider>/*` that apply when no exact id matches: local models cost nothing. */
export const DEFAULT_PROVIDER_PRICES: Readonly<Record<string, ModelPrice>> = {
  "llama-cpp/*": { inputPerMillion: 0, outputPerMillion: 0 },
};
