import http2 from "node:http2";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../__fixtures__/start-test-server.js";

// Issue 10's bad-input suite: property-based fuzzing of REST JSON bodies, Connect JSON and raw gRPC
// frames. Every answer is a clean refusal (4xx, or a gRPC/Connect code that names the caller's
// mistake), never an internal error, a stack trace or a secret, and the server keeps serving.
const runs = Number(process.env.NOA_FUZZ_RUNS ?? 150);
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ http: { maxBodyBytes: 64 * 1024 } });
});
afterAll(async () => {
  await server?.close();
});

/** What no answer may contain: stack frames, module paths, runtime error names, the caller's key. */
function expectNothingInternal(text: string): void {
  expect(text).not.toMatch(/\n\s+at |node_modules|\.ts:\d+|TypeError|ReferenceError|SyntaxError: Unexpected/);
  expect(text).not.toContain(server.adminKey);
}

async function post(path: string, body: string | Uint8Array, contentType = "application/json") {
  const response = await fetch(`${server.baseUrl}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${server.adminKey}`, "content-type": contentType },
    body,
  });
  return { status: response.status, text: await response.text() };
}

/** JSON values shaped like completion requests, mostly wrong: wrong types, wrong ranges, extra fields. */
const requestLike = fc.record(
  {
    model: fc.oneof(
      fc.constant("llama-cpp/llama-2-tiny-random"),
      fc.string(),
      fc.integer(),
      fc.constant(null),
    ),
    messages: fc.oneof(
      fc.array(
        fc.record(
          {
            role: fc.oneof(fc.constantFrom("user", "system", "assistant", "tool", ""), fc.integer()),
            content: fc.jsonValue(),
          },
          { requiredKeys: [] },
        ),
        { maxLength: 3 },
      ),
      fc.jsonValue(),
    ),
    prompt: fc.jsonValue(),
    max_tokens: fc.oneof(fc.integer({ min: -10, max: 0 }), fc.double(), fc.string(), fc.constant(null)),
    temperature: fc.oneof(fc.double({ min: -10, max: 10 }), fc.string()),
    top_p: fc.oneof(fc.double({ min: -1, max: 2 }), fc.boolean()),
    n: fc.integer({ min: -1, max: 5 }),
    stop: fc.oneof(fc.array(fc.string(), { maxLength: 6 }), fc.integer()),
    stream: fc.oneof(fc.boolean(), fc.string()),
  },
  { requiredKeys: [] },
);

describe("REST bodies", () => {
  it("answers any JSON value with a 4xx in OpenAI's error shape, never a 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("/v1/chat/completions", "/v1/completions"),
        fc.oneof(fc.jsonValue(), requestLike),
        async (path, value) => {
          const { status, text } = await post(path, JSON.stringify(value));
          // A valid request is answered (the tiny model is fast); anything else is refused cleanly.
          if (status === 200) return;
          expect(status).toBeGreaterThanOrEqual(400);
          expect(status).toBeLessThan(500);
          const body = JSON.parse(text) as { error: { message: string; type: string } };
          expect(typeof body.error.message).toBe("string");
          expectNothingInternal(text);
        },
      ),
      { numRuns: runs },
    );
  });

  it("refuses raw bytes, invalid UTF-8 and truncated JSON with a 400 saying where", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ minLength: 1, maxLength: 512 }),
          fc.string().map((text) => `{"model": "x", "messages": [${text}`),
          fc.constant(new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])),
        ),
        async (body) => {
          const { status, text } = await post("/v1/chat/completions", body);
          expect([400, 413]).toContain(status);
          expectNothingInternal(text);
        },
      ),
      { numRuns: runs },
    );
  });

  it("refuses an oversized body with 413", async () => {
    const { status, text } = await post("/v1/chat/completions", JSON.stringify({ pad: "x".repeat(200_000) }));
    expect(status).toBe(413);
    expectNothingInternal(text);
  });
});

describe("Connect JSON", () => {
  it("answers any JSON value with a Connect error naming the caller's mistake, never internal", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.jsonValue(), requestLike), async (value) => {
        const { status, text } = await post(
          "/noa.inference.v1.InferenceService/Complete",
          JSON.stringify(value),
        );
        if (status === 200) return;
        const body = JSON.parse(text) as { code: string; message: string };
        expect(["invalid_argument", "not_found", "out_of_range"]).toContain(body.code);
        expectNothingInternal(text);
      }),
      { numRuns: runs },
    );
  });
});

describe("gRPC frames", () => {
  /** One unary gRPC call with `body` as the raw request bytes; resolves with grpc-status and message. */
  function grpcCall(session: http2.ClientHttp2Session, body: Uint8Array) {
    return new Promise<{ status: string; message: string }>((resolve, reject) => {
      const stream = session.request({
        ":method": "POST",
        ":path": "/noa.inference.v1.InferenceService/Complete",
        "content-type": "application/grpc",
        te: "trailers",
        authorization: `Bearer ${server.adminKey}`,
      });
      let headers: http2.IncomingHttpHeaders = {};
      stream.on("response", (received) => {
        headers = received;
      });
      stream.on("trailers", (trailers) => {
        headers = { ...headers, ...trailers };
      });
      stream.on("data", () => {});
      stream.on("end", () =>
        resolve({
          status: String(headers["grpc-status"]),
          message: decodeURIComponent(String(headers["grpc-message"] ?? "")),
        }),
      );
      stream.on("error", reject);
      stream.end(body);
    });
  }

  it("refuses random bytes, well-framed or not, without an internal error", async () => {
    const session = http2.connect(server.baseUrl);
    try {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.boolean(), async (payload, framed) => {
          // Framed: a valid 5-byte prefix (uncompressed, the payload's length); otherwise the bytes as they come.
          const prefix = Buffer.alloc(5);
          prefix.writeUInt32BE(payload.length, 1);
          const body = framed ? Buffer.concat([prefix, payload]) : Buffer.from(payload);
          const { status, message } = await grpcCall(session, body);
          // 0 only if the bytes happened to decode to a valid request; 8 for a length prefix past the
          // message size limit; 13 (INTERNAL) and 2 (UNKNOWN) never.
          expect(["0", "3", "5", "8", "11", "12"]).toContain(status);
          expectNothingInternal(message);
        }),
        { numRuns: runs },
      );
    } finally {
      session.close();
    }
  });
});

describe("after the fuzzing", () => {
  it("still serves, and no log line holds the caller's key or a stack trace at error level", async () => {
    expect((await fetch(`${server.baseUrl}/health`)).status).toBe(200);
    expect(JSON.stringify(server.logs)).not.toContain(server.adminKey);
    expect(server.logs.filter((line) => (line.level as number) >= 50)).toEqual([]);
  });
});
