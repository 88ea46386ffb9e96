import { Histogram } from "prom-client";
import { describe, expect, it } from "vitest";
import { expectSameExposition, newRegistry } from "./__fixtures__/expect-same-exposition.js";
import { FoldedHistogram } from "./folded-histogram.js";

const buckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const labelNames = ["provider", "model"] as const;
const updates: Array<[[string, string], number]> = [
  [["openai", "gpt-4o-mini"], 0.3],
  [["openai", "gpt-4o-mini"], 0.01],
  [["llama-cpp", "tiny"], 12],
  [["openai", "gpt-4o-mini"], 0.1 + 0.2],
  [["llama-cpp", "tiny"], 0],
  [["openai", "gpt-4o"], -1],
  [["llama-cpp", "tiny"], 10],
];

/** The same metric twice: prom-client's Histogram in one registry, FoldedHistogram in the other. */
function pair(openMetrics = false) {
  const expected = newRegistry(openMetrics);
  const actual = newRegistry(openMetrics);
  const config = { name: "ai_provider_latency_seconds", help: "Provider latency", buckets };
  const histogram = new Histogram({ ...config, labelNames, registers: [expected] });
  const folded = new FoldedHistogram({ ...config, labelNames, registers: [actual] });
  const unlabelled = { name: "queue_wait_seconds", help: "Wait", buckets: [1, 2] };
  new Histogram({ ...unlabelled, registers: [expected] }).observe(1.5);
  new FoldedHistogram({ ...unlabelled, registers: [actual] }).observe([], 1.5);
  new Histogram({ ...unlabelled, name: "never_seconds", registers: [expected] });
  new FoldedHistogram({ ...unlabelled, name: "never_seconds", registers: [actual] });
  for (const [[provider, model], seconds] of updates) {
    histogram.observe({ provider, model }, seconds);
    folded.observe([provider, model], seconds);
  }
  return { expected, actual };
}

describe("FoldedHistogram", () => {
  it("scrapes exactly as prom-client's Histogram after the same observations", async () => {
    const { expected, actual } = pair();
    const text = await actual.metrics();
    expect(text).toBe(await expected.metrics());
    expect(text).toContain(
      'ai_provider_latency_seconds_bucket{le="+Inf",provider="llama-cpp",model="tiny"} 3',
    );
    expect(text).toContain('ai_provider_latency_seconds_sum{provider="openai",model="gpt-4o-mini"} 0.61');
    expect(text).toContain("never_seconds_count 0");
  });

  it("also as OpenMetrics, with default labels, as JSON and after resetMetrics()", async () => {
    const { actual } = await expectSameExposition(pair);
    expect(await actual.metrics()).not.toContain("_count");
  });

  it("refuses non-finite observations, `le` as a label and unordered buckets", () => {
    const histogram = new FoldedHistogram({
      name: "h",
      help: "h",
      labelNames: ["a"],
      buckets,
      registers: [],
    });
    expect(() => histogram.observe(["x"], Number.NaN)).toThrow(TypeError);
    expect(() => histogram.observe(["x"], Number.POSITIVE_INFINITY)).toThrow(TypeError);
    expect(
      () => new FoldedHistogram({ name: "h", help: "h", labelNames: ["le"], buckets, registers: [] }),
    ).toThrow("reserved");
    expect(() => new FoldedHistogram({ name: "h", help: "h", buckets: [1, 1], registers: [] })).toThrow(
      "increasing",
    );
    expect(
      () => new FoldedHistogram({ name: "h", help: "h", buckets: [1, Infinity], registers: [] }),
    ).toThrow("finite");
  });
});
