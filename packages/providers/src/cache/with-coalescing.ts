import { CallController, type CallSignal } from "../call-signal.js";
import type {
  AttemptEvent,
  AttemptStart,
  CacheEvent,
  CacheSource,
  CallOptions,
  GenerateResult,
  LanguageModel,
  StreamPart,
  Usage,
} from "../language-model.js";
import { usageOfCutCall } from "../usage-of-cut-call.js";
import type { CacheIdentity } from "./cache-key.js";
import type { ResponseCache } from "./response-cache.js";

/** One upstream call shared by every identical call that arrives while it runs. */
interface Flight {
  /** Callers still following it (their options); when the last one leaves, the upstream call is aborted. */
  members: Set<CallOptions>;
  /**
   * The caller who pays for the upstream call: told its attempts, usage and cache status as if it had made
   * the call alone. The first caller, until it leaves before the end: then the longest-waiting caller.
   */
  owner: CallOptions;
  controller: CallController;
  /** `<provider>/<model>` that answered, once known. */
  served: string | undefined;
  /** `<provider>/<model>` being called now, from the start of its attempt. */
  serving: string | undefined;
  /** The cache tier that answered the first caller, if one did. */
  source: CacheSource | undefined;
  /** What the shared call told its owner so far (cache status, attempts), replayed to a caller that takes over. */
  told: Array<(owner: CallOptions) => void>;
  /** The tokens the provider has counted so far. */
  counted: Usage | undefined;
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
 * caller has left, the shared call is aborted.
 *
 * One caller owns the shared call and pays for it: it is told the call's attempts (`onAttemptStart`,
 * `onAttempt`), usage (`onUsage`) and cache status as if it had made the call alone, and gets the real
 * usage in its `finish`. That is the first caller; if it leaves before the end while others still wait,
 * ownership passes to the one that has waited longest (told all of the above again), and the one leaving
 * is told `onCache({ status: "hit", source: "coalesced" })` — someone else now pays for its answer. Every
 * other caller is told that hit when it joins, and again with the serving model once the shared answer is
 * complete (or has failed). Put it outside withCache, so one cache lookup and one cache write serve them all.
 */
export function withCoalescing(
  model: LanguageModel,
  { cache, table, identity }: WithCoalescingOptions,
): LanguageModel {
  const self = `${model.provider}/${model.modelId}`;
  const named = identity ?? { requested: self, resolved: [self] };
  const { flights } = table;

  /** Tells the owner now, and whoever owns the call later. */
  const tell = (flight: Flight, note: (owner: CallOptions) => void) => {
    flight.told.push(note);
    note(flight.owner);
  };
  /** Options for the shared call: its own signal, its reports to whoever owns it (the first caller's trace and tiers). */
  function sharedOptions(options: CallOptions, flight: Flight): CallOptions {
    return {
      ...options,
      signal: flight.controller.signal,
      onAttemptStart(event: AttemptStart) {
        flight.serving = event.target;
        tell(flight, (owner) => owner.onAttemptStart?.(event));
      },
      onAttempt(event: AttemptEvent) {
        if (event.outcome === "ok" || event.outcome === "cancelled") flight.served = event.target;
        tell(flight, (owner) => owner.onAttempt?.(event));
      },
      onCache(event: CacheEvent) {
        if (event.status === "hit") {
          flight.source = event.source;
          flight.served = event.model;
        }
        tell(flight, (owner) => owner.onCache?.(event));
      },
      onUsage(usage: Usage) {
        flight.counted = usage;
        flight.owner.onUsage?.(usage);
      },
    };
  }
  const newFlight = (owner: CallOptions): Flight => ({
    members: new Set([owner]),
    owner,
    controller: new CallController(),
    served: undefined,
    serving: undefined,
    source: undefined,
    told: [],
    counted: undefined,
  });
  /** Told that someone else pays for its answer: the shared call's tier, and its model as far as known. */
  const coalesced = (options: CallOptions, flight: Flight, model = flight.served ?? flight.serving) =>
    options.onCache?.({ status: "hit", source: flight.source ?? "coalesced", model });
  const join = (flight: Flight, options: CallOptions) => {
    flight.members.add(options);
    coalesced(options, flight);
  };
  /**
   * A caller stops following the flight (`answered`: it had the answer or the failure). An owner leaving
   * before that hands the call over to the caller waiting longest; when no caller is left, a call still
   * running is aborted.
   */
  const leave = (key: string, flight: Flight, options: CallOptions, answered: boolean) => {
    flight.members.delete(options);
    if (flight.owner === options && !answered) {
      const [heir] = flight.members;
      if (heir) {
        flight.owner = heir;
        coalesced(options, flight);
        for (const note of flight.told) note(heir);
        if (flight.counted) heir.onUsage?.(flight.counted);
      }
    }
    if (flight.members.size > 0 || answered || ("ended" in flight && flight.ended)) return;
    if (flights.get(key) === flight) flights.delete(key);
    flight.controller.abort(new Error("every caller of a coalesced call has left"));
  };
  /** The usage of a caller that left before the end: what the provider counted if it pays, else what it was sent. */
  const usageOnLeaving = (flight: Flight, options: CallOptions, delivered: number): Usage =>
    flight.owner === options
      ? usageOfCutCall(flight.counted, delivered)
      : { promptTokens: 0, completionTokens: delivered };
  /** A caller that did not pay is told who served the shared answer, as it ends (complete or failed). */
  const ended = (options: CallOptions, flight: Flight) => {
    // No target reported an attempt: `model` is not a router, it served itself.
    if (flight.owner !== options) coalesced(options, flight, flight.served ?? flight.serving ?? self);
  };

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
      if (!flight) {
        const base = newFlight(options);
        const created: GenerateFlight = Object.assign(base, {
          result: model.generate(sharedOptions(options, base)),
        });
        const settle = () => {
          if (flights.get(key) === created) flights.delete(key);
        };
        created.result.then(settle, settle);
        flights.set(key, created);
        flight = created;
      } else join(flight, options);
      let result: GenerateResult | undefined;
      try {
        result = await untilAborted(flight.result, options.signal);
      } catch (error) {
        leave(key, flight, options, true);
        ended(options, flight);
        throw error;
      }
      if (!result) {
        leave(key, flight, options, false);
        return { text: "", finishReason: "cancelled", usage: usageOnLeaving(flight, options, 0) };
      }
      leave(key, flight, options, true);
      ended(options, flight);
      return result;
    },

    async *stream(options): AsyncGenerator<StreamPart> {
      const plan = cache.plan(named, options);
      const key = plan?.read && `stream:${plan.key}`;
      let flight = key ? (flights.get(key) as StreamFlight | undefined) : undefined;
      if (!key || !plan || (!flight && cache.holds(plan))) {
        yield* model.stream(options);
        return;
      }
      if (!flight) {
        flight = {
          ...newFlight(options),
          parts: [],
          ended: false,
          failure: undefined,
          waiting: new Set(),
        };
        flights.set(key, flight);
        void produce(key, flight, model.stream(sharedOptions(options, flight)));
      } else join(flight, options);
      yield* follow(key, flight, options);
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
  ): AsyncGenerator<StreamPart> {
    const { signal } = options;
    let resume: (() => void) | undefined;
    const onAbort = () => resume?.();
    signal?.addEventListener("abort", onAbort, { once: true });
    let next = 0;
    let delivered = 0;
    let left = false;
    const quit = (answered: boolean) => {
      left = true;
      leave(key, flight, options, answered);
    };
    try {
      for (;;) {
        if (signal?.aborted) {
          quit(false);
          yield {
            type: "finish",
            finishReason: "cancelled",
            usage: usageOnLeaving(flight, options, delivered),
          };
          return;
        }
        const part = flight.parts[next];
        if (part) {
          next++;
          if (part.type === "text-delta") delivered++;
          else {
            quit(true);
            ended(options, flight);
          }
          yield part;
          if (left) return;
          continue;
        }
        if (flight.failure) {
          quit(true);
          ended(options, flight);
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
      // The consumer stopped reading early.
      if (!left) leave(key, flight, options, false);
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
