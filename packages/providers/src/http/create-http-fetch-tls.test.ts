import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTlsEchoServer, type TlsEchoServer } from "./__fixtures__/start-tls-echo-server.js";
import { createHttpFetch } from "./create-http-fetch.js";

let server: TlsEchoServer;
let ca: string;
let port: number;

beforeAll(async () => {
  server = await startTlsEchoServer();
  ({ ca, port } = server);
});

afterAll(() => server?.close());

describe("createHttpFetch over TLS", () => {
  it("verifies the server against the given CA, sends SNI and ALPN http/1.1, and reuses the connection", async () => {
    const fetch = createHttpFetch({ ca });
    server.reset();
    try {
      for (const body of ["first", "second"]) {
        const response = await fetch(`https://localhost:${port}/v1/echo`, { method: "POST", body });
        expect(response.status).toBe(200);
        expect(await response.json()).toEqual({ method: "POST", body, alpn: "http/1.1" });
      }
      expect(server.handshakes).toBe(1);
      expect(server.sniNames).toEqual(["localhost"]);
    } finally {
      fetch.close();
    }
  });

  it("refuses a certificate that chains to no trusted CA, as fetch does (TypeError, the TLS error as cause)", async () => {
    const fetch = createHttpFetch();
    try {
      const failure = await fetch(`https://localhost:${port}/v1/echo`).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(TypeError);
      expect((failure as { cause?: { code?: string } }).cause?.code).toBe("UNABLE_TO_VERIFY_LEAF_SIGNATURE");
    } finally {
      fetch.close();
    }
  });

  it("refuses a trusted certificate for another name", async () => {
    const fetch = createHttpFetch({ ca });
    try {
      const failure = await fetch(`https://127.0.0.1:${port}/v1/echo`).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(TypeError);
      expect((failure as { cause?: { code?: string } }).cause?.code).toBe("ERR_TLS_CERT_ALTNAME_INVALID");
    } finally {
      fetch.close();
    }
  });
});
