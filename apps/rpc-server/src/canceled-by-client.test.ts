import { once } from "node:events";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { canceledByClient } from "./canceled-by-client.js";

/** One stream between a plain HTTP/2 client and server on a free port: what `serve` says of it. */
async function exchange(
  send: (stream: http2.ClientHttp2Stream) => void,
  serve: (stream: http2.ServerHttp2Stream) => Promise<boolean>,
): Promise<boolean> {
  const server = http2.createServer();
  const served = new Promise<boolean>((resolve, reject) =>
    server.once("stream", (stream) => {
      stream.on("error", () => {});
      serve(stream).then(resolve, reject);
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  session.on("error", () => {});
  const stream = session.request({ ":method": "POST" });
  stream.on("error", () => {});
  stream.resume();
  try {
    await new Promise((resolve) => stream.write("part of a message", resolve));
    send(stream);
    return await served;
  } finally {
    session.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
}

/** Answers once the request has ended, as Connect refuses a message cut short. */
async function answerAtEnd(stream: http2.ServerHttp2Stream): Promise<boolean> {
  stream.resume();
  await once(stream, "end");
  stream.respond({ ":status": 200 }, { endStream: true });
  return canceledByClient(stream);
}

describe("canceledByClient", () => {
  it("says a client that cancels a stream it is still writing cancelled, though its request ended first", async () => {
    for (let round = 0; round < 5; round++) {
      expect(await exchange((stream) => stream.close(http2.constants.NGHTTP2_CANCEL), answerAtEnd)).toBe(
        true,
      );
    }
  });

  it("says a client that ended its request and took the answer did not", async () => {
    expect(await exchange((stream) => stream.end(), answerAtEnd)).toBe(false);
  });

  it("judges a stream the client still writes on at once, without waiting for it to close", async () => {
    const atOnce = async (stream: http2.ServerHttp2Stream) => {
      const verdict = await canceledByClient(stream);
      expect(stream.closed).toBe(false);
      return verdict;
    };
    expect(await exchange(() => {}, atOnce)).toBe(false);
  });
});
