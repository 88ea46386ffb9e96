import { randomUUID } from "node:crypto";
import { type Client, ConnectError } from "@connectrpc/connect";
import { type InferenceService, Role } from "@noa/proto";
import { codeNames } from "../classify-error.js";

/**
 * How one call ended, as its client saw it. `error` names the failure: a Connect code name
 * (`unavailable`), `http <status> <type>` for a REST refusal, `sse-error <code>` for a REST stream that
 * ended with an error event and without `[DONE]`, `network <code>` for a connection that failed,
 * `truncated` for a stream that ended without an ending (no finish, no `[DONE]`, no error: a silent
 * cut), `malformed-event` for an SSE event that is not JSON, `hang` for a call still running at the
 * watchdog's deadline.
 */
export interface CallResult {
  /** The correlation id sent as `x-correlation-id` (the usage record's). */
  id: string;
  face: "rest" | "rest-stream" | "grpc-stream";
  ok: boolean;
  error?: string;
  /** The error's own message (Connect's raw message, or the network error's), for diagnosis. */
  detail?: string;
  /** Text parts received (streams) before the end. */
  tokens: number;
  /** `<provider>/<model>` that served, when the answer says. */
  servedBy?: string;
  /** Provider calls it took (gRPC only: the last message's `attempts`; skipped open breakers not counted). */
  attempts?: number;
  ms: number;
  /** The call's number in the load (0, 1, …, in the order they started). */
  n: number;
  /** When the call started, relative to the load's start (ms). */
  startedAt: number;
  /** What the test was doing when the call started (e.g. `outage`). */
  phase: string;
}

/** What every call of a load needs. */
export interface CallTarget {
  baseUrl: string;
  key: string;
  model: string;
  maxTokens: number;
  /** Past this a call counts as a hang and is abandoned. */
  hangAfterMs: number;
}

type CallBase = Omit<CallResult, "face" | "ok" | "ms" | "n" | "startedAt" | "phase" | "tokens">;

/** One OpenAI chat completion over REST (HTTP/1.1 fetch), whole or streamed, read to its end. */
export async function restChat(
  target: CallTarget,
  stream: boolean,
): Promise<Omit<CallResult, "n" | "startedAt" | "phase">> {
  const id = randomUUID();
  const face: CallResult["face"] = stream ? "rest-stream" : "rest";
  const started = performance.now();
  const watchdog = AbortSignal.timeout(target.hangAfterMs);
  let tokens = 0;
  const end = (result: CallBase & { ok: boolean }) => ({
    face,
    tokens,
    ms: Math.round(performance.now() - started),
    ...result,
  });
  try {
    const response = await fetch(`${target.baseUrl}/v1/chat/completions`, {
      method: "POST",
      signal: watchdog,
      headers: {
        authorization: `Bearer ${target.key}`,
        "content-type": "application/json",
        "x-correlation-id": id,
      },
      body: JSON.stringify({
        model: target.model,
        messages: [{ role: "user", content: `Tell me about the sea, request ${id}.` }],
        max_tokens: target.maxTokens,
        stream,
        ...(stream && { stream_options: { include_usage: true } }),
      }),
    });
    if (!stream || response.status !== 200) {
      const text = await response.text();
      let body: { model?: string; error?: { type?: string; code?: string | null } };
      try {
        body = JSON.parse(text);
      } catch {
        return end({ id, ok: false, error: `http ${response.status} not-json`, detail: text.slice(0, 200) });
      }
      if (response.status !== 200) {
        return end({ id, ok: false, error: `http ${response.status} ${body.error?.type ?? "?"}` });
      }
      return end({ id, ok: true, servedBy: body.model });
    }
    let servedBy: string | undefined;
    let sawDone = false;
    let errorEvent: string | undefined;
    let buffered = "";
    const decoder = new TextDecoder();
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      let boundary = buffered.indexOf("\n\n");
      while (boundary !== -1) {
        const event = buffered.slice(0, boundary);
        buffered = buffered.slice(boundary + 2);
        boundary = buffered.indexOf("\n\n");
        const data = event.replace(/^data: /, "");
        if (data === "[DONE]") {
          sawDone = true;
          continue;
        }
        let parsed: {
          error?: { code?: string | null; type?: string };
          model?: string;
          choices?: Array<{ delta?: { content?: string }; finish_reason?: string | null }>;
        };
        try {
          parsed = JSON.parse(data);
        } catch {
          return end({ id, ok: false, error: "malformed-event", detail: event });
        }
        if (parsed.error) errorEvent = parsed.error.code ?? parsed.error.type ?? "?";
        const choice = parsed.choices?.[0];
        if (choice?.delta?.content) tokens++;
        if (choice?.finish_reason) servedBy = parsed.model;
      }
    }
    if (errorEvent !== undefined) {
      // An error after [DONE] would be a stream that claimed success and then failed: never allowed.
      return end({ id, ok: false, error: sawDone ? "done-then-error" : `sse-error ${errorEvent}` });
    }
    if (!sawDone) return end({ id, ok: false, error: "truncated" });
    return end({ id, ok: true, servedBy });
  } catch (error) {
    if (watchdog.aborted) return end({ id, ok: false, error: "hang" });
    return end({ id, ok: false, error: `network ${networkCode(error)}`, detail: String(error) });
  }
}

/** One StreamComplete over gRPC (HTTP/2), read to its end. */
export async function grpcStream(
  client: Client<typeof InferenceService>,
  target: Omit<CallTarget, "baseUrl" | "key">,
): Promise<Omit<CallResult, "n" | "startedAt" | "phase">> {
  const id = randomUUID();
  const started = performance.now();
  const watchdog = AbortSignal.timeout(target.hangAfterMs);
  let tokens = 0;
  let servedBy: string | undefined;
  let attempts: number | undefined;
  let finished = false;
  const end = (result: CallBase & { ok: boolean }) => ({
    face: "grpc-stream" as const,
    tokens,
    ms: Math.round(performance.now() - started),
    ...result,
  });
  try {
    for await (const part of client.streamComplete(
      {
        model: target.model,
        messages: [{ role: Role.USER, content: `Tell me about the sea, request ${id}.` }],
        maxTokens: target.maxTokens,
      },
      { signal: watchdog, headers: { "x-correlation-id": id } },
    )) {
      if (part.text) tokens++;
      if (part.finishReason) {
        finished = true;
        servedBy = part.model;
        attempts = part.attempts;
      }
    }
    return finished ? end({ id, ok: true, servedBy, attempts }) : end({ id, ok: false, error: "truncated" });
  } catch (error) {
    if (watchdog.aborted) return end({ id, ok: false, error: "hang" });
    const connectError = ConnectError.from(error);
    return end({ id, ok: false, error: codeNames[connectError.code], detail: connectError.rawMessage });
  }
}

function networkCode(error: unknown): string {
  let cause: unknown = error;
  while (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === "string") return code;
    if (!cause.cause) return cause.message;
    cause = cause.cause;
  }
  return String(error);
}
