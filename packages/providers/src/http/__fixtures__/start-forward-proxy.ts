import http from "node:http";
import https from "node:https";
import net from "node:net";

/** What the proxy was asked: each CONNECT tunnel and each forwarded (absolute-form) request. */
export interface ForwardProxy {
  url: string;
  port: number;
  tunnels: Array<{ authority: string; authorization: string | undefined }>;
  forwarded: Array<{ url: string; host: string | undefined; authorization: string | undefined }>;
  close(): Promise<void>;
}

/**
 * A loopback HTTP forward proxy as corporate egress proxies behave: CONNECT opens a TCP tunnel to the
 * named host and port, an absolute-form request is forwarded to its origin. With `requireAuthorization`,
 * anything without that exact `proxy-authorization` is answered 407. With `tls` (a key and certificate
 * for `localhost`), clients speak TLS to the proxy itself (`https://localhost:<port>`).
 */
export async function startForwardProxy(
  options: { requireAuthorization?: string; tls?: { key: string; cert: string } } = {},
): Promise<ForwardProxy> {
  const refused = (authorization: string | undefined) =>
    options.requireAuthorization !== undefined && authorization !== options.requireAuthorization;
  const sockets = new Set<net.Socket>();
  const handler: http.RequestListener = (req, res) => {
    const authorization = req.headers["proxy-authorization"];
    proxy.forwarded.push({ url: req.url ?? "", host: req.headers.host, authorization });
    if (refused(authorization)) {
      res.writeHead(407, { "proxy-authenticate": 'Basic realm="test"' }).end();
      return;
    }
    const target = new URL(req.url ?? "");
    const { "proxy-authorization": _, ...headers } = req.headers;
    const upstream = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname + target.search,
        method: req.method,
        headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.writeHead(502).end());
    req.pipe(upstream);
  };
  const server = options.tls ? https.createServer(options.tls, handler) : http.createServer(handler);
  server.on("connect", (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    const authorization = req.headers["proxy-authorization"];
    proxy.tunnels.push({ authority: req.url ?? "", authorization });
    if (refused(authorization)) {
      client.end(
        'HTTP/1.1 407 Proxy Authentication Required\r\nproxy-authenticate: Basic realm="test"\r\n\r\n',
      );
      return;
    }
    const [host = "", port = ""] = (req.url ?? "").split(/:(?=\d+$)/);
    const target = net.connect({ host: host.replace(/^\[|\]$/g, ""), port: Number(port) }, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) target.write(head);
      target.pipe(client);
      client.pipe(target);
    });
    sockets.add(target);
    target.on("close", () => sockets.delete(target));
    target.on("error", () => client.destroy());
    client.on("error", () => target.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  const proxy: ForwardProxy = {
    url: options.tls ? `https://localhost:${port}` : `http://127.0.0.1:${port}`,
    port,
    tunnels: [],
    forwarded: [],
    async close() {
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
