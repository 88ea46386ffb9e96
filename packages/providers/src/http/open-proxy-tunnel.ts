import net from "node:net";
import tls from "node:tls";
import type { ProxyEndpoint } from "./proxy-settings.js";

/** Most bytes a proxy's answer to CONNECT may take before its blank line. */
const MAX_ANSWER_BYTES = 16 * 1024;

/** A proxy that refused or failed a CONNECT (the message says which proxy, target and status; never credentials). */
export class ProxyTunnelError extends Error {
  readonly code = "ERR_PROXY_TUNNEL";
  override name = "ProxyTunnelError";
}

/** A CONNECT tunnel being opened: `socket` to destroy it early, `ready` once the proxy said 2xx. */
export interface ProxyTunnel {
  socket: net.Socket;
  ready: Promise<net.Socket>;
}

/**
 * Opens a TCP (or, for an `https:` proxy, TLS) connection to `proxy` and asks it to `CONNECT` to
 * `authority` (`host:port`), with the proxy's credentials when it has some. `ready` resolves with the
 * socket, now a byte stream to the target, when the proxy answers 2xx; it rejects with a ProxyTunnelError
 * when the proxy answers anything else, answers nothing within `timeoutMs`, or closes, and with the socket
 * error when the proxy cannot be reached.
 */
export function openProxyTunnel(
  proxy: ProxyEndpoint,
  authority: string,
  { ca, timeoutMs }: { ca?: string | undefined; timeoutMs: number },
): ProxyTunnel {
  const socket =
    proxy.protocol === "https:"
      ? tls.connect({
          host: proxy.host,
          port: proxy.port,
          ...(net.isIP(proxy.host) === 0 && { servername: proxy.host }),
          ...(ca !== undefined && { ca }),
        })
      : net.connect({ host: proxy.host, port: proxy.port });
  socket.setNoDelay(true);
  const ready = new Promise<net.Socket>((resolve, reject) => {
    let answer = Buffer.alloc(0);
    const fail = (error: Error) => {
      cleanUp();
      socket.destroy();
      reject(error);
    };
    const refused = (message: string) =>
      fail(new ProxyTunnelError(`the proxy ${proxy.label} ${message} (CONNECT ${authority})`));
    const onData = (chunk: Buffer) => {
      answer = Buffer.concat([answer, chunk]);
      const end = answer.indexOf("\r\n\r\n");
      if (end === -1) {
        if (answer.length > MAX_ANSWER_BYTES) refused("sent an answer too long to be HTTP");
        return;
      }
      const statusLine = answer.subarray(0, answer.indexOf("\r\n")).toString("latin1");
      const status = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
      if (!status) return refused("did not answer in HTTP");
      const code = Number(status[1]);
      if (code < 200 || code > 299) return refused(`answered ${code} ${status[2] ?? ""}`.trimEnd());
      cleanUp();
      socket.setTimeout(0);
      // Held until the next reader (TLS) takes the socket over; what came after the answer is the target's.
      socket.pause();
      const rest = answer.subarray(end + 4);
      if (rest.length > 0) socket.unshift(rest);
      resolve(socket);
    };
    const onError = (error: Error) => fail(error);
    const onClose = () => refused("closed the connection before answering");
    const onTimeout = () => refused(`did not answer within ${timeoutMs} ms`);
    const cleanUp = () => {
      socket.off("data", onData);
      socket.off("error", onError);
      socket.off("close", onClose);
      socket.off("timeout", onTimeout);
    };
    socket.on("data", onData);
    socket.on("error", onError);
    socket.on("close", onClose);
    socket.on("timeout", onTimeout);
    socket.setTimeout(timeoutMs);
  });
  const authorization = proxy.authorization ? `proxy-authorization: ${proxy.authorization}\r\n` : "";
  socket.write(`CONNECT ${authority} HTTP/1.1\r\nhost: ${authority}\r\n${authorization}\r\n`, "latin1");
  return { socket, ready };
}
