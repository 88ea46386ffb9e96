import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createHttpFetch, type HttpFetch } from "./create-http-fetch.js";

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  remotePort: number | undefined;
  /** True once the client closed the connection before the response finished. */
  closedByClient: boolean;
}

interface Loopback {
  url: string;
  seen: Seen[];
  close(): Promise<void>;
}

type Handler = (request: http.IncomingMessage, response: http.ServerResponse, seen: Seen) => void;

async function startServer(handler: Handler): Promise<Loopback> {
  const seen: Seen[] = [];
  const server = http.createServer((request, response) => {
    const entry: Seen = {
      method: request.method ?? "",
      url: request.url ?? "",
      headers: request.headers,
      body: "",
      remotePort: request.socket.remotePort,
      closedByClient: false,
    };
    seen.push(entry);
    response.on("close", () => {
      if (!response.writableFinished) entry.closedByClient = true;
    });
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      entry.body = Buffer.concat(chunks).toString("utf8");
      handler(request, response, entry);
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe("createHttpFetch", () => {
  let server: Loopback | undefined;
  let httpFetch: HttpFetch | undefined;
  afterEach(async () => {
    httpFetch?.close();
    await server?.close();
    server = undefined;
    httpFetch = undefined;
  });

  it("sends method, headers and a string body, and answers status, headers and a JSON body", async () => {
    server = await startServer((_, response) => {
      response.writeHead(201, "Made", { "content-type": "application/json", "x-request-id": "req_1" });
      response.end(JSON.stringify({ hello: "world" }));
    });
    httpFetch = createHttpFetch();
    const response = await httpFetch(`${server.url}/v1/things?x=1`, {
      method: "post",
      headers: new Headers({ "content-type": "application/json", authorization: "Bearer k" }),
      body: '{"a":"é"}',
    });
    expect(response.status).toBe(201);
    expect(response.statusText).toBe("Made");
    expect(response.ok).toBe(true);
    expect(response.headers).toBeInstanceOf(Headers);
    expect(response.headers.get("x-request-id")).toBe("req_1");
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(await response.json()).toEqual({ hello: "world" });
    expect(server.seen[0]).toMatchObject({ method: "POST", url: "/v1/things?x=1", body: '{"a":"é"}' });
    expect(server.seen[0]?.headers).toMatchObject({
      "content-type": "application/json",
      authorization: "Bearer k",
      "content-length": String(Buffer.byteLength('{"a":"é"}')),
    });
  });

  it("sends bytes and ReadableStream bodies, and reads an error body as text", async () => {
    server = await startServer((_, response) => {
      response.writeHead(503, { "content-type": "text/plain", "retry-after": "2" });
      response.end("busy");
    });
    httpFetch = createHttpFetch();
    const bytes = await httpFetch(server.url, { method: "PUT", body: new TextEncoder().encode("bytes!") });
    expect(bytes.ok).toBe(false);
    expect(bytes.headers.get("retry-after")).toBe("2");
    expect(await bytes.text()).toBe("busy");
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("one,"));
        controller.enqueue(new TextEncoder().encode("two"));
        controller.close();
      },
    });
    const streamed = await httpFetch(server.url, {
      method: "POST",
      body: stream,
      duplex: "half",
    } as RequestInit);
    await streamed.text();
    expect(server.seen.map((seen) => [seen.method, seen.body])).toEqual([
      ["PUT", "bytes!"],
      ["POST", "one,two"],
    ]);
  });

  it("gives a null body for 204 and refuses to read a body twice", async () => {
    server = await startServer((request, response) => {
      response.writeHead(request.url === "/empty" ? 204 : 200);
      response.end(request.url === "/empty" ? undefined : "once");
    });
    httpFetch = createHttpFetch();
    const empty = await httpFetch(`${server.url}/empty`);
    expect(empty.status).toBe(204);
    expect(empty.body).toBeNull();
    expect(await empty.text()).toBe("");
    const once = await httpFetch(server.url);
    expect(await once.text()).toBe("once");
    expect(once.bodyUsed).toBe(true);
    await expect(once.text()).rejects.toThrow(TypeError);
  });

  it("decodes a gzip body, as fetch does, and asks for no encoding", async () => {
    server = await startServer((_, response) => {
      response.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" });
      response.end(gzipSync(JSON.stringify({ packed: true })));
    });
    httpFetch = createHttpFetch();
    expect(await (await httpFetch(server.url)).json()).toEqual({ packed: true });
    const streamed = await httpFetch(server.url);
    let text = "";
    for await (const chunk of streamed.body as unknown as AsyncIterable<Uint8Array>) {
      text += new TextDecoder().decode(chunk);
    }
    expect(JSON.parse(text)).toEqual({ packed: true });
    expect(server.seen[0]?.headers["accept-encoding"]).toBeUndefined();
  });

  it("streams body chunks as they arrive, before the response ends", async () => {
    let sendRest: (() => void) | undefined;
    server = await startServer((_, response) => {
      response.writeHead(200, { "content-type": "text/event-stream" });
      response.write("data: first\n\n");
      sendRest = () => response.end("data: last\n\n");
    });
    httpFetch = createHttpFetch();
    const response = await httpFetch(server.url, { method: "POST", body: "{}" });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    const first = await reader.read();
    expect(decoder.decode(first.value)).toBe("data: first\n\n");
    expect(server.seen[0]?.closedByClient).toBe(false);
    sendRest?.();
    let rest = "";
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      rest += decoder.decode(chunk.value);
    }
    expect(rest).toBe("data: last\n\n");
  });

  it("rejects at once for a signal aborted before the call, sending nothing", async () => {
    server = await startServer((_, response) => response.end("never"));
    httpFetch = createHttpFetch();
    const reason = new DOMException("stop", "AbortError");
    await expect(httpFetch(server.url, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(server.seen).toHaveLength(0);
  });

  it("aborting before the headers rejects with the abort reason and destroys the socket", async () => {
    server = await startServer(() => {
      // Never answers.
    });
    httpFetch = createHttpFetch();
    const abort = new AbortController();
    const pending = httpFetch(server.url, { method: "POST", body: "{}", signal: abort.signal });
    await vi.waitFor(() => expect(server?.seen).toHaveLength(1));
    abort.abort();
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
    await vi.waitFor(() => expect(server?.seen[0]?.closedByClient).toBe(true));
  });

  it("aborting during the body errors the stream and destroys the socket", async () => {
    server = await startServer((_, response) => {
      response.writeHead(200, { "content-type": "text/event-stream" });
      response.write("data: first\n\n");
    });
    httpFetch = createHttpFetch();
    const abort = new AbortController();
    const response = await httpFetch(server.url, { signal: abort.signal });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    abort.abort();
    await expect(reader.read()).rejects.toMatchObject({ name: "AbortError" });
    await vi.waitFor(() => expect(server?.seen[0]?.closedByClient).toBe(true));
  });

  it("cancelling the body stream destroys the socket", async () => {
    server = await startServer((_, response) => {
      response.writeHead(200);
      response.write("partial");
    });
    httpFetch = createHttpFetch();
    const response = await httpFetch(server.url);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    await reader.cancel();
    await vi.waitFor(() => expect(server?.seen[0]?.closedByClient).toBe(true));
  });

  it("errors the body with an ECONNRESET-coded error when the server cuts it short", async () => {
    server = await startServer((request, response) => {
      response.writeHead(200, { "content-length": "100" });
      response.write("partial", () => request.socket.destroy());
    });
    httpFetch = createHttpFetch();
    const response = await httpFetch(server.url);
    await expect(response.text()).rejects.toMatchObject({ code: "ECONNRESET" });
  });

  it("rejects like fetch (a TypeError with the socket error as cause) when the connection is refused", async () => {
    const closed = await startServer(() => {});
    await closed.close();
    httpFetch = createHttpFetch();
    const error = await httpFetch(closed.url).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TypeError);
    expect(error).toMatchObject({ cause: { code: "ECONNREFUSED" } });
  });

  it("rejects a reset before the headers as a connection failure", async () => {
    server = await startServer((request) => request.socket.destroy());
    httpFetch = createHttpFetch();
    const error = await httpFetch(server.url, { method: "POST", body: "{}" }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(TypeError);
    expect(error).toMatchObject({ cause: { code: "ECONNRESET" } });
  });

  it("reuses one keep-alive socket for sequential requests, and close() destroys it", async () => {
    server = await startServer((_, response) => response.end("ok"));
    httpFetch = createHttpFetch();
    for (let index = 0; index < 3; index++) expect(await (await httpFetch(server.url)).text()).toBe("ok");
    const ports = new Set(server.seen.map((seen) => seen.remotePort));
    expect(ports.size).toBe(1);
    httpFetch.close();
    // A fresh fetch after close() still works (new agent), on another socket.
    httpFetch = createHttpFetch();
    await (await httpFetch(server.url)).text();
    expect(server.seen.at(-1)?.remotePort).not.toBe([...ports][0]);
  });

  it("lets an answer stay silent longer than keepAliveMs, which only bounds idle pooled sockets", async () => {
    server = await startServer((_, response) => {
      response.writeHead(200);
      response.write("a");
      setTimeout(() => response.end("b"), 250);
    });
    httpFetch = createHttpFetch({ keepAliveMs: 50 });
    expect(await (await httpFetch(server.url)).text()).toBe("ab");
    await new Promise((resolve) => setTimeout(resolve, 150));
    await (await httpFetch(server.url)).text();
    // The pooled socket idled past keepAliveMs and was closed: the second request needed a new one.
    expect(server.seen[1]?.remotePort).not.toBe(server.seen[0]?.remotePort);
  });

  it("reuses no connection the server will close within a second (keep-alive: timeout=1)", async () => {
    server = await startServer((_, response) => response.end("ok"));
    const node = server;
    httpFetch = createHttpFetch();
    await (await httpFetch(node.url)).text();
    await (await httpFetch(node.url, { headers: { "x-short": "1" } })).text();
    expect(node.seen[1]?.remotePort).toBe(node.seen[0]?.remotePort);
    // The test server's own hint is 30 s; a server announcing 1 s leaves no safe idle time.
    server = await startServer((_, response) => {
      response.setHeader("keep-alive", "timeout=1");
      response.end("ok");
    });
    const short = server;
    await (await httpFetch(short.url)).text();
    await (await httpFetch(short.url)).text();
    expect(short.seen[1]?.remotePort).not.toBe(short.seen[0]?.remotePort);
    await node.close();
  });

  it("keeps at most maxSockets connections open, queueing the rest", async () => {
    server = await startServer((_, response) => setTimeout(() => response.end("ok"), 20));
    httpFetch = createHttpFetch({ maxSockets: 2 });
    const fetchOnce = (target: string, fetcher: HttpFetch) =>
      fetcher(target).then((response) => response.text());
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => fetchOnce(server?.url ?? "", httpFetch as HttpFetch)),
    );
    expect(answers).toEqual(Array(6).fill("ok"));
    expect(new Set(server.seen.map((seen) => seen.remotePort)).size).toBe(2);
  });

  it("reads chunked answers and keeps the connection; HEAD answers have no body", async () => {
    server = await startServer((request, response) => {
      response.writeHead(200, { "content-type": "text/plain" });
      if (request.method === "HEAD") return response.end();
      response.write("one,");
      setTimeout(() => response.end("two"), 5);
    });
    httpFetch = createHttpFetch();
    expect(await (await httpFetch(server.url)).text()).toBe("one,two");
    const head = await httpFetch(server.url, { method: "HEAD" });
    expect(head.body).toBeNull();
    expect(await (await httpFetch(server.url)).text()).toBe("one,two");
    expect(new Set(server.seen.map((seen) => seen.remotePort)).size).toBe(1);
  });

  it("refuses header values that would split the request, sending nothing", async () => {
    server = await startServer((_, response) => response.end("never"));
    httpFetch = createHttpFetch();
    await expect(
      httpFetch(server.url, { headers: { "x-evil": "a\r\nx-injected: 1" } }),
    ).rejects.toBeInstanceOf(TypeError);
    await expect(httpFetch(server.url, { headers: { "bad name": "x" } })).rejects.toBeInstanceOf(TypeError);
    expect(server.seen).toHaveLength(0);
  });

  it("follows the server's framing on a raw socket: connection close, a body until close, a broken answer", async () => {
    const answers = [
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nfirst",
      "HTTP/1.1 200 OK\r\n\r\nuntil the end",
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
    ];
    const ports: number[] = [];
    const raw = net.createServer((socket) => {
      socket.on("data", () => {
        ports.push(socket.remotePort ?? 0);
        const answer = answers.shift() ?? "";
        // A close-delimited body ends when the server ends the connection.
        if (answer.includes("until the end")) socket.end(answer);
        else socket.write(answer);
      });
    });
    await new Promise<void>((resolve) => raw.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(raw.address() as AddressInfo).port}`;
    httpFetch = createHttpFetch();
    try {
      expect(await (await httpFetch(url)).text()).toBe("first");
      expect(await (await httpFetch(url)).text()).toBe("until the end");
      expect(await (await httpFetch(url)).text()).toBe("ok");
      const broken = await httpFetch(url).catch((error: unknown) => error);
      expect(broken).toBeInstanceOf(TypeError);
      expect(broken).toMatchObject({ cause: { code: "HPE_UNEXPECTED_CONTENT_LENGTH" } });
      // Neither a closed nor a close-delimited connection was reused; a kept one was.
      expect(new Set(ports).size).toBe(3);
      expect(ports[3]).toBe(ports[2]);
    } finally {
      raw.close();
    }
  });

  it("delivers large bodies whole, read at once or through a slow stream reader (backpressure)", async () => {
    const big = "0123456789abcdef".repeat(200_000);
    server = await startServer((request, response) => {
      if (request.url === "/chunked") {
        response.writeHead(200);
        for (let at = 0; at < big.length; at += 100_000) response.write(big.slice(at, at + 100_000));
        response.end();
      } else response.end(big);
    });
    httpFetch = createHttpFetch();
    expect(await (await httpFetch(server.url)).text()).toBe(big);
    const reader = (
      (await httpFetch(`${server.url}/chunked`)).body as ReadableStream<Uint8Array>
    ).getReader();
    const parts: Buffer[] = [];
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      parts.push(Buffer.from(chunk.value));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(Buffer.concat(parts).toString()).toBe(big);
    // The same socket served both: each body ended cleanly.
    expect(new Set(server.seen.map((seen) => seen.remotePort)).size).toBe(1);
  });
});
