import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type CorsOrigins, createCors } from "./create-cors.js";

let server: Server | undefined;
afterEach(() => {
  server?.close();
  server = undefined;
});

/** A server that answers 200 "handler" for whatever CORS does not answer itself. */
async function serve(origins: CorsOrigins | undefined): Promise<string> {
  const cors = createCors(origins);
  server = createServer((req, res) => {
    if (cors(req, res)) return;
    res.end("handler");
  });
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const preflight = { "access-control-request-method": "POST", "access-control-request-headers": "x-grpc-web" };

describe("createCors", () => {
  it("sends no CORS headers at all when no origin is configured", async () => {
    const url = await serve(undefined);
    const response = await fetch(url, {
      method: "OPTIONS",
      headers: { origin: "https://a.example", ...preflight },
    });
    expect(await response.text()).toBe("handler");
    expect([...response.headers.keys()].filter((name) => name.startsWith("access-control"))).toEqual([]);
  });

  it("allows every origin with *, without Vary", async () => {
    const url = await serve("*");
    const response = await fetch(url, {
      method: "OPTIONS",
      headers: { origin: "https://a.example", ...preflight },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe("*");
    expect(response.headers.get("access-control-allow-headers")).toBe("x-grpc-web");
    expect(response.headers.get("access-control-allow-credentials")).toBeNull();
    const actual = await fetch(url, { headers: { origin: "https://a.example" } });
    expect(actual.headers.get("access-control-expose-headers")).toMatch(
      /Grpc-Status.*x-correlation-id.*retry-after-ms/,
    );
  });

  it("echoes a listed origin and passes others and same-origin requests through untouched", async () => {
    const url = await serve(["https://a.example", "http://localhost:3000"]);
    const allowed = await fetch(url, { headers: { origin: "http://localhost:3000" } });
    expect(allowed.headers.get("access-control-allow-origin")).toBe("http://localhost:3000");
    expect(allowed.headers.get("vary")).toBe("Origin");
    const other = await fetch(url, {
      method: "OPTIONS",
      headers: { origin: "https://b.example", ...preflight },
    });
    expect(await other.text()).toBe("handler");
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
    const sameOrigin = await fetch(url);
    expect(sameOrigin.headers.get("vary")).toBeNull();
  });
});
