import { createLogger } from "@noa/observability";
import { TRPCError } from "@trpc/server";
import { describe, expect, it } from "vitest";
import { createProcedureLogger } from "./create-procedure-logger.js";
import { BffError } from "./to-trpc-error.js";

function setup() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    service: "trpc-bff",
    env: "test",
    destination: { write: (line: string) => lines.push(JSON.parse(line)) },
  });
  return { lines, procedureLogger: createProcedureLogger(logger) };
}

const call = (correlationId: string) => ({
  correlationId,
  procedure: "chat.stream",
  type: "subscription" as const,
  startedAt: performance.now() - 12,
});

describe("createProcedureLogger", () => {
  it("writes a call's line at info with its correlation id, procedure, type, outcome and duration", () => {
    const { lines, procedureLogger } = setup();
    procedureLogger.ended(call("cid-1"), "ok");
    expect(lines).toEqual([
      expect.objectContaining({
        level: 30,
        msg: "trpc",
        correlationId: "cid-1",
        procedure: "chat.stream",
        type: "subscription",
        code: "ok",
        ms: expect.any(Number),
      }),
    ]);
    expect(lines[0]?.ms).toBeGreaterThanOrEqual(12);
  });

  it("writes a failure tRPC reports twice once", () => {
    const { lines, procedureLogger } = setup();
    const refused = new BffError({ code: "UNAUTHORIZED", message: "sign in", correlationId: "cid-2" });
    procedureLogger.ended(call("cid-2"), refused.code, refused);
    procedureLogger.ended(call("cid-2"), refused.code, refused);
    expect(lines.map((line) => [line.msg, line.code])).toEqual([["trpc", "UNAUTHORIZED"]]);
  });

  it("logs the cause of a bug no mapping saw, besides the call's line", () => {
    const { lines, procedureLogger } = setup();
    const bug = new TRPCError({ code: "INTERNAL_SERVER_ERROR", cause: new TypeError("model is undefined") });
    procedureLogger.ended(call("cid-3"), bug.code, bug);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 50,
        msg: "procedure failed",
        correlationId: "cid-3",
        err: expect.objectContaining({ message: "model is undefined" }),
      }),
      expect.objectContaining({ level: 30, msg: "trpc", code: "INTERNAL_SERVER_ERROR" }),
    ]);
  });
});
