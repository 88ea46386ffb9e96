import { Counter, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { expectSameExposition, newRegistry } from "./__fixtures__/expect-same-exposition.js";
import { FoldedCounter } from "./folded-counter.js";

const labelNames = ["method", "route", "status"] as const;
const updates: Array<[[string, string, string], number | undefined]> = [
  [["POST", "/v1/chat/completions", "200"], undefined],
  [["GET", "/v1/models", "401"], 1],
  [["POST", "/v1/chat/completions", "200"], 0.1],
  [["POST", "/v1/chat/completions", "200"], 0.2],
  [["GET", "/v1/models/{id}", "404"], 0],
  [["GET", 'a "quoted"\\ route\nwith a newline', ""], 3],
];

/** The same metric twice: prom-client's Counter in one registry, FoldedCounter in the other. */
function pair(openMetrics = false) {
  const expected = newRegistry(openMetrics);
  const actual = newRegistry(openMetrics);
  const config = { name: "http_requests_total", help: "Requests by method, route\\template and status" };
  const counter = new Counter({ ...config, labelNames, registers: [expected] });
  const folded = new FoldedCounter({ ...config, labelNames, registers: [actual] });
  const unlabelled = new Counter({ name: "refusals_total", help: "Refusals", registers: [expected] });
  const foldedUnlabelled = new FoldedCounter({
    name: "refusals_total",
    help: "Refusals",
    registers: [actual],
  });
  for (const [[method, route, status], by] of updates) {
    counter.inc({ method, route, status }, by);
    folded.inc([method, route, status], by);
  }
  return { expected, actual, unlabelled, foldedUnlabelled };
}

describe("FoldedCounter", () => {
  it("scrapes exactly as prom-client's Counter after the same increments", async () => {
    const { expected, actual, unlabelled, foldedUnlabelled } = pair();
    expect(await actual.metrics()).toBe(await expected.metrics());
    unlabelled.inc();
    foldedUnlabelled.inc([]);
    unlabelled.inc(2);
    foldedUnlabelled.inc([], 2);
    const text = await actual.metrics();
    expect(text).toBe(await expected.metrics());
    expect(text).toContain(
      'http_requests_total{method="POST",route="/v1/chat/completions",status="200"} 1.3',
    );
    expect(text).toContain("refusals_total 3");
  });

  it("also as OpenMetrics, with default labels, as JSON and after resetMetrics()", async () => {
    const { actual } = await expectSameExposition(pair);
    expect(await actual.metrics()).toContain('refusals_total{replica="a"} 0');
  });

  it("refuses what prom-client refuses, and NaN, which prom-client would add", () => {
    const counter = new FoldedCounter({ name: "c_total", help: "c", labelNames: ["a"], registers: [] });
    expect(() => counter.inc(["x"], Number.POSITIVE_INFINITY)).toThrow(TypeError);
    expect(() => counter.inc(["x"], Number.NaN)).toThrow(TypeError);
    expect(() => counter.inc(["x"], -1)).toThrow("not possible to decrease");
    expect(() => new FoldedCounter({ name: "c-total", help: "c", registers: [] })).toThrow(
      "Invalid metric name",
    );
    expect(() => new FoldedCounter({ name: "c_total", help: "", registers: [] })).toThrow("help");
  });

  it("cannot be registered twice under one name", () => {
    const registry = new Registry();
    new Counter({ name: "c_total", help: "c", registers: [registry] });
    expect(() => new FoldedCounter({ name: "c_total", help: "c", registers: [registry] })).toThrow(
      "already been registered",
    );
  });
});
