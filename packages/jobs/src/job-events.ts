import type { Redis } from "ioredis";

/** A message on the jobs' event channel. */
export type JobEvent =
  /** The job's stored state changed: re-read it. */
  | { kind: "changed"; id: string }
  /** CancelJob: the worker running it stops it. */
  | { kind: "cancel"; id: string };

/** Job state changes across processes, over Redis pub/sub (the store stays the truth; events only say "look again"). */
export interface JobEvents {
  publish(event: JobEvent): Promise<void>;
  /** Calls `listener` for every event of `kind` (for one job id, or all with `"*"`); returns the unsubscribe. */
  subscribe(kind: JobEvent["kind"], id: string, listener: (event: JobEvent) => void): () => void;
  close(): Promise<void>;
}

/**
 * Events on one channel (`<prefix>:noa-job-events`). `publisher` is any connection; `subscriber` is a
 * connection of its own that this module puts in subscriber mode (needed only by processes that listen).
 */
export function createJobEvents({
  publisher,
  subscriber,
  prefix,
}: {
  publisher: Redis;
  subscriber?: Redis;
  prefix: string;
}): JobEvents {
  const channel = `${prefix}:noa-job-events`;
  const listeners = new Map<string, Set<(event: JobEvent) => void>>();
  if (subscriber) {
    subscriber.on("message", (from: string, message: string) => {
      if (from !== channel) return;
      let event: JobEvent;
      try {
        event = JSON.parse(message) as JobEvent;
      } catch {
        return;
      }
      for (const key of [`${event.kind}:${event.id}`, `${event.kind}:*`]) {
        for (const listener of listeners.get(key) ?? []) listener(event);
      }
    });
    // Not awaited: with Redis down, the app still starts; ioredis subscribes once it connects.
    subscriber.subscribe(channel).catch(() => {});
  }
  return {
    async publish(event) {
      await publisher.publish(channel, JSON.stringify(event));
    },
    subscribe(kind, id, listener) {
      if (!subscriber) throw new Error("createJobEvents: subscribing needs a subscriber connection");
      const key = `${kind}:${id}`;
      let set = listeners.get(key);
      if (!set) {
        set = new Set();
        listeners.set(key, set);
      }
      set.add(listener);
      return () => {
        set.delete(listener);
        if (set.size === 0) listeners.delete(key);
      };
    },
    // Not waiting for the unsubscribe: with Redis unreachable, or gone a moment ago before the connection
    // noticed, it would wait for a reconnection that may never come; the owner's disconnect ends it anyway.
    async close() {
      listeners.clear();
      subscriber?.unsubscribe(channel).catch(() => {});
    },
  };
}
