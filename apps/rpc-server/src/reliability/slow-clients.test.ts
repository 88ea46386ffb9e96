import http2 from "node:http2";
import net from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, type ExpectStatic, expect, it } from "vitest";
// @noa/client is not a dependency of this package (it depends on @noa/rpc-server for its own tests).
import { type SpawnedNoaServer, spawnNoaServer } from "../../../../packages/client/src/testing/index.js";
import { startNormalTraffic } from "./load-normal-traffic.js";
import {
  collectGarbage,
  findListeningPid,
  gcOnSignalNodeOptions,
  readRssBytes,
  startRssSampler,
  toMiB,
} from "./load-process-memory.js";
import { openSlowConnection, type SlowConnection } from "./load-slow-connection.js";

// Issue 10's slow-client suite: slowloris-style clients against the real rpc-server process with a short
// NOA_REQUEST_TIMEOUT_MS. Connections that send their headers or bodies a byte at a time and never finish
// must be closed by the server (not held for ever), ordinary clients must be served meanwhile, oversized
// bodies are refused with 413 without being read to the end, invalid UTF-8 in bodies and headers is a
// clean refusal, and thousands of fuzzed bad requests leave the server's RSS where it was.
const requestTimeoutMs = 1_000;
const maxBodyBytes = 64 * 1024;
/** How long a slow connection may stay open before it counts as held for ever: 8× the limit. */
const holdLimitMs = 8 * requestTimeoutMs;
/**
 * RSS bound while slow clients are connected (peak over the RSS before, with a full collection before
 * and every 2 s meanwhile): each connection costs the server a socket and a parser (a few KiB), so even
 * the ~700 open at once here fit in a few MiB; the rest is room for the normal clients' work meanwhile
 * (up to ~21 MiB seen with the clients of five tests at once) and native memory settling. A server
 * that kept what slow clients trickle, or buffered the oversized bodies, would exceed it.
 */
const slowRssBoundMiB = 64;
/** Fuzzed bad requests after the warm-up (which is a fifth as many). */
const fuzzRuns = Number(process.env.NOA_FUZZ_MEMORY_RUNS ?? 2_000);
/**
 * RSS bound across them, both readings taken right after a forced full collection (V8 otherwise defers
 * them and RSS follows the garbage not yet collected: 1.5 and 42.9 MiB apart in two runs without it).
 * What is left is native memory settling; a leak above ~8 KiB per bad request exceeds it.
 */
const fuzzRssBoundMiB = 16;

let server: SpawnedNoaServer;
let serverPid: number;
beforeAll(async () => {
  server = await spawnNoaServer({
    env: {
      NOA_REQUEST_TIMEOUT_MS: String(requestTimeoutMs),
      NOA_MAX_BODY_BYTES: String(maxBodyBytes),
      NOA_RATE_LIMIT_BURST: "1000000",
      NOA_RATE_LIMIT_PER_SECOND: "1000000",
      NODE_OPTIONS: gcOnSignalNodeOptions,
    },
  });
  serverPid = await findListeningPid(server.port);
  // The tiny model is loaded, and its parallel sequences set up, on first use: do that now, as the
  // concurrent tests below will, so that RSS before a test already includes it.
  const warmUp = Array.from({ length: 6 }, () => startNormalTraffic(server));
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const failures = (await Promise.all(warmUp.map((traffic) => traffic.stop()))).flatMap(
    (report) => report.failures,
  );
  if (failures.length > 0) throw new Error(`the server does not serve: ${failures.join("; ")}`);
}, 120_000);
afterAll(async () => {
  await server?.close();
}, 60_000);

const http2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/** An empty SETTINGS frame: what a client sends right after the preface. */
const emptySettingsFrame = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
/** HEADERS (END_STREAM, END_HEADERS) on stream 1, HPACK: GET, http, path "/", authority "x". */
const headersFrame = Buffer.from([0, 0, 6, 1, 0x05, 0, 0, 0, 1, 0x82, 0x86, 0x84, 0x41, 0x01, 0x78]);

function http1Head(path: string, headers: Record<string, string>): string {
  const lines = Object.entries({ host: "127.0.0.1", ...headers }).map(([name, value]) => `${name}: ${value}`);
  return `POST ${path} HTTP/1.1\r\n${lines.join("\r\n")}\r\n\r\n`;
}

/** Waits until every connection has closed or `limitMs` has passed; returns those still open. */
async function openAfter<T>(items: T[], closed: (item: T) => Promise<unknown>, limitMs: number) {
  const open = new Set(items);
  await Promise.race([
    Promise.all(items.map((item) => closed(item).then(() => open.delete(item)))),
    new Promise((resolve) => setTimeout(resolve, limitMs)),
  ]);
  return [...open];
}

/** One slowloris variant over raw TCP: how many connections and how each behaves. */
interface RawVariant {
  name: string;
  /** How many such connections are open at once. */
  connections: number;
  open: (port: number) => SlowConnection;
}

const key = () => server.adminKey;
const rawVariants: RawVariant[] = [
  {
    name: "HTTP/1.1 request headers sent a byte at a time, never finished",
    connections: 100,
    open: (port) =>
      openSlowConnection({
        port,
        trickle: "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ",
        filler: 0x61,
        intervalMs: 200,
      }),
  },
  {
    name: "a connection that never sends a byte",
    connections: 100,
    open: (port) => openSlowConnection({ port, intervalMs: 200 }),
  },
  {
    name: "the HTTP/2 connection preface sent a byte at a time",
    connections: 50,
    open: (port) => openSlowConnection({ port, trickle: http2Preface, intervalMs: 500 }),
  },
  {
    name: "HTTP/2 request headers sent a byte at a time after the preface",
    connections: 50,
    open: (port) =>
      openSlowConnection({
        port,
        prefix: Buffer.concat([Buffer.from(http2Preface), emptySettingsFrame]),
        trickle: headersFrame,
        intervalMs: 700,
      }),
  },
  {
    name: "HTTP/1.1 REST body trickled a byte at a time, never completed",
    connections: 100,
    open: (port) =>
      openSlowConnection({
        port,
        prefix: http1Head("/v1/chat/completions", {
          authorization: `Bearer ${key()}`,
          "content-type": "application/json",
          "content-length": "50000",
        }),
        trickle: '{"model": ',
        filler: 0x20,
        intervalMs: 200,
      }),
  },
  {
    name: "HTTP/1.1 Connect body trickled a byte at a time, never completed",
    connections: 100,
    open: (port) =>
      openSlowConnection({
        port,
        prefix: http1Head("/noa.inference.v1.InferenceService/Complete", {
          authorization: `Bearer ${key()}`,
          "content-type": "application/json",
          "content-length": "50000",
        }),
        trickle: '{"model": ',
        filler: 0x20,
        intervalMs: 200,
      }),
  },
];

/** A request stream on an HTTP/2 session whose body is written a byte at a time and never ended. */
function openSlowHttp2Stream(session: http2.ClientHttp2Session, path: string, contentType: string) {
  const stream = session.request({
    ":method": "POST",
    ":path": path,
    authorization: `Bearer ${key()}`,
    "content-type": contentType,
    ...(contentType === "application/grpc" && { te: "trailers" }),
  });
  // A gRPC message announcing 1,000 bytes, then its bytes one by one; JSON the same way.
  const start =
    contentType === "application/grpc" ? Buffer.from([0, 0, 0, 0x03, 0xe8]) : Buffer.from('{"model": ');
  stream.on("error", () => {});
  stream.resume();
  let next = 0;
  const timer = setInterval(() => {
    if (stream.closed || stream.destroyed) return;
    stream.write(next < start.length ? start.subarray(next, ++next) : Buffer.from(" "));
  }, 200);
  // Ended by the server: a whole response (its readable side ended) or a reset stream.
  const ended = new Promise<void>((resolve) => {
    stream.once("end", () => resolve());
    stream.once("close", () => resolve());
  });
  return {
    ended: ended.then(() => clearInterval(timer)),
    destroy() {
      clearInterval(timer);
      stream.destroy();
    },
  };
}

const http2Variants: Array<{ name: string; path: string; contentType: string }> = [
  {
    name: "HTTP/2 REST body trickled a byte at a time, never completed",
    path: "/v1/chat/completions",
    contentType: "application/json",
  },
  {
    name: "HTTP/2 Connect body trickled a byte at a time, never completed",
    path: "/noa.inference.v1.InferenceService/Complete",
    contentType: "application/json",
  },
  {
    name: "HTTP/2 gRPC message trickled a byte at a time, never completed",
    path: "/noa.inference.v1.InferenceService/Complete",
    contentType: "application/grpc",
  },
];

/**
 * Runs `body` while normal clients call the server and its RSS is sampled; then checks that the normal
 * clients were all served and that RSS stayed within `boundMiB` of where it was before, and returns
 * `body`'s result with those figures.
 */
async function whileServingNormally<T>(
  expect: ExpectStatic,
  boundMiB: number,
  body: () => Promise<T>,
): Promise<{ result: T; normalServed: number; rssMiB: { before: number; peak: number; bound: number } }> {
  await collectGarbage(serverPid);
  const before = await readRssBytes(serverPid);
  const sampler = await startRssSampler(serverPid, 250);
  // Garbage V8 would collect later is not growth: collect it every 2 s.
  const collector = setInterval(() => void collectGarbage(serverPid, 0).catch(() => {}), 2_000);
  const normal = startNormalTraffic(server);
  let result: T;
  try {
    result = await body();
  } finally {
    clearInterval(collector);
    await sampler.stop();
  }
  const report = await normal.stop();
  const peak = Math.max(...sampler.samples.map((sample) => sample.bytes));
  expect.soft(report.failures, "normal clients' failures").toEqual([]);
  expect.soft(report.served, "normal calls served meanwhile").toBeGreaterThan(0);
  expect
    .soft(toMiB(peak - before), `RSS growth while they ran (MiB; bound ${boundMiB})`)
    .toBeLessThanOrEqual(boundMiB);
  return {
    result,
    normalServed: report.served,
    rssMiB: { before: toMiB(before), peak: toMiB(peak), bound: boundMiB },
  };
}

/** One summary line per slow-client variant: how many the server closed, how fast, and what else happened. */
function summarize(
  name: string,
  opened: number,
  closeMs: number[],
  run: { normalServed: number; rssMiB: object },
) {
  const sorted = [...closeMs].sort((a, b) => a - b);
  console.log(
    "reliability-summary",
    JSON.stringify({
      suite: "slow-clients",
      variant: name,
      opened,
      closedByServer: sorted.length,
      heldPastLimit: opened - sorted.length,
      closeMs: { p50: sorted[Math.floor(sorted.length / 2)] ?? null, max: sorted.at(-1) ?? null },
      normalServed: run.normalServed,
      rssMiB: run.rssMiB,
    }),
  );
}

describe.concurrent(`slowloris clients (NOA_REQUEST_TIMEOUT_MS=${requestTimeoutMs})`, () => {
  // Concurrent tests assert through their own context's expect.
  it.for(rawVariants)(
    "$name: closed by the server, while normal clients are served",
    async (variant, { expect }) => {
      const connections = Array.from({ length: variant.connections }, () => variant.open(server.port));
      try {
        const closeMs: number[] = [];
        for (const connection of connections)
          void connection.closed.then(({ afterMs }) => closeMs.push(afterMs));
        const run = await whileServingNormally(expect, slowRssBoundMiB, () =>
          openAfter(connections, (connection) => connection.closed, holdLimitMs),
        );
        const stillOpen = run.result;
        summarize(
          variant.name,
          connections.length,
          closeMs.filter((ms) => ms <= holdLimitMs),
          run,
        );
        expect(
          stillOpen.length,
          `${stillOpen.length} of ${connections.length} connections were still open after ${holdLimitMs} ms ` +
            `(8× NOA_REQUEST_TIMEOUT_MS): the server holds them for as long as the client likes`,
        ).toBe(0);
        // An HTTP/1.1 client that was cut off is told why (408) when it got as far as a request.
        const answers = await Promise.all(connections.map((connection) => connection.closed));
        for (const { received } of answers) {
          if (received.startsWith("HTTP/1.1")) expect(received).toMatch(/^HTTP\/1\.1 408 /);
        }
      } finally {
        for (const connection of connections) connection.destroy();
      }
    },
  );

  it.for(http2Variants)(
    "$name: ended by the server, while normal clients are served",
    async (variant, { expect }) => {
      const sessions = Array.from({ length: 10 }, () => http2.connect(server.baseUrl));
      for (const session of sessions) session.on("error", () => {});
      const streams = sessions.flatMap((session) =>
        Array.from({ length: 5 }, () => openSlowHttp2Stream(session, variant.path, variant.contentType)),
      );
      try {
        const opened = performance.now();
        const closeMs: number[] = [];
        for (const stream of streams) {
          void stream.ended.then(() => closeMs.push(Math.round(performance.now() - opened)));
        }
        const run = await whileServingNormally(expect, slowRssBoundMiB, () =>
          openAfter(streams, (stream) => stream.ended, holdLimitMs),
        );
        const stillOpen = run.result;
        summarize(
          variant.name,
          streams.length,
          closeMs.filter((ms) => ms <= holdLimitMs),
          run,
        );
        expect(
          stillOpen.length,
          `${stillOpen.length} of ${streams.length} HTTP/2 requests were still unanswered after ${holdLimitMs} ms ` +
            `(8× NOA_REQUEST_TIMEOUT_MS): nothing times out receiving an HTTP/2 request on this route`,
        ).toBe(0);
      } finally {
        for (const stream of streams) stream.destroy();
        for (const session of sessions) session.destroy();
      }
    },
  );
});

/** `bytes` of a chunked HTTP/1.1 body in 64 KiB chunks, without the last (empty) chunk: it never ends. */
function unfinishedChunkedBody(bytes: number): Buffer {
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")]);
  return Buffer.concat(Array.from({ length: Math.ceil(bytes / chunk.length) }, () => frame));
}

describe("oversized bodies", () => {
  const mib = 1024 * 1024;
  // Each client sends a few times the limit and then nothing more, its body never finished: an answer
  // can only come from counting bytes, not from the body's end (which never comes), and a 413 is not the
  // 408 a server waiting for the rest would give. (Clients still sending when the server closes are the
  // last test's subject.)

  it("refuses a REST body streamed past the limit with 413, without waiting for its end (HTTP/1.1, chunked)", async () => {
    const connection = openSlowConnection({
      port: server.port,
      prefix: Buffer.concat([
        Buffer.from(
          http1Head("/v1/chat/completions", {
            authorization: `Bearer ${key()}`,
            "content-type": "application/json",
            "transfer-encoding": "chunked",
          }),
        ),
        unfinishedChunkedBody(4 * maxBodyBytes),
      ]),
      intervalMs: 1_000,
    });
    const { received } = (await whileServingNormally(expect, 32, () => connection.closed)).result;
    expect(received).toMatch(/^HTTP\/1\.1 413 /);
    expect(received).toContain(`limit of ${maxBodyBytes} bytes`);
  });

  it("refuses a Connect body streamed past the message limit, without waiting for its end (HTTP/1.1)", async () => {
    const connection = openSlowConnection({
      port: server.port,
      prefix: Buffer.concat([
        Buffer.from(
          http1Head("/noa.inference.v1.InferenceService/Complete", {
            authorization: `Bearer ${key()}`,
            "content-type": "application/json",
            "transfer-encoding": "chunked",
          }),
        ),
        // Connect's own limit is the 4 MiB readMaxBytes; it answers resource_exhausted (HTTP 429).
        unfinishedChunkedBody(4.5 * mib),
      ]),
      intervalMs: 1_000,
    });
    const { received } = (await whileServingNormally(expect, 32, () => connection.closed)).result;
    expect(received).toMatch(/^HTTP\/1\.1 429 /);
    expect(received).toContain("resource_exhausted");
  });

  it("refuses a REST body declared larger than the limit at once, without reading it", async () => {
    const connection = openSlowConnection({
      port: server.port,
      prefix: http1Head("/v1/chat/completions", {
        authorization: `Bearer ${key()}`,
        "content-type": "application/json",
        "content-length": String(1024 * mib),
      }),
      intervalMs: 1_000,
    });
    const { received } = await connection.closed;
    expect(received).toMatch(/^HTTP\/1\.1 413 /);
    expect(received).toContain(`limit of ${maxBodyBytes} bytes`);
  });

  it("refuses a REST body streamed past the limit with 413, without waiting for its end (HTTP/2)", async () => {
    const session = http2.connect(server.baseUrl);
    session.on("error", () => {});
    try {
      const { result: status } = await whileServingNormally(expect, 32, async () => {
        const stream = session.request({
          ":method": "POST",
          ":path": "/v1/chat/completions",
          authorization: `Bearer ${key()}`,
          "content-type": "application/json",
        });
        stream.on("error", () => {});
        stream.resume();
        const answered = new Promise<number>((resolve) => {
          stream.once("response", (headers) => resolve(Number(headers[":status"])));
          stream.once("close", () => resolve(0));
        });
        stream.write(Buffer.alloc(4 * maxBodyBytes, 0x20));
        const answer = await answered;
        stream.destroy();
        return answer;
      });
      expect(status).toBe(413);
    } finally {
      session.destroy();
    }
  });

  it("tells a client streaming an oversized body at full speed 413 (fetch, HTTP/1.1)", async () => {
    // undici sends as fast as the socket takes it; the server answers 413 and closes. Unless it closes in
    // stages (RFC 9112 §9.6: half-close, keep reading a little, then close), its TCP reset can destroy the
    // 413 in the client's receive buffer before the client reads it, and the client sees only EPIPE.
    const outcomes: string[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      let pulled = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (pulled++ < 512) controller.enqueue(new Uint8Array(64 * 1024).fill(0x20));
          else controller.close();
        },
      });
      try {
        const response = await fetch(`${server.baseUrl}/v1/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${key()}`, "content-type": "application/json" },
          body,
          duplex: "half",
        } as RequestInit);
        await response.text();
        outcomes.push(String(response.status));
      } catch (error) {
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        outcomes.push(`${(error as Error).message} (${cause?.code ?? cause?.message})`);
      }
    }
    expect(outcomes, "what three 32 MiB uploads at full speed got").toEqual(["413", "413", "413"]);
  });
});

/** Sends raw bytes as one HTTP/1.1 request (Connection: close) and returns the status line's code. */
function rawRequest(bytes: Buffer) {
  return new Promise<{ status: number; text: string }>((resolve) => {
    const socket = net.connect(server.port, "127.0.0.1");
    let received = "";
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString("latin1");
    });
    socket.once("close", () => resolve({ status: Number(received.slice(9, 12)), text: received }));
    socket.write(bytes);
  });
}

const invalidUtf8 = Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]);

describe("invalid UTF-8", () => {
  const request = (line: string, headers: Buffer[], body = Buffer.alloc(0)) =>
    Buffer.concat([
      // latin1: one byte per character, so the invalid bytes put in `line` stay what they are.
      Buffer.from(`${line}\r\nHost: 127.0.0.1\r\nConnection: close\r\n`, "latin1"),
      ...headers.flatMap((header) => [header, Buffer.from("\r\n")]),
      Buffer.from(body.length > 0 ? `Content-Length: ${body.length}\r\n\r\n` : "\r\n"),
      body,
    ]);
  const header = (name: string, value: Buffer | string) =>
    Buffer.concat([Buffer.from(`${name}: `, "latin1"), Buffer.from(value)]);

  it.each([
    ["REST", "POST /v1/chat/completions HTTP/1.1", 400],
    ["Connect", "POST /noa.inference.v1.InferenceService/Complete HTTP/1.1", 400],
  ])("refuses a %s JSON body holding invalid UTF-8 with a 400", async (_face, line, status) => {
    const body = Buffer.concat([Buffer.from('{"model":"'), invalidUtf8, Buffer.from('","messages":[]}')]);
    const answer = await rawRequest(
      request(
        line,
        [header("Authorization", `Bearer ${key()}`), header("Content-Type", "application/json")],
        body,
      ),
    );
    expect(answer.status).toBe(status);
  });

  it.each<[string, () => Buffer[], string, number[]]>([
    [
      "the correlation id",
      () => [header("Authorization", `Bearer ${key()}`), header("X-Correlation-Id", invalidUtf8)],
      "GET /v1/models HTTP/1.1",
      [200],
    ],
    [
      "the Authorization header",
      () => [header("Authorization", Buffer.concat([Buffer.from("Bearer "), invalidUtf8]))],
      "GET /v1/models HTTP/1.1",
      [401],
    ],
    ["x-api-key", () => [header("x-api-key", invalidUtf8)], "GET /v1/models HTTP/1.1", [401]],
    [
      "traceparent",
      () => [header("Authorization", `Bearer ${key()}`), header("traceparent", invalidUtf8)],
      "GET /v1/models HTTP/1.1",
      [200],
    ],
    [
      "any other header",
      () => [header("Authorization", `Bearer ${key()}`), header("X-Anything", invalidUtf8)],
      "GET /v1/models HTTP/1.1",
      [200],
    ],
    [
      "a header name",
      () => [header("Authorization", `Bearer ${key()}`), header(`X-${invalidUtf8.toString("latin1")}`, "1")],
      "GET /v1/models HTTP/1.1",
      [400],
    ],
    [
      "the path",
      () => [header("Authorization", `Bearer ${key()}`)],
      `GET /v1/models/${invalidUtf8.toString("latin1")} HTTP/1.1`,
      [400, 404],
    ],
    [
      "Connect's content type",
      () => [
        header("Authorization", `Bearer ${key()}`),
        header("Content-Type", Buffer.concat([Buffer.from("application/"), invalidUtf8])),
      ],
      "POST /noa.inference.v1.InferenceService/Complete HTTP/1.1",
      [415],
    ],
  ])("answers invalid UTF-8 in %s cleanly", async (_where, headers, line, statuses) => {
    const body = line.startsWith("POST") ? Buffer.from("{}") : Buffer.alloc(0);
    const answer = await rawRequest(request(line, headers(), body));
    expect(statuses).toContain(answer.status);
    expect(answer.text).not.toContain(key());
    // A correlation id that is not a safe token is replaced, never echoed.
    const echoed = /x-correlation-id: (.*)\r\n/i.exec(answer.text)?.[1];
    if (echoed !== undefined) expect(echoed).toMatch(/^[A-Za-z0-9._:-]+$/);
  });

  it("keeps serving afterwards", async () => {
    expect((await fetch(`${server.baseUrl}/health`)).status).toBe(200);
  });
});

describe("memory under fuzzing", () => {
  /** Bad requests of every face, for a model that does not exist so that none of them generates. */
  const badRequest = fc.oneof(
    fc.record({
      face: fc.constantFrom(
        "/v1/chat/completions",
        "/v1/completions",
        "/noa.inference.v1.InferenceService/Complete",
      ),
      body: fc.oneof(
        fc.jsonValue().map((value) => JSON.stringify(value)),
        fc
          .record(
            {
              model: fc.oneof(fc.constant("llama-cpp/no-such-model"), fc.string(), fc.integer()),
              messages: fc.oneof(
                fc.jsonValue(),
                fc.array(fc.record({ role: fc.string(), content: fc.jsonValue() })),
              ),
              max_tokens: fc.oneof(fc.integer({ min: -5, max: 0 }), fc.string()),
              temperature: fc.double({ min: -10, max: 10 }),
              stream: fc.boolean(),
            },
            { requiredKeys: [] },
          )
          .map((value) => JSON.stringify(value)),
        fc.uint8Array({ minLength: 1, maxLength: 2_048 }).map((bytes) => Buffer.from(bytes)),
        fc
          .string({ maxLength: 200 })
          .map((text) => `{"model": "llama-cpp/no-such-model", "messages": [${text}`),
        fc.constant(Buffer.concat([Buffer.from('{"model":"'), invalidUtf8, Buffer.from('"}')])),
      ),
    }),
  );

  async function send({ face, body }: { face: string; body: string | Buffer }) {
    const response = await fetch(`${server.baseUrl}${face}`, {
      method: "POST",
      headers: { authorization: `Bearer ${key()}`, "content-type": "application/json" },
      body,
    });
    await response.arrayBuffer();
    return response.status;
  }

  it(`keeps RSS within ${fuzzRssBoundMiB} MiB across ${fuzzRuns} fuzzed bad requests`, async () => {
    const statuses = new Map<number, number>();
    const run = async (numRuns: number) =>
      fc.assert(
        fc.asyncProperty(badRequest, async (request) => {
          const status = await send(request);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          expect(status).toBeGreaterThanOrEqual(400);
          expect(status).toBeLessThan(500);
        }),
        { numRuns },
      );
    // The warm-up brings the code paths' JIT code, pools and V8's heap to their working size.
    await run(Math.ceil(fuzzRuns / 5));
    await collectGarbage(serverPid);
    const before = await readRssBytes(serverPid);
    await run(fuzzRuns);
    await collectGarbage(serverPid);
    const after = await readRssBytes(serverPid);
    console.log(
      "reliability-summary",
      JSON.stringify({
        suite: "slow-clients fuzz memory",
        requests: fuzzRuns + Math.ceil(fuzzRuns / 5),
        statuses: Object.fromEntries(statuses),
        rssMiB: {
          pid: serverPid,
          before: toMiB(before),
          after: toMiB(after),
          growth: toMiB(after - before),
          bound: fuzzRssBoundMiB,
        },
      }),
    );
    expect(toMiB(after - before)).toBeLessThanOrEqual(fuzzRssBoundMiB);
    expect((await fetch(`${server.baseUrl}/health`)).status).toBe(200);
    expect(server.logs.filter((line) => Number(line.level) >= 50)).toEqual([]);
  }, 240_000);
});
