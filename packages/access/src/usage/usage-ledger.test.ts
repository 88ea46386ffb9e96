import { afterEach, describe, expect, it, vi } from "vitest";
import type { Logger } from "../auth/logger.js";
import { createUsageLedger, type UsageLedger, type UsageLedgerOptions } from "./usage-ledger.js";
import type { UsageRecord, UsageStore, UsageSummaryRow } from "./usage-store.js";

/** An in-memory store that skips known ids, like the real one, and fails on demand. */
function fakeStore() {
  const rows = new Map<string, UsageRecord>();
  const calls: number[] = [];
  const control = {
    /** `down`: throws without writing; `ambiguous`: writes, then throws (a lost acknowledgement). */
    failure: undefined as "down" | "ambiguous" | undefined,
    /** Fails only the next N calls, then recovers. */
    failNext: 0,
  };
  const store: UsageStore = {
    async insertMany(records) {
      calls.push(records.length);
      const failure = control.failNext > 0 ? "down" : control.failure;
      if (control.failNext > 0) control.failNext--;
      if (failure === "down") throw new Error("connect ECONNREFUSED 127.0.0.1:5432");
      for (const record of records) if (!rows.has(record.id)) rows.set(record.id, record);
      if (failure === "ambiguous") throw new Error("Connection terminated unexpectedly");
    },
    async summarize(): Promise<UsageSummaryRow[]> {
      return [];
    },
  };
  return { store, rows, calls, control };
}

function recordingLogger() {
  const lines: { level: string; msg: string | undefined }[] = [];
  const at =
    (level: string) =>
    (_obj: object, msg?: string): void => {
      lines.push({ level, msg });
    };
  const logger: Logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  return { logger, lines, count: (level: string) => lines.filter((line) => line.level === level).length };
}

let sequence = 0;
function usage(overrides: Partial<UsageRecord> = {}): UsageRecord {
  sequence++;
  return {
    id: `00000000-0000-4000-8000-${String(sequence).padStart(12, "0")}`,
    apiKeyId: "key_1",
    tenant: "acme",
    modelRequested: "default",
    provider: "openai",
    modelServed: "openai/gpt-4o-mini",
    promptTokens: 10,
    completionTokens: 20,
    costUsd: 0.0000135,
    cached: false,
    cacheTier: undefined,
    status: "ok",
    errorCode: undefined,
    latencyMs: 120,
    correlationId: `corr-${sequence}`,
    createdAt: new Date(0),
    ...overrides,
  };
}

const ledgers: UsageLedger[] = [];
afterEach(async () => {
  await Promise.all(ledgers.splice(0).map((ledger) => ledger.close()));
});

function start(overrides: Partial<UsageLedgerOptions> = {}) {
  const fake = fakeStore();
  const log = recordingLogger();
  const ledger = createUsageLedger({
    store: fake.store,
    logger: log.logger,
    flushIntervalMs: 3_600_000,
    retryDelayMs: 5,
    maxRetryDelayMs: 20,
    ...overrides,
  });
  ledgers.push(ledger);
  return { ledger, ...fake, ...log };
}

describe("createUsageLedger", () => {
  it("records without touching the store on the request path, then writes in batches", async () => {
    const { ledger, rows, calls } = start({ batchSize: 3 });
    const records = Array.from({ length: 7 }, () => usage());
    for (const record of records) ledger.record(record);
    expect(calls).toEqual([]);

    await ledger.flush();
    expect(calls).toEqual([3, 3, 1]);
    expect([...rows.keys()]).toEqual(records.map((record) => record.id));
    expect(ledger.stats()).toEqual({ buffered: 0, written: 7, dropped: 0, failedWrites: 0 });
  });

  it("writes a full batch at once and leaves a partial one for the interval", async () => {
    const { ledger, calls } = start({ batchSize: 5 });
    for (let i = 0; i < 6; i++) ledger.record(usage());
    await vi.waitFor(() => expect(ledger.stats().written).toBe(5));
    expect(calls).toEqual([5]);
    expect(ledger.stats().buffered).toBe(1);
  });

  it("writes a partial batch on the interval", async () => {
    const { ledger, rows } = start({ flushIntervalMs: 10 });
    ledger.record(usage());
    ledger.record(usage());
    await vi.waitFor(() => expect(rows.size).toBe(2));
  });

  it("keeps records through a store outage and writes each exactly once when it recovers", async () => {
    const { ledger, rows, control, count } = start({ batchSize: 4 });
    control.failure = "down";
    const records = Array.from({ length: 10 }, () => usage());
    for (const record of records) ledger.record(record);

    await expect(ledger.flush()).rejects.toThrow(/store write failed/);
    await vi.waitFor(() => expect(ledger.stats().failedWrites).toBeGreaterThanOrEqual(3)); // retried with backoff
    expect(ledger.stats()).toMatchObject({ buffered: 10, written: 0, dropped: 0 });
    expect(count("error")).toBe(1);

    control.failure = undefined;
    await vi.waitFor(() => expect(ledger.stats().written).toBe(10)); // by the retry timer, no flush call
    expect([...rows.keys()]).toEqual(records.map((record) => record.id));
    expect(count("info")).toBe(1);
  });

  it("does not double-count a batch retried after an ambiguous failure", async () => {
    const { ledger, rows, control, calls } = start({ batchSize: 10 });
    control.failure = "ambiguous";
    for (let i = 0; i < 5; i++) ledger.record(usage());
    await expect(ledger.flush()).rejects.toThrow();
    control.failure = undefined;
    await ledger.flush();
    expect(calls).toEqual([5, 5]);
    expect(rows.size).toBe(5);
    expect(ledger.stats()).toMatchObject({ buffered: 0, written: 5, failedWrites: 1 });
  });

  it("drops the newest records when the buffer is full, counting them and logging once", async () => {
    const { ledger, rows, control, count } = start({ maxBuffered: 5, batchSize: 2 });
    control.failure = "down";
    const records = Array.from({ length: 8 }, () => usage());
    for (const record of records.slice(0, 2)) ledger.record(record);
    await vi.waitFor(() => expect(ledger.stats().failedWrites).toBeGreaterThan(0));
    for (const record of records.slice(2)) ledger.record(record);
    expect(ledger.stats()).toMatchObject({ buffered: 5, dropped: 3 });

    control.failure = undefined;
    await ledger.flush();
    expect([...rows.keys()]).toEqual(records.slice(0, 5).map((record) => record.id));
    expect(count("error")).toBe(2); // the store outage, and the buffer filling up
    expect(count("warn")).toBe(1); // room again
  });

  it("writes what is left on close, and drops records that arrive after it", async () => {
    const { ledger, rows, count } = start({ batchSize: 100 });
    for (let i = 0; i < 3; i++) ledger.record(usage());
    await ledger.close();
    expect(rows.size).toBe(3);

    ledger.record(usage());
    ledger.record(usage());
    expect(ledger.stats()).toEqual({ buffered: 0, written: 3, dropped: 2, failedWrites: 0 });
    expect(count("warn")).toBe(1);
  });

  it("retries on close until the store answers", async () => {
    const { ledger, rows, control } = start({ closeTimeoutMs: 5_000 });
    control.failNext = 2;
    for (let i = 0; i < 3; i++) ledger.record(usage());
    await ledger.close();
    expect(rows.size).toBe(3);
    expect(ledger.stats()).toMatchObject({ written: 3, failedWrites: 2, dropped: 0 });
  });

  it("gives up at close's deadline, counting and logging what was lost", async () => {
    const { ledger, control, lines } = start({ closeTimeoutMs: 50 });
    control.failure = "down";
    for (let i = 0; i < 4; i++) ledger.record(usage());
    await ledger.close();
    expect(ledger.stats()).toMatchObject({ buffered: 0, written: 0, dropped: 4 });
    expect(lines.at(-1)).toMatchObject({
      level: "error",
      msg: expect.stringMatching(/closed with records unwritten/),
    });
  });

  it("never throws from record, even when the store throws synchronously", async () => {
    const log = recordingLogger();
    const ledger = createUsageLedger({
      store: {
        insertMany: () => {
          throw new Error("sync failure");
        },
        summarize: async () => [],
      },
      logger: log.logger,
      batchSize: 1,
      retryDelayMs: 5,
      closeTimeoutMs: 20,
    });
    ledgers.push(ledger);
    expect(() => ledger.record(usage())).not.toThrow();
    await vi.waitFor(() => expect(ledger.stats().failedWrites).toBeGreaterThan(0));
  });
});
