import { NoSuchModelError } from "../errors/no-such-model-error.js";
import type { LanguageModel, ModelInfo } from "../language-model.js";
import type { Logger } from "../logger.js";
import type { ModelRegistry } from "../model-registry.js";
import { type CircuitBreaker, createCircuitBreaker } from "./circuit-breaker.js";
import type { Route, RoutingConfig } from "./routing-config.js";
import { withCircuitBreaker } from "./with-circuit-breaker.js";
import { withFallback } from "./with-fallback.js";
import { type RetryDeps, withRetry } from "./with-retry.js";
import { withTimeout } from "./with-timeout.js";

export interface RouterOptions {
  registry: ModelRegistry;
  config: RoutingConfig;
  logger?: Logger;
  now?: () => number;
  retryDeps?: RetryDeps;
  /**
   * Shares breaker openings across replicas (createRedisBreakerEvents): a target whose breaker opens
   * here is skipped by the other replicas too, until the same retry time.
   */
  breakerEvents?: BreakerEvents;
  /**
   * Breakers kept at most (default 1,000): OpenAI and Anthropic take any model id a client sends, so past
   * this many targets the oldest breaker that is closed is forgotten (its failure count starts again).
   */
  maxBreakers?: number;
}

/** A breaker opening as replicas tell each other. */
export interface BreakerOpened {
  target: string;
  /** When probing may resume (epoch ms). */
  retryAt: number;
}

/** The channel breaker openings travel on between replicas. */
export interface BreakerEvents {
  publish(event: BreakerOpened): void;
  /** Calls `listener` for openings published by other replicas; returns the unsubscribe. */
  subscribe(listener: (event: BreakerOpened) => void): () => void;
}

/**
 * A ModelRegistry whose models are routes: an alias names ordered targets, a plain `<provider>/<model>`
 * is a one-target route. Each target is called through its breaker (one per target, kept for the
 * router's life), retries and timeouts; the route falls back across targets.
 */
export function createRouter({
  registry,
  config,
  logger,
  now = Date.now,
  retryDeps,
  breakerEvents,
  maxBreakers = 1_000,
}: RouterOptions): ModelRegistry {
  const breakers = new Map<string, CircuitBreaker>();
  const breakerOf = (target: string) => {
    let breaker = breakers.get(target);
    if (!breaker) {
      if (breakers.size >= maxBreakers) forgetOldestClosed();
      const created: CircuitBreaker = createCircuitBreaker({
        ...config.circuitBreaker,
        now,
        onStateChange: (state, cause) => {
          logger?.warn({ target, state, cause }, "circuit breaker changed state");
          const retryAt = created.snapshot().retryAt;
          if (state === "open" && cause === "local" && retryAt !== undefined)
            breakerEvents?.publish({ target, retryAt });
        },
      });
      breaker = created;
      breakers.set(target, breaker);
    }
    return breaker;
  };
  const forgetOldestClosed = () => {
    for (const [target, breaker] of breakers) {
      if (breaker.snapshot().state === "closed") {
        breakers.delete(target);
        return;
      }
    }
  };
  const routeOf = (id: string): Route =>
    config.routes[id] ?? { targets: [id], retry: config.retry, timeouts: config.timeouts };
  const guarded = (target: string, route: Route): LanguageModel =>
    withCircuitBreaker(
      withRetry(withTimeout(registry.languageModel(target), route.timeouts), route.retry, retryDeps),
      breakerOf(target),
    );
  const withCircuit = (model: ModelInfo): ModelInfo => {
    const breaker = breakers.get(model.id);
    return breaker ? { ...model, circuit: breaker.snapshot() } : model;
  };
  const aliasInfo = (alias: string, route: Route): ModelInfo => ({
    id: alias,
    provider: "router",
    capabilities: ["chat", "completion", "streaming"],
    contextLength: 0,
    loaded: true,
    targets: route.targets,
  });

  const unsubscribe = breakerEvents?.subscribe(({ target, retryAt }) => breakerOf(target).openFor(retryAt));

  return {
    async listModels() {
      const models = (await registry.listModels()).map(withCircuit);
      const aliases = Object.entries(config.routes).map(([alias, route]) => aliasInfo(alias, route));
      return [...models, ...aliases].sort((a, b) => a.id.localeCompare(b.id));
    },
    async getModel(id) {
      const route = config.routes[id];
      return route ? aliasInfo(id, route) : withCircuit(await registry.getModel(id));
    },
    languageModel(id) {
      const route = routeOf(id);
      const targets = route.targets.map((target) => guarded(target, route));
      if (targets.length === 0) throw new NoSuchModelError(id);
      return withFallback(id, targets);
    },
    close: () => {
      unsubscribe?.();
      return registry.close();
    },
  };
}
