import { ServerResponse } from "node:http";
import type { Http2ServerResponse } from "node:http2";

/** An open Server-Sent Events response. */
export interface SseWriter {
  /**
   * Writes one `data:` event per argument, in one write. Returns a promise only when the socket's buffer
   * is full: await it before sending more, so a slow reader slows the generation instead of filling memory.
   */
  send(...data: string[]): Promise<void> | undefined;
  /** Ends the response. */
  end(): void;
}

/**
 * Starts a `text/event-stream` response (https://html.spec.whatwg.org/multipage/server-sent-events.html)
 * as OpenAI streams do: every event is `data: <one line>` and a blank line; `[DONE]` or an error event is
 * sent by the caller. Buffering proxies are asked not to hold events back.
 */
export function openSse(res: ServerResponse | Http2ServerResponse): SseWriter {
  let closed = false;
  let first = true;
  res.once("close", () => {
    closed = true;
  });
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
  });
  return {
    send(...data) {
      let text = "";
      for (const event of data) text += `data: ${event}\n\n`;
      if (closed) return undefined;
      const flowing = (res as ServerResponse).write(text);
      if (first) {
        first = false;
        // Node corks an HTTP/1.1 response's socket at its first write until the next tick, and every
        // event already at hand (a burst from upstream) is made before that: send the first one now.
        // (An HTTP/2 response's socket is the whole session's, which Node does not cork per stream.)
        if (res instanceof ServerResponse) res.socket?.uncork();
      }
      return flowing ? undefined : drained(res);
    },
    end() {
      if (!closed) res.end();
    },
  };
}

function drained(res: ServerResponse | Http2ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}
