import type { ModelPrice } from "./model-price.js";

const MODEL_KEY = /^[^/\s*]+\/(\*|[^\s*]+)$/;
const PRICE_FIELDS = new Set(["inputPerMillion", "outputPerMillion", "longContext"]);
const LONG_CONTEXT_FIELDS = new Set(["abovePromptTokens", "inputPerMillion", "outputPerMillion"]);

/**
 * Parses the `pricing` part of NOA_CONFIG: `{ "<provider>/<model>" | "<provider>/*": { inputPerMillion,
 * outputPerMillion, longContext? } }` in USD per million tokens. Unknown fields are refused, so a typo never
 * silently bills at a default; throws an Error listing each bad field by path, like the routing config.
 */
export function parsePricingConfig(input: unknown): Record<string, ModelPrice> {
  const problems: string[] = [];
  const prices: Record<string, ModelPrice> = {};
  if (input === undefined || input === null) return prices;
  if (!isPlainObject(input)) {
    throw new Error("invalid pricing config: (root): expected an object of model id → price");
  }
  for (const [key, value] of Object.entries(input)) {
    if (!MODEL_KEY.test(key)) {
      problems.push(`${key}: a key is "<provider>/<model>" or "<provider>/*"`);
      continue;
    }
    const price = parsePrice(value, key, problems);
    if (price) prices[key] = price;
  }
  if (problems.length > 0) throw new Error(`invalid pricing config: ${problems.join("; ")}`);
  return prices;
}

function parsePrice(value: unknown, path: string, problems: string[]): ModelPrice | undefined {
  if (!isPlainObject(value)) {
    problems.push(`${path}: expected { inputPerMillion, outputPerMillion }`);
    return undefined;
  }
  const before = problems.length;
  unknownFields(value, PRICE_FIELDS, path, problems);
  const inputPerMillion = rate(value.inputPerMillion, `${path}.inputPerMillion`, problems);
  const outputPerMillion = rate(value.outputPerMillion, `${path}.outputPerMillion`, problems);
  let longContext: ModelPrice["longContext"];
  if (value.longContext !== undefined) {
    const tier = value.longContext;
    const tierPath = `${path}.longContext`;
    if (!isPlainObject(tier)) {
      problems.push(`${tierPath}: expected { abovePromptTokens, inputPerMillion, outputPerMillion }`);
    } else {
      unknownFields(tier, LONG_CONTEXT_FIELDS, tierPath, problems);
      const above = tier.abovePromptTokens;
      if (typeof above !== "number" || !Number.isInteger(above) || above < 0) {
        problems.push(`${tierPath}.abovePromptTokens: expected an integer ≥ 0`);
      }
      longContext = {
        abovePromptTokens: above as number,
        inputPerMillion: rate(tier.inputPerMillion, `${tierPath}.inputPerMillion`, problems),
        outputPerMillion: rate(tier.outputPerMillion, `${tierPath}.outputPerMillion`, problems),
      };
    }
  }
  if (problems.length > before) return undefined;
  return longContext
    ? { inputPerMillion, outputPerMillion, longContext }
    : { inputPerMillion, outputPerMillion };
}

function rate(value: unknown, path: string, problems: string[]): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    problems.push(`${path}: expected a number ≥ 0 (USD per million tokens)`);
    return 0;
  }
  return value;
}

function unknownFields(value: Record<string, unknown>, known: Set<string>, path: string, problems: string[]) {
  for (const field of Object.keys(value)) {
    if (!known.has(field)) problems.push(`${path}.${field}: unknown field`);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
