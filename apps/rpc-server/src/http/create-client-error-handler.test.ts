import { PassThrough } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { type ClientErrorLimits, createClientErrorHandler } from "./create-client-error-handler.js";

/** A client error as Node's server emits it: an Error with a code (and, from the parser, the bytes it saw). */
function clientError(code: string, rawPacket?: string) {
  return Object.assign(new Error(`parser said ${code}`), {
    code,
    rawPacket: rawPacket && Buffer.from(rawPacket),
  });
}

function setUp(limits: Partial<ClientErrorLimits> = {}) {
  const logs: string[] = [];
  const counted: number[] = [];
  const handle = createClientErrorHandler({
    logger: pino({ level: "info" }, { write: (line: string) => logs.push(line) }),
    metrics: { unparsedRequest: (status) => counted.push(status) },
    limits: { requestTimeoutMs: 300, headersTimeoutMs: 300, maxHeaderBytes: 16_384, ...limits },
    stateOf: () => ({}),
  });
  const socket = new PassThrough();
  let written = "";
  socket.on("data", (chunk: Buffer) => {
    written += String(chunk);
  });
  return { handle, socket, logs, counted, written: () => written };
}

describe("createClientErrorHandler", () => {
  it("only closes a reset connection: nobody is left to read an answer", () => {
    const { handle, socket, logs, counted, written } = setUp();
    handle(clientError("ECONNRESET"), socket);
    expect(socket.destroyed).toBe(true);
    expect(written()).toBe("");
    expect(logs).toEqual([]);
    expect(counted).toEqual([]);
  });

  it("only closes a connection that can no longer be written", () => {
    const { handle, socket, written } = setUp();
    socket.end();
    handle(clientError("ERR_HTTP_REQUEST_TIMEOUT"), socket);
    expect(socket.destroyed).toBe(true);
    expect(written()).toBe("");
  });

  it("puts neither the parser's message nor the request's bytes in the answer or the log", async () => {
    const { handle, socket, logs, written } = setUp();
    handle(
      clientError("HPE_INVALID_HEADER_TOKEN", "GET / HTTP/1.1\r\nAuthorization: Bearer sk-secret\r\nX\0: 1"),
      socket,
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(written()).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    for (const text of [written(), ...logs]) {
      expect(text).not.toContain("sk-secret");
      expect(text).not.toContain("parser said");
    }
    expect(JSON.parse(logs[0] as string)).toMatchObject({ cause: "HPE_INVALID_HEADER_TOKEN", status: 400 });
  });

  it.each<[string, Partial<ClientErrorLimits>, string]>([
    [
      "only the headers' limit (no limit on the whole request)",
      { requestTimeoutMs: 0, headersTimeoutMs: 60_000 },
      "the request's headers were not received within 60000 ms; send them faster",
    ],
    [
      "both limits, when they differ",
      { requestTimeoutMs: 300_000, headersTimeoutMs: 60_000 },
      "the request was not received in time (its headers within 60000 ms, all of it within 300000 ms: NOA_REQUEST_TIMEOUT_MS); send it faster",
    ],
  ])("says in a 408 which limit applies: %s", async (_case, limits, message) => {
    const { handle, socket, written } = setUp(limits);
    handle(clientError("ERR_HTTP_REQUEST_TIMEOUT"), socket);
    await new Promise((resolve) => setImmediate(resolve));
    expect(written()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(written().split("\r\n\r\n")[1]).toMatch(
      new RegExp(`^${message.replace(/[()]/g, "\\$&")} \\(correlation id: `),
    );
  });
});
