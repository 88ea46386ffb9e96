import net from "node:net";

/** A raw TCP connection that sends its bytes slowly, and what the server did with it. */
export interface SlowConnection {
  /** Resolves when the connection closes: how long after opening it, and the bytes the server sent. */
  closed: Promise<{ afterMs: number; received: string }>;
  /** True until the connection has closed. */
  isOpen(): boolean;
  /** Bytes written so far. */
  sent(): number;
  /** Closes it from our side (cleanup). */
  destroy(): void;
}

/**
 * Opens a TCP connection to `port` on 127.0.0.1, writes `prefix` at once, then `trickle` one byte every
 * `intervalMs`, then `filler` one byte at a time forever (a header or body that never ends), never
 * closing its side: only the server can end it. Without `trickle` and `filler` it says nothing at all.
 */
export function openSlowConnection(options: {
  port: number;
  prefix?: Buffer | string;
  trickle?: Buffer | string;
  filler?: number;
  intervalMs: number;
}): SlowConnection {
  const { port, intervalMs, filler } = options;
  const trickle = Buffer.from(options.trickle ?? "");
  const socket = net.connect(port, "127.0.0.1");
  const opened = performance.now();
  const received: Buffer[] = [];
  let written = 0;
  let open = true;
  let timer: NodeJS.Timeout | undefined;
  socket.on("data", (chunk: Buffer) => received.push(chunk));
  // A reset by the server is a close too; what matters is that it happened.
  socket.on("error", () => {});
  const write = (bytes: Buffer) => {
    if (socket.destroyed || !socket.writable) return;
    written += bytes.length;
    socket.write(bytes);
  };
  const closed = new Promise<{ afterMs: number; received: string }>((resolve) => {
    socket.once("close", () => {
      open = false;
      clearInterval(timer);
      resolve({
        afterMs: Math.round(performance.now() - opened),
        received: Buffer.concat(received).toString("latin1"),
      });
    });
  });
  socket.once("connect", () => {
    if (options.prefix !== undefined) write(Buffer.from(options.prefix));
    let next = 0;
    if (trickle.length === 0 && filler === undefined) return;
    timer = setInterval(() => {
      if (next < trickle.length) write(trickle.subarray(next, ++next));
      else if (filler !== undefined) write(Buffer.from([filler]));
      else clearInterval(timer);
    }, intervalMs);
  });
  return {
    closed,
    isOpen: () => open,
    sent: () => written,
    destroy() {
      clearInterval(timer);
      socket.destroy();
    },
  };
}
