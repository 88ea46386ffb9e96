import { describe, expect, it } from "vitest";
import { type ResponseHead, ResponseParseError, ResponseParser } from "./response-parser.js";

interface Parsed {
  heads: ResponseHead[];
  body: string;
  completions: boolean[];
}

/** Feeds `wire` to a parser for a request of `method`, in pieces of `step` bytes (all at once by default). */
function parse(
  wire: string | Buffer,
  { method = "POST", step = Number.POSITIVE_INFINITY, end = false } = {},
) {
  const parsed: Parsed = { heads: [], body: "", completions: [] };
  const parser = new ResponseParser({
    onHead: (head) => parsed.heads.push(head),
    onBody: (chunk) => {
      parsed.body += chunk.toString("latin1");
    },
    onComplete: (keepAlive) => parsed.completions.push(keepAlive),
  });
  parser.begin(method);
  const bytes = typeof wire === "string" ? Buffer.from(wire, "latin1") : wire;
  for (let offset = 0; offset < bytes.length; offset += step) {
    parser.execute(bytes.subarray(offset, Math.min(bytes.length, offset + step)));
  }
  const closed = end ? parser.finish() : undefined;
  return { ...parsed, closed, parser };
}

/** The same wire split at every byte gives the same result as in one piece. */
function parseEverySplit(wire: string, method?: string) {
  const whole = parse(wire, { method });
  for (const step of [1, 2, 3, 7]) {
    const { parser: _, ...split } = parse(wire, { method, step });
    const { parser: __, ...reference } = whole;
    expect(split).toEqual(reference);
  }
  return whole;
}

describe("ResponseParser", () => {
  it("reads a content-length body, keeps HTTP/1.1 connections, and gives the head as received", () => {
    const { heads, body, completions } = parseEverySplit(
      'HTTP/1.1 201 Made Here\r\nContent-Type: application/json\r\nX-Id:  a b \t\r\nContent-Length: 11\r\n\r\n{"ok":true}',
    );
    expect(heads).toEqual([
      {
        status: 201,
        statusText: "Made Here",
        rawHeaders: ["Content-Type", "application/json", "X-Id", "a b", "Content-Length", "11"],
        contentEncoding: undefined,
        hasBody: true,
      },
    ]);
    expect(body).toBe('{"ok":true}');
    expect(completions).toEqual([true]);
  });

  it("decodes chunked bodies with extensions and trailers", () => {
    const { body, completions, heads } = parseEverySplit(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: GZIP\r\n\r\n" +
        "5;name=value\r\nhello\r\n1A\r\n, abcdefghijklmnopqrstuvwx\r\n0\r\nX-Trailer: yes\r\n\r\n",
    );
    expect(body).toBe("hello, abcdefghijklmnopqrstuvwx");
    expect(completions).toEqual([true]);
    expect(heads[0]?.contentEncoding).toBe("gzip");
  });

  it("reads a body without framing until the connection closes, and then keeps no connection", () => {
    const { parser, body, completions } = parse("HTTP/1.1 200 OK\r\n\r\nall of it", { step: 4 });
    expect(completions).toEqual([]);
    expect(parser.finish()).toBe(true);
    expect(body).toBe("all of it");
    expect(completions).toEqual([false]);
  });

  it("has no body for HEAD, 204 and 304, whatever the headers say", () => {
    expect(parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", { method: "HEAD" })).toMatchObject({
      body: "",
      completions: [true],
      heads: [{ hasBody: false }],
    });
    expect(parse("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n")).toMatchObject({
      completions: [true],
    });
    expect(parse("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n")).toMatchObject({
      completions: [true],
    });
  });

  it("skips interim 1xx responses", () => {
    const { heads, body } = parseEverySplit(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    );
    expect(heads.map((head) => head.status)).toEqual([200]);
    expect(body).toBe("ok");
  });

  it("reads the server's keep-alive timeout hint, as node:http's agent does", () => {
    const hint = (value: string) =>
      parse(`HTTP/1.1 200 OK\r\nKeep-Alive: ${value}\r\nContent-Length: 0\r\n\r\n`).heads[0]
        ?.keepAliveTimeoutS;
    expect(hint("timeout=5, max=100")).toBe(5);
    expect(hint("max=100, timeout=5")).toBeUndefined();
    expect(parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").heads[0]?.keepAliveTimeoutS).toBeUndefined();
  });

  it("keeps a connection only when the response allows it", () => {
    const keeps = (head: string) => parse(`${head}\r\nContent-Length: 0\r\n\r\n`).completions[0] as boolean;
    expect(keeps("HTTP/1.1 200 OK")).toBe(true);
    expect(keeps("HTTP/1.1 200 OK\r\nConnection: Close")).toBe(false);
    expect(keeps("HTTP/1.1 200 OK\r\nConnection: upgrade, close")).toBe(false);
    expect(keeps("HTTP/1.0 200 OK")).toBe(false);
    expect(keeps("HTTP/1.0 200 OK\r\nConnection: keep-alive")).toBe(true);
    // Both framings at once: the transfer coding wins, and the connection goes.
    expect(
      parse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n"),
    ).toMatchObject({ body: "a", completions: [false] });
  });

  it("throws ResponseParseError for what it cannot trust", () => {
    const refusals = [
      "HTTP/2 200 OK\r\n\r\n",
      "HTTP/1.1 2000 OK\r\n\r\n",
      "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
      "HTTP/1.1 200 OK\r\n folded: x\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc",
      "HTTP/1.1 101 Switching Protocols\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab",
      `HTTP/1.1 200 OK\r\nX: ${"a".repeat(17 * 1024)}`,
    ];
    for (const wire of refusals) expect(() => parse(wire), wire.slice(0, 60)).toThrow(ResponseParseError);
  });

  it("tells a cut body from a connection closed before any answer", () => {
    expect(parse("", { end: true }).closed).toBe(false);
    expect(() => parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", { end: true })).toThrow(
      expect.objectContaining({ code: "ECONNRESET" }),
    );
    expect(() => parse("HTTP/1.1 200 O", { end: true })).toThrow(ResponseParseError);
  });

  it("reports nothing more once stopped by a handler", () => {
    const seen: string[] = [];
    const parser: ResponseParser = new ResponseParser({
      onHead: () => seen.push("head"),
      onBody: (chunk) => {
        seen.push(chunk.toString());
        parser.stop();
      },
      onComplete: () => seen.push("complete"),
    });
    parser.begin("GET");
    parser.execute(
      Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n1\r\nb\r\n0\r\n\r\n"),
    );
    expect(seen).toEqual(["head", "a"]);
    expect(parser.active).toBe(false);
  });
});
