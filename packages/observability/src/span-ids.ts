import type { TraceState } from "@opentelemetry/api";

/** Two hex digits for each byte value. */
const hexByte = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

/** A 32-bit word as eight hex digits. */
export function hexWord(word: number): string {
  return (
    (hexByte[word >>> 24] as string) +
    (hexByte[(word >>> 16) & 255] as string) +
    (hexByte[(word >>> 8) & 255] as string) +
    (hexByte[word & 255] as string)
  );
}

/** Eight hex digits from `at` in `hex` as a 32-bit word (signed, as randomWord draws them). */
export function wordAt(hex: string, at: number): number {
  return Number.parseInt(hex.slice(at, at + 8), 16) | 0;
}

/**
 * A trace id as its four 32-bit words, most significant first: how NOA draws a trace id, decides it
 * (a trace-id ratio compares the words' XOR with its bound) and writes it (OTLP's 16 bytes). Its hex
 * text, which the API's SpanContext carries, is made once, when something first asks for it (an
 * outgoing `traceparent`, the SDK's exporters); one object is shared by the spans of a trace.
 */
export class TraceWords {
  private text: string | undefined;

  constructor(
    readonly w0: number,
    readonly w1: number,
    readonly w2: number,
    readonly w3: number,
  ) {}

  static fromHex(hex: string): TraceWords {
    const words = new TraceWords(wordAt(hex, 0), wordAt(hex, 8), wordAt(hex, 16), wordAt(hex, 24));
    words.text = hex;
    return words;
  }

  /** The words' XOR, unsigned: what TraceIdRatioBasedSampler compares with its bound. */
  get ratioWord(): number {
    return (this.w0 ^ this.w1 ^ this.w2 ^ this.w3) >>> 0;
  }

  get hex(): string {
    this.text ??= hexWord(this.w0) + hexWord(this.w1) + hexWord(this.w2) + hexWord(this.w3);
    return this.text;
  }
}

/** A recorded span's ids: its trace's words, its own id's two words, and the trace state it carries on. */
export class SpanIds {
  constructor(
    readonly trace: TraceWords,
    readonly high: number,
    readonly low: number,
    readonly traceState?: TraceState,
  ) {}

  get spanIdHex(): string {
    return hexWord(this.high) + hexWord(this.low);
  }
}
