import type { IncomingMessage } from "node:http";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { readJsonBody } from "./read-json-body.js";
import { RestRequestError } from "./rest-request-error.js";

/** A request stream with headers, fed by the test. */
function request(headers: Record<string, string> = {}) {
  const stream = new PassThrough();
  return Object.assign(stream, { headers }) as unknown as IncomingMessage & PassThrough;
}

const limits = { maxBytes: 100, timeoutMs: 0 };

async function refusal(promise: Promise<unknown>): Promise<RestRequestError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RestRequestError);
  return error as RestRequestError;
}

describe("readJsonBody", () => {
  it("parses a body sent in several chunks, with a byte order mark", async () => {
    const req = request();
    const body = readJsonBody(req, limits);
    req.write('\uFEFF{"model":');
    req.end('"x"}');
    expect(await body).toEqual({ model: "x" });
  });

  it("refuses a declared length over the limit before reading", async () => {
    const error = await refusal(readJsonBody(request({ "content-length": "101" }), limits));
    expect(error.status).toBe(413);
    expect(error.message).toMatch(/larger than this server's limit of 100 bytes \(NOA_MAX_BODY_BYTES\)/);
  });

  it("refuses a chunked body once it passes the limit", async () => {
    const req = request();
    const body = readJsonBody(req, limits);
    req.write("x".repeat(60));
    req.write("x".repeat(60));
    expect((await refusal(body)).status).toBe(413);
  });

  it("says where JSON breaks", async () => {
    const req = request();
    const body = readJsonBody(req, limits);
    req.end('{"a":\n  nope}');
    const error = await refusal(body);
    expect(error.status).toBe(400);
    expect(error.message).toBe(
      'the request body is not valid JSON at line 2, column 3 (position 8): expected a value, found "n"; send a JSON object',
    );
  });

  it("refuses an empty body and a compressed one", async () => {
    const req = request();
    const body = readJsonBody(req, limits);
    req.end("  ");
    expect((await refusal(body)).message).toMatch(/body is empty/);
    expect((await refusal(readJsonBody(request({ "content-encoding": "gzip" }), limits))).status).toBe(415);
  });

  it("gives up on a body that does not arrive in time", async () => {
    const req = request();
    const body = readJsonBody(req, { maxBytes: 100, timeoutMs: 20 });
    req.write("{");
    const error = await refusal(body);
    expect(error.status).toBe(408);
    expect(error.message).toMatch(/did not arrive within 20 ms/);
  });

  it("rejects when the client goes away mid-body", async () => {
    const req = request();
    const body = readJsonBody(req, limits);
    req.write("{");
    req.destroy();
    await expect(body).rejects.toThrow(/closed the connection/);
  });
});
