import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type ForwardProxy, startForwardProxy } from "./__fixtures__/start-forward-proxy.js";
import { startTlsEchoServer, type TlsEchoServer } from "./__fixtures__/start-tls-echo-server.js";
import { createHttpFetch, type HttpFetch } from "./create-http-fetch.js";

let tlsServer: TlsEchoServer;
let plain: http.Server;
let plainPort: number;
const plainRequests: Array<{ url: string | undefined; host: string | undefined }> = [];

beforeAll(async () => {
  tlsServer = await startTlsEchoServer();
  plain = http.createServer((req, res) => {
    plainRequests.push({ url: req.url, host: req.headers.host });
    req.resume();
    req.on("end", () => res.writeHead(200, { "content-type": "text/plain" }).end(`plain ${req.method}`));
  });
  await new Promise<void>((resolve) => plain.listen(0, "127.0.0.1", resolve));
  plainPort = (plain.address() as AddressInfo).port;
});

afterAll(async () => {
  await tlsServer?.close();
  await new Promise<void>((resolve) => plain?.close(() => resolve()));
});

let proxy: ForwardProxy | undefined;
let fetch: HttpFetch | undefined;
afterEach(async () => {
  fetch?.close();
  fetch = undefined;
  await proxy?.close();
  proxy = undefined;
  plainRequests.length = 0;
  tlsServer.reset();
});

const failureOf = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.unreachable("the request should have failed"),
    (error: unknown) => error as TypeError & { cause?: Error & { code?: string } },
  );

describe("createHttpFetch through an outbound proxy", () => {
  it("tunnels https with CONNECT and the proxy's credentials, verifies the origin inside, and reuses the tunnel", async () => {
    proxy = await startForwardProxy({ requireAuthorization: `Basic ${btoa("noa:p@ss word")}` });
    const httpsProxy = `http://noa:p%40ss%20word@127.0.0.1:${proxy.port}`;
    fetch = createHttpFetch({ ca: tlsServer.ca, proxy: { httpsProxy } });
    for (const body of ["first", "second"]) {
      const response = await fetch(`https://localhost:${tlsServer.port}/v1/echo`, { method: "POST", body });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ method: "POST", body, alpn: "http/1.1" });
    }
    expect(proxy.tunnels).toEqual([
      { authority: `localhost:${tlsServer.port}`, authorization: `Basic ${btoa("noa:p@ss word")}` },
    ]);
    expect(tlsServer.handshakes).toBe(1);
    expect(tlsServer.sniNames).toEqual(["localhost"]);
  });

  it("speaks TLS to an https:// proxy, and TLS to the origin inside its tunnel", async () => {
    proxy = await startForwardProxy({ tls: { key: tlsServer.key, cert: tlsServer.cert } });
    fetch = createHttpFetch({ ca: tlsServer.ca, proxy: { httpsProxy: proxy.url } });
    const response = await fetch(`https://localhost:${tlsServer.port}/v1/echo`, {
      method: "POST",
      body: "x",
    });
    expect(await response.json()).toEqual({ method: "POST", body: "x", alpn: "http/1.1" });
    expect(proxy.tunnels).toEqual([{ authority: `localhost:${tlsServer.port}`, authorization: undefined }]);
    expect(tlsServer.handshakes).toBe(1);
  });

  it("opens one tunnel per concurrent request, up to maxSockets", async () => {
    proxy = await startForwardProxy();
    fetch = createHttpFetch({ ca: tlsServer.ca, maxSockets: 2, proxy: { httpsProxy: proxy.url } });
    const bodies = ["a", "b", "c", "d", "e"];
    const answers = await Promise.all(
      bodies.map(async (body) => {
        const response = await (fetch as HttpFetch)(`https://localhost:${tlsServer.port}/`, {
          method: "POST",
          body,
        });
        return ((await response.json()) as { body: string }).body;
      }),
    );
    expect(answers).toEqual(bodies);
    expect(proxy.tunnels).toHaveLength(2);
  });

  it("still checks the origin's certificate: a tunnel to a server the CA did not sign for fails like fetch", async () => {
    proxy = await startForwardProxy();
    fetch = createHttpFetch({ proxy: { httpsProxy: proxy.url } });
    const failure = await failureOf(fetch(`https://localhost:${tlsServer.port}/`));
    expect(failure).toBeInstanceOf(TypeError);
    expect(failure.cause?.code).toBe("UNABLE_TO_VERIFY_LEAF_SIGNATURE");
    expect(proxy.tunnels).toHaveLength(1);
  });

  it("sends http requests to the proxy in absolute form, with its credentials, and the origin's host", async () => {
    proxy = await startForwardProxy({ requireAuthorization: `Basic ${btoa("noa:secret")}` });
    fetch = createHttpFetch({ proxy: { httpProxy: `http://noa:secret@127.0.0.1:${proxy.port}` } });
    const url = `http://127.0.0.1:${plainPort}/v1/models?limit=2`;
    for (let i = 0; i < 2; i++) {
      const response = await fetch(url, { method: "POST", body: "{}" });
      expect(await response.text()).toBe("plain POST");
    }
    expect(proxy.forwarded).toEqual([
      { url, host: `127.0.0.1:${plainPort}`, authorization: `Basic ${btoa("noa:secret")}` },
      { url, host: `127.0.0.1:${plainPort}`, authorization: `Basic ${btoa("noa:secret")}` },
    ]);
    expect(plainRequests.map((request) => request.url)).toEqual(["/v1/models?limit=2", "/v1/models?limit=2"]);
    expect(proxy.tunnels).toEqual([]);
  });

  it("rejects like fetch when the proxy refuses the tunnel, saying which proxy and status and no credentials", async () => {
    proxy = await startForwardProxy({ requireAuthorization: "Basic something-else" });
    fetch = createHttpFetch({
      ca: tlsServer.ca,
      proxy: { httpsProxy: `http://noa:hunter2@127.0.0.1:${proxy.port}` },
    });
    const failure = await failureOf(fetch(`https://localhost:${tlsServer.port}/`));
    expect(failure).toBeInstanceOf(TypeError);
    expect(failure.cause?.name).toBe("ProxyTunnelError");
    expect(failure.cause?.message).toBe(
      `the proxy 127.0.0.1:${proxy.port} answered 407 Proxy Authentication Required (CONNECT localhost:${tlsServer.port})`,
    );
    expect(failure.cause?.message).not.toContain("hunter2");
    expect(tlsServer.handshakes).toBe(0);
  });

  it("rejects with the socket error when the proxy cannot be reached", async () => {
    proxy = await startForwardProxy();
    const closedPort = proxy.port;
    await proxy.close();
    proxy = undefined;
    fetch = createHttpFetch({ ca: tlsServer.ca, proxy: { httpsProxy: `http://127.0.0.1:${closedPort}` } });
    const failure = await failureOf(fetch(`https://localhost:${tlsServer.port}/`));
    expect(failure).toBeInstanceOf(TypeError);
    expect(failure.cause?.code).toBe("ECONNREFUSED");
  });

  it("goes direct to the hosts NO_PROXY lists", async () => {
    proxy = await startForwardProxy();
    fetch = createHttpFetch({
      ca: tlsServer.ca,
      proxy: { httpsProxy: proxy.url, httpProxy: proxy.url, noProxy: "localhost, 127.0.0.1" },
    });
    expect((await fetch(`https://localhost:${tlsServer.port}/`)).status).toBe(200);
    expect(await (await fetch(`http://127.0.0.1:${plainPort}/`)).text()).toBe("plain GET");
    expect(proxy.tunnels).toEqual([]);
    expect(proxy.forwarded).toEqual([]);
    expect(plainRequests).toEqual([{ url: "/", host: `127.0.0.1:${plainPort}` }]);
  });
});
