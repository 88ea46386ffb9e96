import type { ServerResponse } from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createOnePortServer, type OnePortServer } from "./one-port-server.js";

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
let open: OnePortServer[] = [];

afterEach(async () => {
  await Promise.all(open.map((server) => server.close({ graceMs: 0 })));
  open = [];
});

type Handler = Parameters<typeof createOnePortServer>[0];

/** Reads each request to its end, then answers 200 "ok". */
const readThenAnswer: Handler = (req, res) => {
  req.resume();
  req.once("end", () => res.end("ok"));
};

async function start({ handler = readThenAnswer, requestTimeoutMs = 300 } = {}) {
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: "info" }, { write: (line: string) => logs.push(JSON.parse(line)) });
  const counted: number[] = [];
  const server = createOnePortServer(handler, {
    requestTimeoutMs,
    logger,
    metrics: { unparsedRequest: (status) => counted.push(status) },
  });
  open.push(server);
  const { port } = await server.listen(0, "127.0.0.1");
  return { port, logs, counted };
}

/** Writes `bytes` over raw TCP and returns what came back before the server closed the connection. */
async function rawExchange(port: number, bytes: string) {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => {});
  socket.write(bytes);
  let text = "";
  for await (const chunk of socket) text += String(chunk);
  const [head = "", body = ""] = text.split("\r\n\r\n", 2) as [string?, string?];
  const [statusLine = "", ...lines] = head.split("\r\n");
  const headers = Object.fromEntries(
    lines.map((line) => {
      const colon = line.indexOf(":");
      return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
    }),
  );
  return { text, status: Number(statusLine.slice(9, 12)), headers, body };
}

describe("HTTP/1.1 requests Node's parser refuses or stops waiting for", () => {
  it("answers a client too slow to send its headers 408 with a new correlation id, says why, logs and counts it", async () => {
    const { port, logs, counted } = await start();
    const answer = await rawExchange(port, "GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    expect(answer.status).toBe(408);
    expect(answer.headers.connection).toBe("close");
    const correlationId = answer.headers["x-correlation-id"];
    expect(correlationId).toMatch(uuid);
    expect(answer.body).toBe(
      `the request was not received within 300 ms (NOA_REQUEST_TIMEOUT_MS); send it faster (correlation id: ${correlationId})\n`,
    );
    expect(Number(answer.headers["content-length"])).toBe(Buffer.byteLength(answer.body));
    expect(answer.headers["x-content-type-options"]).toBe("nosniff");
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 30,
        msg: "http",
        correlationId,
        route: "unparsed",
        status: 408,
        code: "request_timeout",
      }),
    );
    expect(counted).toEqual([408]);
  });

  it("answers a body that did not arrive in time through the handler's response: its correlation id, its log line", async () => {
    let handled: ServerResponse | undefined;
    const { port, logs, counted } = await start({
      handler: (req, res) => {
        handled = res as ServerResponse;
        req.resume();
      },
    });
    const answer = await rawExchange(
      port,
      'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Correlation-Id: slow-1\r\nContent-Length: 100\r\n\r\n{"model":',
    );
    expect(answer.status).toBe(408);
    expect(answer.headers.connection).toBe("close");
    expect(answer.headers["x-correlation-id"]).toBe("slow-1");
    expect(answer.body).toMatch(/send it faster \(correlation id: slow-1\)\n$/);
    // The handler's response carried it, so the handler's own line and metrics report it: none here.
    expect(handled?.statusCode).toBe(408);
    expect(logs).toEqual([]);
    expect(counted).toEqual([]);
  });

  it("only closes the connection when the request was answered before its body arrived: one answer, nothing counted", async () => {
    const { port, logs, counted } = await start({
      // An early answer (as a 401 or a REST 408 comes) on a keep-alive connection whose body is still due.
      handler: (_req, res) => res.end("refused"),
    });
    const answer = await rawExchange(
      port,
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
    );
    expect(answer.status).toBe(200);
    expect(answer.text.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    expect(answer.text).not.toContain("408");
    expect(logs).toEqual([]);
    expect(counted).toEqual([]);
  });

  it("answers nothing to a client that ends its side mid-body: the handler sees it leave", async () => {
    let closed = false;
    const { port, logs, counted } = await start({
      handler: (req, res) => {
        req.resume();
        res.once("close", () => {
          closed = !res.writableEnded;
        });
      },
    });
    const socket = net.connect(port, "127.0.0.1");
    socket.on("error", () => {});
    socket.end("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{");
    let text = "";
    for await (const chunk of socket) text += String(chunk);
    expect(text).toBe("");
    await vi.waitFor(() => expect(closed).toBe(true));
    expect([logs, counted]).toEqual([[], []]);
  });

  it("answers a malformed request line 400 with a correlation id, and no parser internals", async () => {
    const { port, logs, counted } = await start();
    const answer = await rawExchange(port, "HELLO THERE\r\n\r\n");
    expect(answer.status).toBe(400);
    const correlationId = answer.headers["x-correlation-id"];
    expect(correlationId).toMatch(uuid);
    expect(answer.body).toBe(
      `the request is not valid HTTP/1.1; send a well-formed request (correlation id: ${correlationId})\n`,
    );
    expect(answer.text).not.toMatch(/HPE_|Invalid method|parse/i);
    expect(logs).toContainEqual(
      expect.objectContaining({ correlationId, status: 400, code: "malformed_request" }),
    );
    expect(counted).toEqual([400]);
  });

  it("answers headers larger than the limit 431 with a correlation id, naming the limit", async () => {
    const { port, counted } = await start();
    const answer = await rawExchange(
      port,
      `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`,
    );
    expect(answer.status).toBe(431);
    const correlationId = answer.headers["x-correlation-id"];
    expect(correlationId).toMatch(uuid);
    expect(answer.body).toMatch(
      new RegExp(
        `limit of \\d+ bytes; send fewer or smaller headers \\(correlation id: ${correlationId}\\)\\n$`,
      ),
    );
    expect(counted).toEqual([431]);
  });

  it("only closes a connection whose response has begun: a 408 there would corrupt it", async () => {
    const { port, counted } = await start({
      handler: (_req, res) => {
        // An HTTP/1.1 response here: the request goes on arriving (too slowly) while it streams.
        const response = res as ServerResponse;
        response.writeHead(200, { "content-type": "text/plain" });
        response.write("partial");
      },
    });
    const answer = await rawExchange(port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{");
    expect(answer.status).toBe(200);
    expect(answer.text).not.toContain("408");
    expect(counted).toEqual([]);
  });

  it("still serves a whole request", async () => {
    const { port } = await start();
    const answer = await rawExchange(port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(answer.status).toBe(200);
  });
});

describe("HTTP/2 requests whose body does not arrive in time", () => {
  async function slowHttp2Request(port: number, headers: Record<string, string> = {}) {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", () => {});
    try {
      const stream = session.request({ ":method": "POST", ":path": "/v1/chat/completions", ...headers });
      stream.on("error", () => {});
      stream.write('{"model":');
      let body = "";
      stream.on("data", (chunk: Buffer) => {
        body += String(chunk);
      });
      // The server resets the stream (NO_ERROR) after its answer, the client's side still open.
      const [responseHeaders] = await Promise.all([
        new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once("response", resolve)),
        new Promise((resolve) => stream.once("close", resolve)),
      ]);
      return { status: Number(responseHeaders[":status"]), headers: responseHeaders, body };
    } finally {
      session.destroy();
    }
  }

  it("answers 408 naming the caller's correlation id, in the header and the body", async () => {
    const { port } = await start();
    const answer = await slowHttp2Request(port, { "x-correlation-id": "h2-slow" });
    expect(answer.status).toBe(408);
    expect(answer.headers["x-correlation-id"]).toBe("h2-slow");
    expect(answer.body).toBe(
      "the request was not received within 300 ms (NOA_REQUEST_TIMEOUT_MS); send it faster (correlation id: h2-slow)\n",
    );
  });

  it("makes a correlation id for a 408 when the caller's is missing or unsafe", async () => {
    const { port } = await start();
    const answer = await slowHttp2Request(port, { "x-correlation-id": "not safe!" });
    expect(answer.status).toBe(408);
    const correlationId = answer.headers["x-correlation-id"];
    expect(correlationId).toMatch(uuid);
    expect(answer.body).toMatch(new RegExp(`\\(correlation id: ${correlationId}\\)\\n$`));
  });
});
