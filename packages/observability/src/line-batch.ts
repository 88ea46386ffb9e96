import type { pino } from "pino";

type SonicBoom = ReturnType<typeof pino.destination>;

/** How long a logged line waits at most before it is handed to the destination. */
const batchMs = 20;
/** How much waiting text (in UTF-16 units) is handed on at once, without waiting out batchMs. */
const batchChars = 64 * 1024;

/** Batches holding lines not yet handed on. */
const waiting = new Set<LineBatch>();
let exitHooked = false;

/**
 * A destination that hands what is logged to `destination` (pino's asynchronous sonic-boom) every
 * batchMs, as one string (sooner once batchChars wait). Each write sonic-boom starts is a round trip
 * through libuv's thread pool, and it measures the whole string it has buffered at every write. Handing
 * it each turn's lines still cost a busy gateway about a tenth of its CPU with info logging on (against a
 * destination that drops every line); every batchMs, the difference was within the noise. Lines still
 * waiting when the process exits are written then, synchronously.
 */
export class LineBatch {
  #lines: string[] = [];
  #chars = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly destination: SonicBoom) {
    if (!exitHooked) {
      exitHooked = true;
      process.on("exit", () => {
        for (const batch of waiting) {
          try {
            batch.flushSync();
          } catch {
            // A file not yet open (or closed): nothing can be written synchronously any more.
          }
        }
      });
    }
  }

  write(line: string): boolean {
    this.#lines.push(line);
    this.#chars += line.length;
    if (this.#chars >= batchChars) this.#handOn();
    else if (this.#timer === undefined) {
      waiting.add(this);
      // Not unref'd: a process whose work is done still hands its last lines on before it ends.
      this.#timer = setTimeout(this.#handOn, batchMs);
    }
    return true;
  }

  /** pino's logger.flush(): hands on what waits, then flushes the destination. */
  flush(done?: (error?: Error) => void): void {
    this.#handOn();
    this.destination.flush(done);
  }

  flushSync(): void {
    this.#handOn();
    this.destination.flushSync();
  }

  readonly #handOn = (): void => {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    waiting.delete(this);
    if (this.#lines.length === 0) return;
    const text = this.#lines.join("");
    this.#lines = [];
    this.#chars = 0;
    this.destination.write(text);
  };
}
