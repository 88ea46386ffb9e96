import type { Usage } from "./language-model.js";

/**
 * The usage of a call cut or cancelled before its `finish`: the tokens the provider had counted
 * (`CallOptions.onUsage`; its prompt at least, where it tells), and at least one completion token per
 * chunk `delivered`.
 */
export function usageOfCutCall(counted: Usage | undefined, delivered: number): Usage {
  return {
    promptTokens: counted?.promptTokens ?? 0,
    completionTokens: Math.max(delivered, counted?.completionTokens ?? 0),
  };
}
