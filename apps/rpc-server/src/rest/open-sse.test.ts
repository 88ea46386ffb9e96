import { EventEmitter } from "node:events";
import { createServer, get, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { openSse } from "./open-sse.js";

/** A response whose socket buffer is full until the test says it drained. */
function response() {
  const res = Object.assign(new EventEmitter(), {
    head: undefined as unknown,
    written: "",
    full: false,
    ended: false,
    writeHead(status: number, headers: object) {
      res.head = { status, headers };
    },
    write(text: string) {
      res.written += text;
      return !res.full;
    },
    end() {
      res.ended = true;
    },
  });
  return res;
}

describe("openSse", () => {
  it("writes events in OpenAI's framing, several in one write", () => {
    const res = response();
    const sse = openSse(res as unknown as ServerResponse);
    expect(res.head).toEqual({
      status: 200,
      headers: expect.objectContaining({ "content-type": "text/event-stream; charset=utf-8" }),
    });
    expect(sse.send('{"a":1}', "[DONE]")).toBeUndefined();
    sse.end();
    expect(res.written).toBe('data: {"a":1}\n\ndata: [DONE]\n\n');
    expect(res.ended).toBe(true);
  });

  it("asks the sender to wait while the socket is full, until it drains or closes", async () => {
    const res = response();
    const sse = openSse(res as unknown as ServerResponse);
    res.full = true;
    const wait = sse.send("x");
    expect(wait).toBeInstanceOf(Promise);
    res.emit("drain");
    await wait;
    const second = sse.send("y");
    res.emit("close");
    await second;
    // Once closed, nothing more is written and nothing waits.
    expect(sse.send("z")).toBeUndefined();
    expect(res.written).toBe("data: x\n\ndata: y\n\n");
  });

  it("sends the first event at once, and the ones made in the same turn after it together", async () => {
    const seen: { afterFirst?: number; afterSecond?: number } = {};
    const server = createServer((_req, res) => {
      const sse = openSse(res);
      sse.send("first");
      // Node corks a response's socket at its first write until the next tick; the first event is not held.
      seen.afterFirst = res.socket?.writableCorked;
      sse.send("second");
      seen.afterSecond = res.socket?.writableCorked;
      sse.send("[DONE]");
      sse.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const body = await new Promise<string>((resolve, reject) => {
      get(`http://127.0.0.1:${port}/`, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () => resolve(text));
      }).on("error", reject);
    });
    server.close();
    expect(body).toBe("data: first\n\ndata: second\n\ndata: [DONE]\n\n");
    expect(seen).toEqual({ afterFirst: 0, afterSecond: 1 });
  });
});
