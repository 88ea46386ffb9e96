import { CallController, type CallSignal } from "../call-signal.js";
import type {
  AttemptEvent,
  CacheEvent,
  CacheSource,
  CallOptions,
  GenerateResult,
  LanguageModel,
  StreamPart,
} from "../language-model.js";
import type { CacheIdentity } from "./cache-key.js";
import type { ResponseCache } from "./response-cache.js";

/** One upstream call shared by every identical call that arrives while it runs. */
interface Flight {
  /** Callers still waiting for it; when the last one leaves, the upstream call is aborted. */
  members: number;
  controller: CallController;
  /** `<provider>/<model>` that answered, once known. */
  served: string | undefined;
  /** The cache tier that answered the first caller, if one did. */
  source: CacheSource | undefined;
}

interface GenerateFlight extends Flight {
  result: Promise<GenerateResult>;
}

interface StreamFlight extends Flight {
  /** Every part produced so far: a caller that joins late replays them first. */
  parts: StreamPart[];
  ended: boolean;
  failure: { error: unknown } | undefined;
  /** Callers waiting for the next part. */
  waiting: Set<() => void>;
}

/** The calls in flight that later identical calls may join; one table per process, shared by all models. */
export interface InFlightTable {
  /** How many shared calls are running (for metrics and tests). */
  readonly size: number;
  /** @internal */
  readonly flights: Map<string, GenerateFlight | StreamFlight>;
}

/** An empty table of calls in flight. */
export function createInFlightTable(): InFlightTable {
  const flights = new Map<string, GenerateFlight | StreamFlight>();
  return {
    flights,
    get size() {
      return flights.size;
    },
  };
}

/** Which calls are identical (the cache's key) and where the calls in flight are kept. */
export interface WithCoalescingOptions {
  cache: ResponseCache;
  table: InFlightTable;
  /** As given to withCache; defaults to the model's own `<provider>/<model>`. */
  identity?: CacheIdentity;
}

/**
 * Request coalescing: identical calls (the same cache key, so only calls the cache would serve; never
 * `skip` or `refresh`) in flight at the same time make one call to `model`, and each receives the
 * result — streams as they are produced, a late joiner first replaying what it missed. The shared call
 * runs with its own signal: a caller that leaves (even the first) ends only its own stream; when every
 * caller has left, the shared call is aborted. Joiners are told `onCache({ status: "hit", source:
 * "coalesced" })`, and the serving model once the answer is complete. Put it outside withCache, so one
 * cache lookup and one cache write serve them all.
 */
export function withCoalescing(
  model: LanguageModel,
  { cache, table, identity }: WithCoalescingOptions,
): LanguageModel {
  const self = `${model.provider}/${model.modelId}`;
  const named = identity ?? { requested: self, resolved: [self] };
  const { flights } = table;

  /** Options for the shared call: its own signal, and the first caller's callbacks watched for who served. */
  function sharedOptions(options: CallOptions, flight: Flight): CallOptions {
    return {
      ...options,
      signal: flight.controller.signal,
      onAttempt(event: AttemptEvent) {
        if (event.outcome === "ok" || event.outcome === "cancelled") flight.served = event.target;
        options.onAttempt?.(event);
      },
      onCache(event: CacheEvent) {
        if (event.status === "hit") {
          flight.source = event.source;
          flight.served = event.model;
        }
        options.onCache?.(event);
      },
    };
  }
  const newFlight = (): Flight => ({
    members: 0,
    controller: new CallController(),
    served: undefined,
    source: undefined,
  });
  const leave = (key: string, flight: Flight, finished: boolean) => {
    flight.members--;
    if (flight.members > 0 || finished) return;
    if (flights.get(key) === flight) flights.delete(key);
    flight.controller.abort(new Error("every caller of a coalesced call has left"));
  };
  const joined = (options: CallOptions) => options.onCache?.({ status: "hit", source: "coalesced" });
  const answered = (options: CallOptions, flight: Flight) =>
    options.onCache?.({
      status: "hit",
      source: flight.source ?? "coalesced",
      model: flight.served ?? self,
    });

  return {
    provider: model.provider,
    modelId: model.modelId,

    async generate(options): Promise<GenerateResult> {
      const plan = cache.plan(named, options);
      if (!plan?.read) return model.generate(options);
      const key = `generate:${plan.key}`;
      let flight = flights.get(key) as GenerateFlight | undefined;
      // The answer is in memory already: the cache answers at once, there is nothing to share.
      if (!flight && cache.holds(plan)) return model.generate(options);
      const leader = !flight;
      if (!flight) {
        const base = newFlight();
        const created: GenerateFlight = Object.assign(base, {
          result: model.generate(sharedOptions(options, base)),
        });
        const settle = () => {
          if (flights.get(key) === created) flights.delete(key);
        };
        created.result.then(settle, settle);
        flights.set(key, created);
        flight = created;
      } else joined(options);
      flight.members++;
      let finished = false;
      try {
        const result = await untilAborted(flight.result, options.signal);
        finished = result !== undefined;
        if (!result)
          return { text: "", finishReason: "cancelled", usage: { promptTokens: 0, completionTokens: 0 } };
        if (!leader) answered(options, flight);
        return result;
      } catch (error) {
        finished = true;
        throw error;
      } finally {
        leave(key, flight, finished);
      }
    },

    async *stream(options): AsyncGenerator<StreamPart> {
      const plan = cache.plan(named, options);
      const key = plan?.read && `stream:${plan.key}`;
      let flight = key ? (flights.get(key) as StreamFlight | undefined) : undefined;
      if (!key || !plan || (!flight && cache.holds(plan))) {
        yield* model.stream(options);
        return;
      }
      const leader = !flight;
      if (!flight) {
        flight = { ...newFlight(), parts: [], ended: false, failure: undefined, waiting: new Set() };
        flights.set(key, flight);
        void produce(key, flight, model.stream(sharedOptions(options, flight)));
      } else joined(options);
      yield* follow(key, flight, options, leader);
    },
  };

  async function produce(key: string, flight: StreamFlight, parts: AsyncIterable<StreamPart>) {
    try {
      for await (const part of parts) {
        flight.parts.push(part);
        wake(flight);
      }
    } catch (error) {
      flight.failure = { error };
    } finally {
      flight.ended = true;
      if (flights.get(key) === flight) flights.delete(key);
      wake(flight);
    }
  }

  async function* follow(
    key: string,
    flight: StreamFlight,
    options: CallOptions,
    leader: boolean,
  ): AsyncGenerator<StreamPart> {
    const { signal } = options;
    let resume: (() => void) | undefined;
    const onAbort = () => resume?.();
    signal?.addEventListener("abort", onAbort, { once: true });
    flight.members++;
    let next = 0;
    let delivered = 0;
    let finished = false;
    try {
      for (;;) {
        if (signal?.aborted) {
          yield {
            type: "finish",
            finishReason: "cancelled",
            usage: { promptTokens: 0, completionTokens: delivered },
          };
          return;
        }
        const part = flight.parts[next];
        if (part) {
          next++;
          if (part.type === "text-delta") delivered++;
          else {
            finished = true;
            if (!leader) answered(options, flight);
          }
          yield part;
          if (finished) return;
          continue;
        }
        if (flight.failure) {
          finished = true;
          throw flight.failure.error;
        }
        if (flight.ended) return;
        await new Promise<void>((resolve) => {
          resume = resolve;
          flight.waiting.add(resolve);
        });
        resume = undefined;
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
      leave(key, flight, finished || flight.ended);
    }
  }
}

function wake(flight: StreamFlight): void {
  const waiting = [...flight.waiting];
  flight.waiting.clear();
  for (const resolve of waiting) resolve();
}

/** The promise's value, or undefined as soon as the signal aborts (the promise goes on without this caller). */
function untilAborted<T>(promise: Promise<T>, signal: CallSignal | undefined): Promise<T | undefined> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
