import type { ModelRegistry } from "@noa/providers";
import { collectDefaultMetrics, Gauge, Registry } from "prom-client";

const circuitStateValues = { closed: 0, "half-open": 1, open: 2 } as const;

/**
 * The rpc-server's own Prometheus registry (never the global default): process metrics and, per routed
 * target, its circuit breaker state (0 closed, 1 half-open, 2 open), read from the router when scraped.
 */
export function createMetrics({ registry }: { registry: ModelRegistry }): Registry {
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  new Gauge({
    name: "noa_circuit_breaker_state",
    help: "Circuit breaker state per target: 0 closed, 1 half-open, 2 open",
    labelNames: ["target"],
    registers: [metrics],
    async collect() {
      this.reset();
      for (const model of await registry.listModels()) {
        if (model.circuit) this.set({ target: model.id }, circuitStateValues[model.circuit.state]);
      }
    },
  });
  return metrics;
}
