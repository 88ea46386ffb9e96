import { once } from "node:events";
import { type AddressInfo, connect, createServer, type Socket } from "node:net";

/** A TCP load balancer in front of several replicas, as a Kubernetes Service without session affinity. */
export interface RoundRobinProxy {
  baseUrl: string;
  port: number;
  /** Connections handed to each backend so far, in the order of the ports given. */
  connections: number[];
  close(): Promise<void>;
}

/**
 * Listens on a free loopback port and hands each new TCP connection to the next backend port in turn
 * (round robin), piping bytes both ways untouched: HTTP/1.1 and HTTP/2 alike, one backend per connection.
 */
export async function startRoundRobinProxy(backendPorts: number[]): Promise<RoundRobinProxy> {
  const connections = backendPorts.map(() => 0);
  const sockets = new Set<Socket>();
  let next = 0;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  };
  const server = createServer((client) => {
    const index = next++ % backendPorts.length;
    connections[index] = (connections[index] ?? 0) + 1;
    const backend = connect({ host: "127.0.0.1", port: backendPorts[index] ?? 0 });
    track(client);
    track(backend);
    // Either side failing or closing ends the pair, as a real load balancer would.
    client.on("error", () => backend.destroy());
    backend.on("error", () => client.destroy());
    client.pipe(backend);
    backend.pipe(client);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    port,
    connections,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
