import {
  type ChatWrapper,
  getLlama,
  type Llama,
  type LlamaContext,
  type LlamaContextSequence,
  LlamaLogLevel,
  type LlamaModel,
  resolveChatWrapper,
} from "node-llama-cpp";
import { NoSuchModelError } from "../errors/no-such-model-error.js";
import { ProviderError } from "../errors/provider-error.js";
import { forwardAbort } from "../forward-abort.js";
import type { FinishReason } from "../language-model.js";
import type { Logger } from "../logger.js";
import type { GgufModelFile } from "./find-gguf-models.js";
import { LLAMA_CPP_PROVIDER_ID } from "./llama-cpp-provider-id.js";

/** How the manager loads and shares local models. */
export interface LlamaCppModelManagerOptions {
  /** The files it may load (see `findGgufModels`). */
  models: readonly GgufModelFile[];
  /** CPU threads for evaluation, normally the core count: node-llama-cpp's default oversubscribes small machines. */
  threads: number;
  /** Models kept in memory; the least recently used one is unloaded to make room. */
  maxLoadedModels?: number;
  /** Generations one model runs at the same time, each on its own context sequence. */
  sequencesPerModel?: number;
  /** Tokens per sequence; undefined lets node-llama-cpp fit up to the trained context into free memory. */
  contextSize?: number;
  logger?: Logger;
}

/** How a generation ended, as the task run on a sequence reports it. */
export interface GenerationOutcome {
  completionTokens: number;
  finishReason: FinishReason;
}

/** One finished generation, kept in `stats().recentGenerations`. */
export interface GenerationRecord extends GenerationOutcome {
  modelId: string;
}

/** What the manager holds now; for the model list, tests and metrics. */
export interface LlamaCppModelStats {
  /** Models in memory and in use for new requests, least recently used first. */
  loaded: string[];
  activeGenerations: number;
  /** The last 50 generations, oldest first, recorded when each ends (aborted ones included, failed ones not). */
  recentGenerations: GenerationRecord[];
}

/** A context sequence lent to one request. */
export interface SequenceSlot {
  /** Empty: each request gets a new sequence, so no other conversation's KV cache leaks into it. */
  sequence: LlamaContextSequence;
  /** The model's chat template, resolved once per load (node-llama-cpp picks one when the GGUF has none). */
  chatWrapper: ChatWrapper;
  /** Aborts when the caller aborts or the manager closes; the task must stop promptly on it. */
  signal: AbortSignal;
}

/** Loads local models on demand into a bounded LRU and lends their context sequences to requests. */
export interface LlamaCppModelManager {
  /** Whether the model is in memory and serves new requests (an evicted model still finishing its generations is not). */
  isLoaded(modelId: string): boolean;
  stats(): LlamaCppModelStats;
  /**
   * Runs `task` on a fresh sequence of the model, loading it first if needed. Waits FIFO while all of
   * the model's sequences are busy, and rejects with the signal's reason if it aborts before the task
   * starts. The sequence is freed when the task settles; its outcome is recorded.
   */
  withSequence<T extends GenerationOutcome>(
    modelId: string,
    options: { signal?: AbortSignal },
    task: (slot: SequenceSlot) => Promise<T>,
  ): Promise<T>;
  /** Aborts running generations, rejects waiting requests, then disposes every model and the llama.cpp binding. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

interface LoadedModel {
  model: LlamaModel;
  context: LlamaContext;
  chatWrapper: ChatWrapper;
}

interface Entry {
  readonly file: GgufModelFile;
  readonly ready: Promise<LoadedModel>;
  loaded: LoadedModel | undefined;
  /** Requests running on or waiting for this model; it is not disposed while there are any. */
  users: number;
  /** Sequences lent out. */
  running: number;
  /** Requests waiting for a sequence, first come first served. */
  readonly waiters: (() => void)[];
}

const RECENT_GENERATIONS = 50;

/** Builds the manager; nothing is loaded (not even the llama.cpp binding) until the first request. */
export function createLlamaCppModelManager({
  models,
  threads,
  maxLoadedModels = 10,
  sequencesPerModel = 4,
  contextSize,
  logger,
}: LlamaCppModelManagerOptions): LlamaCppModelManager {
  if (maxLoadedModels < 1 || sequencesPerModel < 1) {
    throw new RangeError("maxLoadedModels and sequencesPerModel must be at least 1");
  }
  const files = new Map(models.map((file) => [file.id, file]));
  const lru = new Map<string, Entry>();
  const draining = new Set<Entry>();
  const unloads = new Set<Promise<void>>();
  const inFlight = new Set<Promise<unknown>>();
  const recentGenerations: GenerationRecord[] = [];
  const closeController = new AbortController();
  let activeGenerations = 0;
  let llama: Promise<Llama> | undefined;
  let closing: Promise<void> | undefined;

  function getLlamaOnce(): Promise<Llama> {
    llama ??= getLlama({
      // Caps the threads of all loaded models together, not just of each context.
      maxThreads: threads,
      ...(logger && { logger: (level: LlamaLogLevel, message: string) => logNative(logger, level, message) }),
    }).catch((error: unknown) => {
      llama = undefined;
      throw error;
    });
    return llama;
  }

  async function load(file: GgufModelFile): Promise<LoadedModel> {
    const model = await (await getLlamaOnce()).loadModel({ modelPath: file.path });
    try {
      const context = await model.createContext({
        sequences: sequencesPerModel,
        threads,
        ...(contextSize !== undefined && { contextSize }),
      });
      return { model, context, chatWrapper: resolveChatWrapper(model) };
    } catch (error) {
      await model.dispose();
      throw error;
    }
  }

  function createEntry(file: GgufModelFile): Entry {
    const ready = load(file).then(
      (loaded) => {
        entry.loaded = loaded;
        const { contextSize } = loaded.context;
        logger?.info(
          { modelId: file.id, contextSize, chatWrapper: loaded.chatWrapper.wrapperName },
          "model loaded",
        );
        return loaded;
      },
      (error: unknown) => {
        if (lru.get(file.id) === entry) lru.delete(file.id);
        logger?.error({ modelId: file.id, path: file.path, err: error }, "model failed to load");
        throw new ProviderError(`failed to load GGUF model "${file.id}" from ${file.path}`, {
          provider: LLAMA_CPP_PROVIDER_ID,
          isRetryable: false,
          cause: error,
        });
      },
    );
    // Every requester may stop waiting (abort), so a failed load may have no other observer.
    ready.catch(() => {});
    const entry: Entry = { file, ready, loaded: undefined, users: 0, running: 0, waiters: [] };
    return entry;
  }

  function use(file: GgufModelFile): Entry {
    let entry = lru.get(file.id);
    if (entry) {
      lru.delete(file.id);
    } else {
      // A model still finishing its generations after eviction is taken back rather than loaded twice.
      entry = [...draining].find((candidate) => candidate.file.id === file.id);
      if (entry) draining.delete(entry);
      else entry = createEntry(file);
    }
    lru.set(file.id, entry);
    for (const [id, oldest] of lru) {
      if (lru.size <= maxLoadedModels) break;
      lru.delete(id);
      draining.add(oldest);
      unloadIfUnused(oldest);
    }
    return entry;
  }

  function unloadIfUnused(entry: Entry): void {
    if (entry.users > 0 || !draining.has(entry)) return;
    draining.delete(entry);
    const unload = entry.ready
      .then(
        async ({ model, context }) => {
          await context.dispose();
          await model.dispose();
          logger?.info({ modelId: entry.file.id }, "model unloaded");
        },
        () => {}, // never loaded: nothing to free
      )
      .catch((error: unknown) =>
        logger?.warn({ modelId: entry.file.id, err: error }, "model failed to unload"),
      )
      .finally(() => unloads.delete(unload));
    unloads.add(unload);
  }

  function acquireSequence(entry: Entry, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (entry.running < sequencesPerModel && entry.waiters.length === 0) {
      entry.running++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        entry.waiters.splice(entry.waiters.indexOf(grant), 1);
        reject(signal.reason);
      };
      entry.waiters.push(grant);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  function releaseSequence(entry: Entry): void {
    const next = entry.waiters.shift();
    // The sequence passes straight to the next waiter, so a newcomer cannot overtake the queue.
    if (next) next();
    else entry.running--;
  }

  async function runOnSequence<T extends GenerationOutcome>(
    file: GgufModelFile,
    callerSignal: AbortSignal | undefined,
    task: (slot: SequenceSlot) => Promise<T>,
  ): Promise<T> {
    const controller = new AbortController();
    const detach = forwardAbort(controller, [callerSignal, closeController.signal]);
    const { signal } = controller;
    const entry = use(file);
    entry.users++;
    try {
      const { context, chatWrapper } = await abortable(entry.ready, signal);
      await acquireSequence(entry, signal);
      activeGenerations++;
      const sequence = context.getSequence();
      try {
        const outcome = await task({ sequence, chatWrapper, signal });
        const { completionTokens, finishReason } = outcome;
        recentGenerations.push({ modelId: file.id, completionTokens, finishReason });
        if (recentGenerations.length > RECENT_GENERATIONS) recentGenerations.shift();
        return outcome;
      } finally {
        try {
          await sequence.dispose();
        } finally {
          activeGenerations--;
          releaseSequence(entry);
        }
      }
    } finally {
      detach();
      entry.users--;
      unloadIfUnused(entry);
    }
  }

  function close(): Promise<void> {
    closing ??= (async () => {
      closeController.abort(
        new ProviderError("the llama-cpp provider is closed", {
          provider: LLAMA_CPP_PROVIDER_ID,
          statusCode: 503,
          isRetryable: true,
        }),
      );
      // Aborted generations end within a token and free their sequences before the models go.
      await Promise.allSettled(inFlight);
      const entries = [...lru.values(), ...draining];
      lru.clear();
      draining.clear();
      await Promise.allSettled([...entries.map((entry) => entry.ready), ...unloads]);
      await (await llama?.catch(() => undefined))?.dispose();
    })();
    return closing;
  }

  return {
    isLoaded: (modelId) => lru.get(modelId)?.loaded !== undefined,
    stats: () => ({
      loaded: [...lru.values()].filter((entry) => entry.loaded).map((entry) => entry.file.id),
      activeGenerations,
      recentGenerations: [...recentGenerations],
    }),
    withSequence(modelId, { signal }, task) {
      if (closeController.signal.aborted) return Promise.reject(closeController.signal.reason);
      if (signal?.aborted) return Promise.reject(signal.reason);
      const file = files.get(modelId);
      if (!file) return Promise.reject(new NoSuchModelError(`${LLAMA_CPP_PROVIDER_ID}/${modelId}`));
      const run = runOnSequence(file, signal, task);
      const forget = () => inFlight.delete(run);
      inFlight.add(run);
      run.then(forget, forget);
      return run;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** `promise`, or the signal's reason as soon as it aborts (the work behind `promise` goes on). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => reject(signal.reason);
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

function logNative(logger: Logger, level: LlamaLogLevel, message: string): void {
  const fields = { component: "llama.cpp" };
  if (level === LlamaLogLevel.fatal || level === LlamaLogLevel.error) logger.error(fields, message);
  else if (level === LlamaLogLevel.warn) logger.warn(fields, message);
  else logger.debug(fields, message);
}
