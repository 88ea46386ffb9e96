import { describe, expect, it } from "vitest";
import { DEFAULT_PRICES } from "./default-prices.js";
import { createPriceTable } from "./price-table.js";

const million = { promptTokens: 1_000_000, completionTokens: 1_000_000 };

describe("createPriceTable", () => {
  it("prices well-known models from the built-in table, in USD per million tokens", () => {
    const table = createPriceTable();
    expect(table.costOf("openai/gpt-4o-mini", { promptTokens: 1_000, completionTokens: 500 })).toBeCloseTo(
      0.00015 + 0.0003,
      12,
    );
    expect(table.costOf("openai/gpt-4.1", million)).toBeCloseTo(10, 12);
    expect(table.costOf("anthropic/claude-sonnet-5-5", million)).toBeCloseTo(12, 12);
    expect(table.priceOf("openai/o4-mini")).toEqual({
      price: { inputPerMillion: 1.1, outputPerMillion: 4.4 },
      known: true,
    });
  });

  it("has a price for every model NOA lists by default", () => {
    const listed = [
      ...["gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1"].map((id) => `openai/${id}`),
      ...["claude-opus-5-5", "claude-sonnet-5-5", "claude-haiku-5-5"].map((id) => `anthropic/${id}`),
    ];
    const table = createPriceTable();
    for (const id of listed) expect(table.priceOf(id).known, id).toBe(true);
  });

  it("bills the whole request at the long-context rate when the prompt is over the tier's threshold", () => {
    const table = createPriceTable();
    expect(
      table.costOf("anthropic/claude-haiku-5-5", { promptTokens: 100_000, completionTokens: 1_000 }),
    ).toBeCloseTo(100_000 * 0.1e-6 + 1_000 * 0.5e-6, 12);
    expect(
      table.costOf("anthropic/claude-haiku-5-5", { promptTokens: 100_001, completionTokens: 1_000 }),
    ).toBeCloseTo(100_001 * 0.5e-6 + 1_000 * 2.5e-6, 12);
  });

  it("prices local llama.cpp models at 0 and knows them", () => {
    const table = createPriceTable();
    expect(table.priceOf("llama-cpp/llama-2-tiny-random").known).toBe(true);
    expect(table.costOf("llama-cpp/llama-2-tiny-random", million)).toBe(0);
  });

  it("prices unknown models at 0 and says it does not know them", () => {
    const table = createPriceTable();
    for (const id of ["openai/some-future-model", "mystery/model", "gpt-4o", "constructor", "", undefined]) {
      expect(table.priceOf(id), String(id)).toEqual({
        price: { inputPerMillion: 0, outputPerMillion: 0 },
        known: false,
      });
      expect(table.costOf(id, million)).toBe(0);
    }
  });

  it("prices a dated snapshot like its alias unless the snapshot is listed itself", () => {
    const table = createPriceTable();
    expect(table.priceOf("openai/gpt-4o-mini-2024-07-18").price).toEqual(
      DEFAULT_PRICES["openai/gpt-4o-mini"],
    );
    expect(table.priceOf("anthropic/claude-sonnet-4-5-20250929").price).toEqual(
      DEFAULT_PRICES["anthropic/claude-sonnet-4-5"],
    );
    expect(table.priceOf("openai/gpt-4o-2024-05-13").price).toEqual({
      inputPerMillion: 5,
      outputPerMillion: 15,
    });
  });

  it("lets config override by exact id, then by provider wildcard, exact ids winning", () => {
    const table = createPriceTable({
      prices: {
        "openai/gpt-4o": { inputPerMillion: 1, outputPerMillion: 2 },
        "openai/*": { inputPerMillion: 7, outputPerMillion: 7 },
        "llama-cpp/*": { inputPerMillion: 0.01, outputPerMillion: 0.02 },
        "vllm/*": { inputPerMillion: 0, outputPerMillion: 0 },
      },
    });
    expect(table.priceOf("openai/gpt-4o").price).toEqual({ inputPerMillion: 1, outputPerMillion: 2 });
    expect(table.priceOf("openai/gpt-4o-mini").price).toEqual(DEFAULT_PRICES["openai/gpt-4o-mini"]);
    expect(table.priceOf("openai/llama3").price).toEqual({ inputPerMillion: 7, outputPerMillion: 7 });
    expect(table.costOf("llama-cpp/tiny", million)).toBeCloseTo(0.03, 12);
    expect(table.priceOf("vllm/qwen2.5")).toMatchObject({ known: true });
  });

  it("counts negative or non-finite token counts as 0", () => {
    const table = createPriceTable();
    expect(table.costOf("openai/gpt-4o", { promptTokens: -5, completionTokens: Number.NaN })).toBe(0);
  });

  it("refuses invalid prices at construction", () => {
    expect(() =>
      createPriceTable({ prices: { "openai/gpt-4o": { inputPerMillion: -1, outputPerMillion: 1 } } }),
    ).toThrow(/openai\/gpt-4o.inputPerMillion/);
  });
});
