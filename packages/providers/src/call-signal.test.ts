import { describe, expect, it, vi } from "vitest";
import { type AbortListener, CallController, type CallSignal, toAbortSignal } from "./call-signal.js";

// CallController stands in for AbortController wherever NOA's layers read a signal: the same behaviour.
describe.each([
  ["AbortController", () => new AbortController() as { signal: CallSignal; abort(reason?: unknown): void }],
  ["CallController", () => new CallController()],
])("%s", (_, create) => {
  it("starts unaborted, then aborts once with the given reason", () => {
    const controller = create();
    expect(controller.signal.aborted).toBe(false);
    expect(controller.signal.reason).toBeUndefined();
    const reason = new Error("the client left");
    controller.abort(reason);
    controller.abort(new Error("a second abort"));
    expect(controller.signal.aborted).toBe(true);
    expect(controller.signal.reason).toBe(reason);
  });

  it("aborts with an AbortError when no reason is given", () => {
    const controller = create();
    controller.abort();
    expect(controller.signal.reason).toBeInstanceOf(DOMException);
    expect((controller.signal.reason as DOMException).name).toBe("AbortError");
  });

  it("runs each listener (function or handleEvent object) once, in the order added, with an abort event", () => {
    const controller = create();
    const calls: string[] = [];
    const first = (event: Event) => calls.push(`first ${event.type}`);
    const second = { handleEvent: (event: Event) => calls.push(`second ${event.type}`) };
    controller.signal.addEventListener("abort", first, { once: true });
    controller.signal.addEventListener("abort", second);
    controller.signal.addEventListener("abort", first);
    controller.abort();
    controller.abort();
    expect(calls).toEqual(["first abort", "second abort"]);
  });

  it("runs no listener that was removed, even by an earlier listener during the abort", () => {
    const controller = create();
    const calls: string[] = [];
    const removed = () => calls.push("removed");
    const later = () => calls.push("later");
    controller.signal.addEventListener("abort", removed);
    controller.signal.removeEventListener("abort", removed);
    controller.signal.addEventListener("abort", () => {
      calls.push("remover");
      controller.signal.removeEventListener("abort", later);
    });
    controller.signal.addEventListener("abort", later);
    controller.abort();
    expect(calls).toEqual(["remover"]);
  });

  it("never runs a listener added after the abort", () => {
    const controller = create();
    controller.abort();
    const listener = vi.fn();
    controller.signal.addEventListener("abort", listener);
    expect(listener).not.toHaveBeenCalled();
  });
});

describe("CallController", () => {
  it("runs the other listeners when one throws, and leaves the error uncaught", () => {
    const controller = new CallController();
    const deferred: Array<() => void> = [];
    const nextTick = vi.spyOn(process, "nextTick").mockImplementation(((callback: () => void) => {
      deferred.push(callback);
    }) as typeof process.nextTick);
    const after = vi.fn();
    const failing: AbortListener = () => {
      throw new Error("a listener failed");
    };
    try {
      controller.signal.addEventListener("abort", failing);
      controller.signal.addEventListener("abort", after);
      controller.abort();
    } finally {
      nextTick.mockRestore();
    }
    expect(after).toHaveBeenCalledOnce();
    expect(deferred).toHaveLength(1);
    expect(() => deferred[0]?.()).toThrow("a listener failed");
  });
});

describe("toAbortSignal", () => {
  it("gives back a real AbortSignal as it is, and nothing for no signal", () => {
    const { signal } = new AbortController();
    expect(toAbortSignal(signal)).toBe(signal);
    expect(toAbortSignal(undefined)).toBeUndefined();
  });

  it("makes a real AbortSignal that aborts with a CallController's reason", () => {
    const controller = new CallController();
    const signal = toAbortSignal(controller.signal);
    expect(signal).toBeInstanceOf(AbortSignal);
    expect(signal?.aborted).toBe(false);
    const reason = new Error("timed out");
    controller.abort(reason);
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBe(reason);
  });

  it("is aborted already when the CallController was", () => {
    const controller = new CallController();
    const reason = new Error("gone");
    controller.abort(reason);
    const signal = toAbortSignal(controller.signal);
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBe(reason);
  });
});
