import { type OpenMetricsContentType, type PrometheusContentType, Registry } from "prom-client";
import { expect } from "vitest";

type AnyRegistry = Registry<PrometheusContentType> | Registry<OpenMetricsContentType>;

/** A registry in prom-client's default text format, or in OpenMetrics. */
export function newRegistry(openMetrics: boolean): AnyRegistry {
  if (!openMetrics) return new Registry();
  const registry = new Registry<OpenMetricsContentType>();
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  return registry;
}

/** Two registries fed the same updates: prom-client's own metrics (`expected`) and NOA's (`actual`). */
export type RegistryPair = (openMetrics?: boolean) => { expected: AnyRegistry; actual: AnyRegistry };

/**
 * Checks that `pair`'s registries expose the same text as OpenMetrics, with default labels, the same
 * JSON, and the same text again after resetMetrics(); returns the reset pair for the caller's own checks.
 */
export async function expectSameExposition(
  pair: RegistryPair,
): Promise<{ expected: AnyRegistry; actual: AnyRegistry }> {
  const open = pair(true);
  expect(await open.actual.metrics()).toBe(await open.expected.metrics());
  const { expected, actual } = pair();
  for (const registry of [expected, actual]) registry.setDefaultLabels({ replica: "a" });
  expect(await actual.metrics()).toBe(await expected.metrics());
  expect(await actual.getMetricsAsJSON()).toEqual(await expected.getMetricsAsJSON());
  for (const registry of [expected, actual]) registry.resetMetrics();
  expect(await actual.metrics()).toBe(await expected.metrics());
  return { expected, actual };
}
