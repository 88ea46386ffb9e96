import { Code, ConnectError } from "@connectrpc/connect";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { toTRPCError } from "./to-trpc-error.js";

const logs: unknown[] = [];
const logger = pino({ level: "info" }, { write: (line: string) => logs.push(JSON.parse(line)) });
const context = { correlationId: "cid-1", logger };

/** An error as rpc-server sends it: its message names the correlation id, which is also a header. */
function answered(code: Code, message: string) {
  return new ConnectError(`${message} (correlation id: cid-1)`, code, { "x-correlation-id": "cid-1" });
}

describe("toTRPCError", () => {
  it.each([
    [Code.InvalidArgument, "BAD_REQUEST"],
    [Code.Unauthenticated, "UNAUTHORIZED"],
    [Code.PermissionDenied, "FORBIDDEN"],
    [Code.NotFound, "NOT_FOUND"],
    [Code.ResourceExhausted, "TOO_MANY_REQUESTS"],
    [Code.Unavailable, "BAD_GATEWAY"],
    [Code.DeadlineExceeded, "TIMEOUT"],
  ])("maps rpc-server's %s as DESIGN.md's table says (%s), keeping its message", (code, expected) => {
    const error = toTRPCError(answered(code, "what went wrong"), context);
    expect(error.code).toBe(expected);
    expect(error.message).toBe("what went wrong (correlation id: cid-1)");
  });

  it("hides rpc-server's internal errors and the BFF's own bugs", () => {
    expect(toTRPCError(answered(Code.Internal, "pg: relation missing"), context).message).toBe(
      "internal error (correlation id: cid-1)",
    );
    const bug = toTRPCError(new TypeError("cannot read properties of undefined"), context);
    expect(bug.code).toBe("INTERNAL_SERVER_ERROR");
    expect(bug.message).toBe("internal error (correlation id: cid-1)");
  });

  it("tells a call that never reached rpc-server from one it answered, without the transport's text", () => {
    const unreachable = toTRPCError(
      new ConnectError("connect ECONNREFUSED 10.0.0.7:8080", Code.Unavailable),
      context,
    );
    expect(unreachable.code).toBe("BAD_GATEWAY");
    expect(unreachable.message).not.toMatch(/ECONNREFUSED|10\.0\.0\.7/);
    expect(JSON.stringify(logs)).toMatch(/ECONNREFUSED/);
  });

  it("reads the retry delay of a rate limit from the retry-after-ms header", () => {
    const limited = new ConnectError("rate limit reached", Code.ResourceExhausted, {
      "x-correlation-id": "cid-1",
      "retry-after-ms": "2500",
    });
    expect(toTRPCError(limited, context)).toMatchObject({ code: "TOO_MANY_REQUESTS", retryAfterMs: 2500 });
  });
});
