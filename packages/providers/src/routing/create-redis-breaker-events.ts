import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type { BreakerEvents, BreakerOpened } from "./create-router.js";

/**
 * Breaker openings over Redis pub/sub, so every replica skips a target one of them found failing.
 * `subscriber` is a connection of its own (put in subscriber mode here); messages from this process
 * are ignored. Losing a message (Redis down) only means a replica finds the failing target itself.
 */
export function createRedisBreakerEvents({
  publisher,
  subscriber,
  channel = "noa:breaker-events",
}: {
  publisher: Redis;
  subscriber: Redis;
  channel?: string;
}): BreakerEvents & { close(): Promise<void> } {
  const origin = randomUUID();
  const listeners = new Set<(event: BreakerOpened) => void>();
  subscriber.on("message", (from: string, text: string) => {
    if (from !== channel) return;
    let message: BreakerOpened & { origin?: string };
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (
      message.origin === origin ||
      typeof message.target !== "string" ||
      typeof message.retryAt !== "number"
    )
      return;
    for (const listener of listeners) listener({ target: message.target, retryAt: message.retryAt });
  });
  // Not awaited: without Redis the router still works, each replica on its own.
  subscriber.subscribe(channel).catch(() => {});
  return {
    publish(event) {
      publisher.publish(channel, JSON.stringify({ ...event, origin })).catch(() => {});
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    /**
     * Stops hearing openings at once. The unsubscribe is not waited for: with Redis unreachable (or gone a
     * moment ago, before the connection noticed) it would wait for a reconnection that may never come, and
     * the caller's disconnect of `subscriber` ends the subscription anyway.
     */
    async close() {
      listeners.clear();
      subscriber.unsubscribe(channel).catch(() => {});
    },
  };
}
