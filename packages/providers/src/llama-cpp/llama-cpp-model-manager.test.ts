import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { ProviderError } from "../errors/provider-error.js";
import type { Logger } from "../logger.js";
import { tinyModelPath, tinyModelThreads } from "./__fixtures__/tiny-model-path.js";
import {
  createLlamaCppModelManager,
  type GenerationOutcome,
  type LlamaCppModelManager,
  type LlamaCppModelManagerOptions,
} from "./llama-cpp-model-manager.js";

const done: GenerationOutcome = { completionTokens: 1, finishReason: "stop" };

/** A promise the test settles by hand, to hold a task on its sequence. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

function recordingLogger() {
  const messages: { msg: string | undefined; modelId?: unknown }[] = [];
  const log = (obj: object, msg?: string) => messages.push({ msg, ...obj });
  const logger: Logger = { debug: () => {}, info: log, warn: log, error: log };
  return { logger, messages };
}

describe("createLlamaCppModelManager", () => {
  const dir = mkdtempSync(join(tmpdir(), "noa-llama-manager-"));
  const first = join(dir, "first.gguf");
  const second = join(dir, "second.gguf");
  symlinkSync(tinyModelPath, first);
  symlinkSync(tinyModelPath, second);

  let manager: LlamaCppModelManager | undefined;
  function start(options: Partial<LlamaCppModelManagerOptions> = {}) {
    manager = createLlamaCppModelManager({
      models: [
        { id: "first", path: first },
        { id: "second", path: second },
      ],
      threads: tinyModelThreads,
      ...options,
    });
    return manager;
  }
  afterEach(async () => {
    await manager?.close();
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("loads a model on first use, once for concurrent first uses", async () => {
    const { logger, messages } = recordingLogger();
    const models = start({ logger });
    expect(models.isLoaded("first")).toBe(false);
    await Promise.all([1, 2, 3].map(() => models.withSequence("first", {}, async () => done)));
    expect(messages.filter((message) => message.msg === "model loaded")).toHaveLength(1);
    expect(models.isLoaded("first")).toBe(true);
    expect(models.stats().loaded).toEqual(["first"]);
  });

  it("runs concurrent requests on separate sequences at the same time", async () => {
    const models = start({ sequencesPerModel: 2 });
    const events: string[] = [];
    const hold = gate();
    const run = (name: string) =>
      models.withSequence("first", {}, async ({ sequence }) => {
        events.push(`${name} started`);
        await hold.opened;
        events.push(`${name} ended`);
        return { ...done, sequence };
      });
    const a = run("a");
    const b = run("b");
    await vi.waitFor(() => expect(events).toEqual(["a started", "b started"]));
    expect(models.stats().activeGenerations).toBe(2);
    hold.open();
    const [resultA, resultB] = await Promise.all([a, b]);
    expect(resultA.sequence).not.toBe(resultB.sequence);
    expect(models.stats().activeGenerations).toBe(0);
  });

  it("queues requests first come first served while all sequences are busy; an aborted one leaves the queue", async () => {
    const models = start({ sequencesPerModel: 1 });
    const events: string[] = [];
    const hold = gate();
    const run = (name: string, signal?: AbortSignal) =>
      models.withSequence("first", { signal }, async () => {
        events.push(name);
        if (name === "a") await hold.opened;
        return done;
      });
    const a = run("a");
    await vi.waitFor(() => expect(events).toEqual(["a"]));
    const b = run("b");
    const leaving = new AbortController();
    const c = run("c", leaving.signal);
    const d = run("d");
    leaving.abort(new Error("client left"));
    await expect(c).rejects.toThrow("client left");
    expect(events).toEqual(["a"]);
    hold.open();
    await Promise.all([a, b, d]);
    expect(events).toEqual(["a", "b", "d"]);
  });

  it("gives each request an empty sequence, so no conversation leaks into the next", async () => {
    const models = start({ sequencesPerModel: 1 });
    const used = await models.withSequence("first", {}, async ({ sequence }) => {
      await sequence.evaluateWithoutGeneratingNewTokens(sequence.model.tokenize("a previous conversation"));
      return { ...done, tokens: sequence.nextTokenIndex };
    });
    expect(used.tokens).toBeGreaterThan(0);
    const next = await models.withSequence("first", {}, async ({ sequence }) => ({
      ...done,
      tokens: sequence.nextTokenIndex,
    }));
    expect(next.tokens).toBe(0);
  });

  it("evicts the least recently used model, disposing it only after its generations end", async () => {
    const { logger, messages } = recordingLogger();
    const models = start({ maxLoadedModels: 1, logger });
    const hold = gate();
    const events: string[] = [];
    const long = models.withSequence("first", {}, async () => {
      await hold.opened;
      events.push("first generation ended");
      return done;
    });
    await vi.waitFor(() => expect(models.stats().activeGenerations).toBe(1));
    await models.withSequence("second", {}, async () => done);
    expect(models.isLoaded("first")).toBe(false);
    expect(models.isLoaded("second")).toBe(true);
    expect(messages.some((message) => message.msg === "model unloaded")).toBe(false);

    hold.open();
    await long;
    await vi.waitFor(() =>
      expect(messages).toContainEqual(expect.objectContaining({ msg: "model unloaded", modelId: "first" })),
    );
    expect(events).toEqual(["first generation ended"]);
    expect(models.stats().loaded).toEqual(["second"]);
  });

  it("takes an evicted model still finishing a generation back instead of loading it twice", async () => {
    const { logger, messages } = recordingLogger();
    const models = start({ maxLoadedModels: 1, logger });
    const hold = gate();
    const long = models.withSequence("first", {}, async () => {
      await hold.opened;
      return done;
    });
    await vi.waitFor(() => expect(models.stats().activeGenerations).toBe(1));
    await models.withSequence("second", {}, async () => done);
    await models.withSequence("first", {}, async () => done);
    hold.open();
    await long;
    expect(models.stats().loaded).toEqual(["first"]);
    const loads = messages
      .filter((message) => message.msg === "model loaded")
      .map((message) => message.modelId);
    expect(loads).toEqual(["first", "second"]);
  });

  it("records the last 50 generations when they end", async () => {
    const models = start();
    for (let index = 0; index < 51; index++) {
      await models.withSequence("first", {}, async () => ({
        completionTokens: index,
        finishReason: "length",
      }));
    }
    const { recentGenerations } = models.stats();
    expect(recentGenerations).toHaveLength(50);
    expect(recentGenerations[0]).toEqual({ modelId: "first", completionTokens: 1, finishReason: "length" });
    expect(recentGenerations.at(-1)?.completionTokens).toBe(50);
  });

  it("on close aborts running generations, then refuses new requests", async () => {
    const models = start();
    let sawAbort = false;
    const running = models.withSequence("first", {}, async ({ signal }) => {
      await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
      sawAbort = true;
      return { completionTokens: 0, finishReason: "cancelled" as const };
    });
    await vi.waitFor(() => expect(models.stats().activeGenerations).toBe(1));
    await models.close();
    expect(sawAbort).toBe(true);
    await expect(running).resolves.toMatchObject({ finishReason: "cancelled" });
    await expect(models.withSequence("first", {}, async () => done)).rejects.toBeInstanceOf(ProviderError);
  });
});
