import { describe, expect, it } from "vitest";
import { LabelSeries } from "./label-series.js";

describe("LabelSeries", () => {
  it("finds a series by its values, builds its labels once, and keeps first-seen order", () => {
    const series = new LabelSeries("m", ["a", "b"], (labels) => ({ labels, hits: 0 }));
    for (const values of [
      ["x", "1"],
      ["y", "1"],
      ["x", "2"],
      ["x", "1"],
    ] as const)
      series.get(values).hits++;
    expect(series.all).toEqual([
      { labels: { a: "x", b: "1" }, hits: 2 },
      { labels: { a: "y", b: "1" }, hits: 1 },
      { labels: { a: "x", b: "2" }, hits: 1 },
    ]);
    expect(Object.isFrozen(series.get(["x", "1"]).labels)).toBe(true);
    series.clear();
    expect(series.all).toEqual([]);
    expect(series.get(["x", "1"]).hits).toBe(0);
  });

  it("refuses the wrong number of values, values that are not strings and invalid label names", () => {
    const series = new LabelSeries("m", ["status"], (labels) => ({ labels }));
    expect(() => series.get([])).toThrow("0 label values for 1 label names");
    // A number would make a second series that prints the same as "200": Prometheus refuses duplicates.
    expect(() => series.get([200 as unknown as string])).toThrow(TypeError);
    expect(series.all).toEqual([]);
    expect(() => new LabelSeries("m", ["a-b"], () => ({}))).toThrow("invalid label name");
    expect(() => new LabelSeries("m", ["__name__"], () => ({}))).toThrow("invalid label name");
    expect(() => new LabelSeries("m", ["a", "a"], () => ({}))).toThrow("duplicate");
  });
});
