import { once } from "node:events";
import { connect, createServer, type Socket } from "node:net";

/** A loopback TCP proxy in front of one server, which a test can cut off and restore. */
export interface TcpProxy {
  port: number;
  /** Connections accepted so far (refused ones included). */
  accepted(): number;
  /** Destroys every open connection and resets every new one until `restore()`: the server is gone. */
  refuse(): void;
  /**
   * Keeps every connection open but passes no byte either way, and accepts new connections without
   * forwarding anything, until `restore()`: a server that hangs (a stopped process, a full disk, a lock).
   * What was held back is delivered, in order, on restore.
   */
  silence(): void;
  /** Passes connections through again (delivering what a silence held back). */
  restore(): void;
  close(): Promise<void>;
}

/**
 * Forwards 127.0.0.1:<port> to `target`, byte for byte (without backpressure: test traffic is small).
 * While refusing, open connections are destroyed (their clients see a reset mid-query) and new ones are
 * reset as soon as they are accepted, as a database whose host went away does; the shared server behind
 * it is never touched.
 */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let refusing = false;
  let silent = false;
  let accepted = 0;
  /** What each silenced direction holds back, flushed on restore. */
  const held = new Map<Socket, Buffer[]>();
  const forward = (from: Socket, to: Socket) =>
    from.on("data", (data: Buffer) => {
      const waiting = held.get(to);
      if (silent || waiting) {
        if (waiting) waiting.push(data);
        else held.set(to, [data]);
      } else to.write(data);
    });
  const server = createServer((client) => {
    accepted++;
    if (refusing) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    open.add(client);
    open.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
      held.delete(client);
      held.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    forward(client, upstream);
    forward(upstream, client);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };

  return {
    port,
    accepted: () => accepted,
    refuse() {
      refusing = true;
      for (const socket of open) socket.resetAndDestroy();
      open.clear();
    },
    silence() {
      silent = true;
    },
    restore() {
      refusing = false;
      silent = false;
      for (const [to, chunks] of held) for (const chunk of chunks) to.write(chunk);
      held.clear();
    },
    async close() {
      for (const socket of open) socket.destroy();
      open.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
