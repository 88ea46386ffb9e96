/** What one model costs, in USD per million tokens. */
export interface ModelPrice {
  inputPerMillion: number;
  outputPerMillion: number;
  /** Rates for the whole request (input and output) when its prompt is longer than `abovePromptTokens`. */
  longContext?: LongContextPrice;
}

/** A long-prompt tier, as Anthropic prices Claude Haiku 5.5 above 100 000 prompt tokens. */
export interface LongContextPrice {
  abovePromptTokens: number;
  inputPerMillion: number;
  outputPerMillion: number;
}
