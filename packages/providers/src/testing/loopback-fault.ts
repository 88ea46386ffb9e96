/**
 * A failure a loopback vendor server (OpenAI, Anthropic fixtures) injects into one request, so the
 * router's behaviour under each can be tested through the real SDKs.
 */
export type LoopbackFault =
  /** Answer with this HTTP status and the vendor's error body; optional retry headers. */
  | { kind: "status"; status: number; retryAfter?: string; retryAfterMs?: string }
  /** Destroy the socket before sending any response headers. */
  | { kind: "reset-before-headers" }
  /** Send the stream's first `afterChunks` text chunks, then destroy the socket. */
  | { kind: "reset-mid-stream"; afterChunks: number }
  /** Send headers (streaming) or nothing (unary), then never send a token until the client leaves. */
  | { kind: "stall-before-first-token" }
  /** Send `afterChunks` text chunks, then stall until the client leaves. */
  | { kind: "stall-mid-stream"; afterChunks: number }
  /** Answer 200 with an SSE stream whose first event's data is not JSON. */
  | { kind: "malformed-sse" };

/** What a loopback server saw of one request. */
export interface LoopbackRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  /** The fault applied to it, if any. */
  fault: LoopbackFault | undefined;
  /** True once the client closed the connection before the response was complete. */
  closedByClient: boolean;
  /** Text chunks written to the client. */
  chunksSent: number;
}

/** Control surface shared by the loopback vendor servers. */
export interface LoopbackServer {
  /** e.g. `http://127.0.0.1:PORT/v1` for OpenAI, `http://127.0.0.1:PORT` for Anthropic (as each SDK wants it). */
  baseURL: string;
  /** Faults for the next requests, in order; requests beyond the queue are answered normally. */
  enqueueFaults(...faults: LoopbackFault[]): void;
  /** Every request seen so far, in order. */
  requests: LoopbackRequest[];
  close(): Promise<void>;
}

/**
 * The deterministic answer both loopback servers give: words of a fixed text, one token per word,
 * cut at `maxTokens` or before the first stop sequence, like the real APIs.
 */
export function scriptedAnswer(options: { maxTokens: number; stop: string[] }): {
  chunks: string[];
  finish: "stop" | "length";
} {
  const words =
    "The sea is vast and deep and blue, it holds the light of morning and the weight of storms, " +
    "and every wave that breaks upon the shore has travelled far across the patient water to arrive.";
  const all = words.split(" ").map((word, index) => (index === 0 ? word : ` ${word}`));
  const chunks: string[] = [];
  let text = "";
  for (const chunk of all) {
    if (chunks.length === options.maxTokens) return { chunks, finish: "length" };
    const next = text + chunk;
    const stopAt = Math.min(
      ...options.stop.map((stop) => next.indexOf(stop)).filter((index) => index !== -1),
    );
    if (Number.isFinite(stopAt)) {
      const rest = next.slice(text.length, stopAt);
      if (rest) chunks.push(rest);
      return { chunks, finish: "stop" };
    }
    chunks.push(chunk);
    text = next;
  }
  return { chunks, finish: "stop" };
}

/** Tokens the loopback servers charge for a prompt: one per word. */
export function countPromptTokens(texts: string[]): number {
  return texts.reduce((sum, text) => sum + text.split(/\s+/).filter(Boolean).length, 0);
}
