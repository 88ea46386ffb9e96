import { DEFAULT_PRICES, DEFAULT_PROVIDER_PRICES } from "./default-prices.js";
import type { ModelPrice } from "./model-price.js";
import { parsePricingConfig } from "./parse-pricing-config.js";

/** Tokens of one request, as providers report them. */
export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
}

/** A model's price and whether the table knows it (`known: false` is priced at 0 and worth a warning). */
export interface PriceLookup {
  price: ModelPrice;
  known: boolean;
}

/** Model prices: built-in defaults under config overrides. */
export interface PriceTable {
  /** The price of `<provider>/<model>`; undefined (nothing served) is unknown and free. */
  priceOf(modelServed: string | undefined): PriceLookup;
  /** What a request cost in USD: prompt tokens at the input rate plus completion tokens at the output rate. */
  costOf(modelServed: string | undefined, usage: TokenUsage): number;
}

/** Options for {@link createPriceTable}; `prices` is usually `parsePricingConfig(config.pricing)`. */
export interface PriceTableOptions {
  /** Overrides by exact id (`openai/gpt-4o`) or by provider (`openai/*`). */
  prices?: Record<string, ModelPrice>;
}

const FREE: ModelPrice = { inputPerMillion: 0, outputPerMillion: 0 };
// Dated snapshots (`gpt-4o-mini-2024-07-18`, `claude-sonnet-4-5-20250929`) cost what their alias does
// unless listed themselves.
const SNAPSHOT_SUFFIX = /-(\d{4}-\d{2}-\d{2}|\d{8})$/;

/**
 * Builds the price table. Lookup order, most specific first: configured exact id, built-in exact id, the
 * same two for the id without a date suffix, configured `<provider>/*`, built-in `<provider>/*`
 * (`llama-cpp/*` = 0); anything else is unknown and costs 0. Throws on invalid `prices`, at startup.
 */
export function createPriceTable(options: PriceTableOptions = {}): PriceTable {
  // Maps, not objects: an id such as `constructor` must not find Object.prototype.
  const configured = new Map(Object.entries(parsePricingConfig(options.prices ?? {})));
  const defaults = new Map(Object.entries(DEFAULT_PRICES));
  const providerDefaults = new Map(Object.entries(DEFAULT_PROVIDER_PRICES));

  function exact(id: string): ModelPrice | undefined {
    return configured.get(id) ?? defaults.get(id);
  }

  function priceOf(modelServed: string | undefined): PriceLookup {
    if (!modelServed) return { price: FREE, known: false };
    const alias = modelServed.replace(SNAPSHOT_SUFFIX, "");
    const slash = modelServed.indexOf("/");
    const providerWildcard = slash > 0 ? `${modelServed.slice(0, slash)}/*` : undefined;
    const price =
      exact(modelServed) ??
      (alias !== modelServed ? exact(alias) : undefined) ??
      (providerWildcard
        ? (configured.get(providerWildcard) ?? providerDefaults.get(providerWildcard))
        : undefined);
    return price ? { price, known: true } : { price: FREE, known: false };
  }

  return {
    priceOf,
    costOf(modelServed, usage) {
      const { price } = priceOf(modelServed);
      const prompt = tokens(usage.promptTokens);
      const completion = tokens(usage.completionTokens);
      const rates =
        price.longContext && prompt > price.longContext.abovePromptTokens ? price.longContext : price;
      return (prompt * rates.inputPerMillion + completion * rates.outputPerMillion) / 1_000_000;
    },
  };
}

function tokens(count: number): number {
  return Number.isFinite(count) && count > 0 ? count : 0;
}
