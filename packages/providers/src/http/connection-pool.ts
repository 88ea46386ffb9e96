import net from "node:net";
import tls from "node:tls";
import { type ConnectionOwner, HttpConnection } from "./http-connection.js";

/** Where a pool connects: `http:` over TCP, `https:` over TLS (verified, with SNI, ALPN `http/1.1`). */
export interface PoolOrigin {
  protocol: "http:" | "https:";
  /** A host name or IP address, without IPv6 brackets. */
  host: string;
  port: number;
  /** Certificate authorities (PEM) to trust instead of Node's default set; https only. */
  ca?: string | undefined;
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
 * and does not keep the process alive (unref'd), as with node:http's agent.
 */
export class ConnectionPool implements ConnectionOwner {
  readonly #origin: PoolOrigin;
  readonly #limits: PoolLimits;
  readonly #all = new Set<HttpConnection>();
  #idle: HttpConnection[] = [];
  #waiting: PoolWaiter[] = [];
  #sweep: NodeJS.Timeout | undefined;
  #tlsSession: Buffer | undefined;
  #destroyed = false;

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
    return this.#all.size < this.#limits.maxSockets ? this.#open() : undefined;
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
    if (this.#destroyed) return;
    const waiter = this.#waiting.shift();
    if (waiter) waiter.assign(this.#open());
  }

  /** Destroys every connection, idle or busy, and fails the queued requests. */
  destroy(): void {
    this.#destroyed = true;
    clearInterval(this.#sweep);
    for (const connection of this.#all) connection.destroy();
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
    const { protocol, host, port } = this.#origin;
    let socket: net.Socket;
    if (protocol === "https:") {
      const secure = tls.connect({
        host,
        port,
        ...(net.isIP(host) === 0 && { servername: host }),
        ALPNProtocols: ["http/1.1"],
        ...(this.#origin.ca !== undefined && { ca: this.#origin.ca }),
        ...(this.#tlsSession && { session: this.#tlsSession }),
      });
      secure.on("session", (session: Buffer) => {
        this.#tlsSession = session;
      });
      secure.setNoDelay(true);
      secure.setKeepAlive(true, 1_000);
      socket = secure;
    } else {
      socket = net.connect({ host, port, noDelay: true, keepAlive: true, keepAliveInitialDelay: 1_000 });
    }
    const connection = new HttpConnection(socket, this);
    this.#all.add(connection);
    return connection;
  }
}
