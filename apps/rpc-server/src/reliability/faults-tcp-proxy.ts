import { once } from "node:events";
import { connect, createServer, type Socket } from "node:net";

/** A loopback TCP proxy in front of one server, which a test can cut off and restore. */
export interface TcpProxy {
  port: number;
  /** Connections accepted so far (refused ones included). */
  accepted(): number;
  /** Destroys every open connection and resets every new one until `restore()`: the server is gone. */
  refuse(): void;
  /** Passes connections through again. */
  restore(): void;
  close(): Promise<void>;
}

/**
 * Forwards 127.0.0.1:<port> to `target`, byte for byte. While refusing, open connections are destroyed
 * (their clients see a reset mid-query) and new ones are reset as soon as they are accepted, as a
 * database whose host went away does; the shared server behind it is never touched.
 */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let refusing = false;
  let accepted = 0;
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
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
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
    restore() {
      refusing = false;
    },
    async close() {
      for (const socket of open) socket.destroy();
      open.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
