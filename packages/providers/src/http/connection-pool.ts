import net from "node:net";
import tls from "node:tls";
import { type ConnectionOwner, HttpConnection } from "./http-connection.js";
import { openProxyTunnel } from "./open-proxy-tunnel.js";
import type { ProxyEndpoint } from "./proxy-settings.js";

/** How long a proxy has to answer a CONNECT before the tunnel is given up. */
const TUNNEL_TIMEOUT_MS = 30_000;

/** Where a pool connects: `http:` over TCP, `https:` over TLS (verified, with SNI, ALPN `http/1.1`). */
export interface PoolOrigin {
  protocol: "http:" | "https:";
  /** A host name or IP address, without IPv6 brackets. */
  host: string;
  port: number;
  /** Certificate authorities (PEM) to trust instead of Node's default set (for an https origin or proxy). */
  ca?: string | undefined;
  /**
   * The proxy the connections go through: for an `http:` origin, requests go to it in absolute form
   * (createHttpFetch writes them so); for `https:`, each connection is a CONNECT tunnel with TLS inside.
   */
  proxy?: ProxyEndpoint | undefined;
}

/** How many connections a pool opens and how long an idle one may be reused. */
export interface PoolLimits {
  maxSockets: number;
  keepAliveMs: number;
}

/** A request waiting for a connection: `assign` hands it one, `fail` tells it the pool was destroyed. */
export interface PoolWaiter {
  assign(connection: HttpConnection): void;
  fail(error: Error): void;
}

/**
 * The keep-alive connections to one origin: at most `maxSockets` open, idle ones reused last-in first-out
 * (the warmest), requests beyond the limit queued in order. An idle connection is never reused after
 * `keepAliveMs`, nor after the server's `keep-alive: timeout` hint less a second (checked when taken, so
 * it stays under servers' own keep-alive timeouts), is closed by a sweep within another `keepAliveMs`,
 * and does not keep the process alive (unref'd), as with node:http's agent. Through a proxy, an https
 * connection is opened asynchronously (the tunnel first): `take` returns none and the connection goes to
 * the first request waiting once it is up, or that request fails with the tunnel's error.
 */
export class ConnectionPool implements ConnectionOwner {
  readonly #origin: PoolOrigin;
  readonly #limits: PoolLimits;
  readonly #all = new Set<HttpConnection>();
  #idle: HttpConnection[] = [];
  #waiting: PoolWaiter[] = [];
  #sweep: NodeJS.Timeout | undefined;
  #tlsSession: Buffer | undefined;
  /** Proxy sockets whose CONNECT is not answered yet (counted against `maxSockets`). */
  readonly #tunnels = new Set<net.Socket>();
  #destroyed = false;

  /** Where this pool connects (and through which proxy). */
  get origin(): PoolOrigin {
    return this.#origin;
  }

  constructor(origin: PoolOrigin, limits: PoolLimits) {
    this.#origin = origin;
    this.#limits = limits;
  }

  /** A connection for one request now, or undefined when all `maxSockets` are busy (then `wait`). */
  take(): HttpConnection | undefined {
    const now = Date.now();
    for (let connection = this.#idle.pop(); connection; connection = this.#idle.pop()) {
      if (this.#fresh(connection, now) && !connection.closed) {
        connection.setRef(true);
        return connection;
      }
      connection.destroy();
    }
    if (this.#all.size + this.#tunnels.size >= this.#limits.maxSockets) return undefined;
    if (this.#tunnelled()) {
      this.#openTunnel();
      return undefined;
    }
    return this.#open();
  }

  /** Queues `waiter` for the next connection free. */
  wait(waiter: PoolWaiter): void {
    this.#waiting.push(waiter);
  }

  /** Takes `waiter` out of the queue (its request was aborted). */
  cancel(waiter: PoolWaiter): void {
    const index = this.#waiting.indexOf(waiter);
    if (index !== -1) this.#waiting.splice(index, 1);
  }

  idle(connection: HttpConnection): void {
    if (this.#destroyed) {
      connection.destroy();
      return;
    }
    const waiter = this.#waiting.shift();
    if (waiter) {
      waiter.assign(connection);
      return;
    }
    connection.setRef(false);
    this.#idle.push(connection);
    if (!this.#sweep) {
      this.#sweep = setInterval(() => this.#closeExpired(), this.#limits.keepAliveMs);
      this.#sweep.unref();
    }
  }

  closed(connection: HttpConnection): void {
    this.#all.delete(connection);
    const index = this.#idle.indexOf(connection);
    if (index !== -1) this.#idle.splice(index, 1);
    if (this.#destroyed || this.#waiting.length === 0) return;
    if (this.#tunnelled()) this.#openTunnel();
    else this.#waiting.shift()?.assign(this.#open());
  }

  /** Destroys every connection, idle or busy, and fails the queued requests. */
  destroy(): void {
    this.#destroyed = true;
    clearInterval(this.#sweep);
    for (const connection of this.#all) connection.destroy();
    for (const socket of this.#tunnels) socket.destroy();
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const waiter of waiting) waiter.fail(new Error("the connection pool was closed"));
  }

  #closeExpired(): void {
    const now = Date.now();
    const fresh: HttpConnection[] = [];
    for (const connection of this.#idle) {
      if (this.#fresh(connection, now)) fresh.push(connection);
      else connection.destroy();
    }
    this.#idle = fresh;
    if (fresh.length === 0) {
      clearInterval(this.#sweep);
      this.#sweep = undefined;
    }
  }

  /** Idle for less than `keepAliveMs` and than the server's own hint. */
  #fresh(connection: HttpConnection, now: number): boolean {
    return now - connection.idleSince < Math.min(this.#limits.keepAliveMs, connection.maxIdleMs);
  }

  #open(): HttpConnection {
    const { protocol, host, port, proxy } = this.#origin;
    // An http origin behind a proxy: the connection is to the proxy, which forwards each request.
    const to = proxy
      ? { protocol: proxy.protocol, host: proxy.host, port: proxy.port }
      : { protocol, host, port };
    const socket =
      to.protocol === "https:"
        ? this.#secure({ host: to.host, port: to.port }, proxy !== undefined)
        : net.connect({
            host: to.host,
            port: to.port,
            noDelay: true,
            keepAlive: true,
            keepAliveInitialDelay: 1_000,
          });
    return this.#adopt(socket);
  }

  /** Whether connections are CONNECT tunnels: an https origin behind a proxy. */
  #tunnelled(): boolean {
    return this.#origin.proxy !== undefined && this.#origin.protocol === "https:";
  }

  /** Opens a tunnel through the proxy, then TLS inside it; the connection goes to the first waiter. */
  #openTunnel(): void {
    const { host, port, proxy, ca } = this.#origin;
    const authority = `${host.includes(":") ? `[${host}]` : host}:${port}`;
    const tunnel = openProxyTunnel(proxy as ProxyEndpoint, authority, { ca, timeoutMs: TUNNEL_TIMEOUT_MS });
    this.#tunnels.add(tunnel.socket);
    tunnel.ready.then(
      (socket) => {
        this.#tunnels.delete(tunnel.socket);
        if (this.#destroyed) {
          socket.destroy();
          return;
        }
        const connection = this.#adopt(this.#secure({ socket }, false));
        connection.idleSince = Date.now();
        this.idle(connection);
      },
      (error: Error) => {
        this.#tunnels.delete(tunnel.socket);
        if (!this.#destroyed) this.#waiting.shift()?.fail(error);
      },
    );
  }

  /**
   * TLS to the origin (verified, SNI, ALPN http/1.1, sessions resumed), over a new TCP connection to
   * `host:port` or over `socket` (a tunnel). `toProxy`: the TLS is the proxy's own, for its host name.
   */
  #secure(over: { host: string; port: number } | { socket: net.Socket }, toProxy: boolean): tls.TLSSocket {
    const name = "host" in over ? over.host : this.#origin.host;
    const secure = tls.connect({
      ...over,
      ...(net.isIP(name) === 0 && { servername: name }),
      ...(!toProxy && { ALPNProtocols: ["http/1.1"] }),
      ...(this.#origin.ca !== undefined && { ca: this.#origin.ca }),
      ...(!toProxy && this.#tlsSession && { session: this.#tlsSession }),
    });
    if (!toProxy) {
      secure.on("session", (session: Buffer) => {
        this.#tlsSession = session;
      });
    }
    secure.setNoDelay(true);
    secure.setKeepAlive(true, 1_000);
    return secure;
  }

  #adopt(socket: net.Socket): HttpConnection {
    const connection = new HttpConnection(socket, this);
    this.#all.add(connection);
    return connection;
  }
}
