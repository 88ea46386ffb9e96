import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../auth/logger.js";
import type { UsageRecord, UsageStore } from "./usage-store.js";

/** The store to write to and how the buffer in front of it behaves. */
export interface UsageLedgerOptions {
  store: UsageStore;
  logger: Logger;
  /** Records held at most (in flight included); beyond it new records are dropped and counted. Defaults to 10 000. */
  maxBuffered?: number;
  /** Records per `insertMany`; a full batch is written at once. Defaults to 500. */
  batchSize?: number;
  /** How often a partial batch is written. Defaults to 1 000 ms. */
  flushIntervalMs?: number;
  /** Wait before the first retry after a failed write, doubled on each further failure. Defaults to 1 000 ms. */
  retryDelayMs?: number;
  /** Longest wait between retries. Defaults to 30 000 ms. */
  maxRetryDelayMs?: number;
  /** How long `close()` keeps trying to write what is left. Defaults to 5 000 ms. */
  closeTimeoutMs?: number;
}

/** Counters for metrics and readiness; `buffered` includes the batch being written. */
export interface UsageLedgerStats {
  buffered: number;
  /** Records the store has acknowledged. */
  written: number;
  /** Records given up on: refused because the buffer was full or the ledger closed, or unwritten at close's deadline. */
  dropped: number;
  /** `insertMany` calls that failed (each retried later). */
  failedWrites: number;
}

/** The usage and cost ledger as the request path sees it: record and forget. */
export interface UsageLedger {
  /** Buffers one record; synchronous, never throws, never waits on the store. */
  record(record: UsageRecord): void;
  /** Writes everything recorded before the call; rejects if a write fails (the records stay buffered and are retried). */
  flush(): Promise<void>;
  /** Stops accepting records and writes what is left, retrying until `closeTimeoutMs`; what is still unwritten then is logged and counted as dropped. */
  close(): Promise<void>;
  stats(): UsageLedgerStats;
}

/**
 * Writes usage records to the store in batches, off the request path. A failed write keeps its batch at the
 * head of the buffer and retries it with exponential backoff, so nothing is lost while the process lives;
 * retrying after an ambiguous failure is safe because the store skips ids it already has. The buffer is
 * bounded: when full, the newest records are dropped (the ones already waiting keep their place), counted in
 * `stats().dropped`, with one error log when dropping starts and one warning when it stops.
 */
export function createUsageLedger(options: UsageLedgerOptions): UsageLedger {
  const {
    store,
    logger,
    maxBuffered = 10_000,
    batchSize = 500,
    flushIntervalMs = 1_000,
    retryDelayMs = 1_000,
    maxRetryDelayMs = 30_000,
    closeTimeoutMs = 5_000,
  } = options;
  for (const [name, value] of Object.entries({ maxBuffered, batchSize, flushIntervalMs })) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be an integer ≥ 1`);
  }
  for (const [name, value] of Object.entries({ retryDelayMs, maxRetryDelayMs, closeTimeoutMs })) {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a number ≥ 0`);
  }

  // FIFO: buffer[0] is the oldest unwritten record; only appends at the end and acknowledged batches leave
  // the head, so buffer[i] is accepted record number `written + i`.
  const buffer: UsageRecord[] = [];
  let accepted = 0;
  let written = 0;
  let dropped = 0;
  let failedWrites = 0;
  let consecutiveFailures = 0;
  let outageStartedAt = 0;
  let lastError: unknown;
  let droppedWhileFull = 0;
  // Records accepted before this count are written even as a partial batch (interval, flush, retry).
  let writeAllBefore = 0;
  let writer: Promise<void> | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let closed = false;
  let abandoned = false;
  let closing: Promise<void> | undefined;

  const interval = setInterval(() => requestWrite(), flushIntervalMs);
  interval.unref();

  function hasWork(): boolean {
    return buffer.length >= batchSize || (buffer.length > 0 && written < writeAllBefore);
  }

  function requestWrite(): void {
    writeAllBefore = accepted;
    startWriter();
  }

  function startWriter(): void {
    if (writer || retryTimer || !hasWork()) return;
    // Started on a microtask so `record` returns before any store code runs.
    writer = Promise.resolve()
      .then(writeLoop)
      .finally(() => {
        writer = undefined;
      });
  }

  async function writeLoop(): Promise<void> {
    while (hasWork() && !abandoned) {
      const batch = buffer.slice(0, batchSize);
      try {
        await store.insertMany(batch);
      } catch (error) {
        onWriteFailed(error);
        return;
      }
      if (abandoned) return;
      buffer.splice(0, batch.length);
      written += batch.length;
      onWriteSucceeded();
    }
  }

  function onWriteFailed(error: unknown): void {
    failedWrites++;
    consecutiveFailures++;
    lastError = error;
    if (consecutiveFailures === 1) {
      outageStartedAt = performance.now();
      logger.error(
        { err: error, buffered: buffer.length },
        "usage ledger: store write failed; records stay buffered and are retried",
      );
    } else {
      logger.debug({ err: error, attempt: consecutiveFailures }, "usage ledger: store write failed again");
    }
    if (closed) return; // close() drives its own retries
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      requestWrite();
    }, backoffDelay());
    retryTimer.unref();
  }

  function onWriteSucceeded(): void {
    if (consecutiveFailures > 0) {
      logger.info(
        { failedAttempts: consecutiveFailures, outageMs: Math.round(performance.now() - outageStartedAt) },
        "usage ledger: store writes recovered",
      );
      consecutiveFailures = 0;
    }
    if (droppedWhileFull > 0 && buffer.length < maxBuffered) {
      logger.warn({ dropped: droppedWhileFull }, "usage ledger: buffer has room again; records were dropped");
      droppedWhileFull = 0;
    }
  }

  function backoffDelay(): number {
    return Math.min(maxRetryDelayMs, retryDelayMs * 2 ** Math.max(0, consecutiveFailures - 1));
  }

  async function flush(): Promise<void> {
    const target = accepted;
    writeAllBefore = Math.max(writeAllBefore, target);
    if (retryTimer) {
      clearTimeout(retryTimer);
      retryTimer = undefined;
    }
    while (written < target && !abandoned) {
      startWriter();
      const running = writer;
      if (!running) return;
      const failuresBefore = failedWrites;
      await running;
      if (failedWrites > failuresBefore && written < target) {
        throw new Error("usage ledger: store write failed; records stay buffered and are retried", {
          cause: lastError,
        });
      }
    }
  }

  async function shutDown(): Promise<void> {
    closed = true;
    clearInterval(interval);
    const deadline = new AbortController();
    const timeUp = sleep(closeTimeoutMs, undefined, { signal: deadline.signal }).then(
      () => "time-up" as const,
      () => "time-up" as const,
    );
    try {
      while (buffer.length > 0) {
        const outcome = await Promise.race([
          flush().then(
            () => "written" as const,
            () => "failed" as const,
          ),
          timeUp,
        ]);
        if (outcome === "time-up") break;
        if (outcome === "failed") {
          const pause = await Promise.race([
            sleep(backoffDelay(), undefined, { signal: deadline.signal }).then(
              () => "retry" as const,
              () => "time-up" as const,
            ),
            timeUp,
          ]);
          if (pause === "time-up") break;
        }
      }
    } finally {
      deadline.abort();
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = undefined;
      if (buffer.length > 0) {
        abandoned = true;
        const lost = buffer.length;
        dropped += lost;
        buffer.length = 0;
        logger.error(
          { lost, err: lastError },
          "usage ledger: closed with records unwritten; they are lost (a write still in flight may yet land)",
        );
      }
    }
  }

  let warnedClosed = false;

  return {
    record(record: UsageRecord): void {
      if (closed) {
        dropped++;
        if (!warnedClosed) {
          warnedClosed = true;
          logger.warn({ id: record.id }, "usage ledger: record after close dropped");
        }
        return;
      }
      if (buffer.length >= maxBuffered) {
        dropped++;
        droppedWhileFull++;
        if (droppedWhileFull === 1) {
          logger.error(
            { maxBuffered, id: record.id },
            "usage ledger: buffer full; dropping new records until the store catches up",
          );
        }
        return;
      }
      buffer.push(record);
      accepted++;
      if (buffer.length >= batchSize) startWriter();
    },
    flush,
    close() {
      closing ??= shutDown();
      return closing;
    },
    stats: () => ({ buffered: buffer.length, written, dropped, failedWrites }),
  };
}
