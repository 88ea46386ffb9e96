import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpFetch } from "./create-http-fetch.js";

// A real TLS server with a certificate made for this run: a self-signed CA and a server certificate it
// signed for the name `localhost` only (not 127.0.0.1).
let dir: string;
let ca: string;
let server: https.Server;
let port: number;
let handshakes = 0;
let sniNames: Array<string | false> = [];

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "noa-tls-"));
  openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "1",
    "-subj",
    "/CN=NOA test CA",
  );
  openssl(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=localhost",
  );
  writeFileSync(path.join(dir, "server.ext"), "subjectAltName=DNS:localhost\n");
  openssl(
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.pem",
    "-days",
    "1",
    "-extfile",
    "server.ext",
  );
  ca = readFileSync(path.join(dir, "ca.pem"), "utf8");
  server = https.createServer(
    {
      key: readFileSync(path.join(dir, "server.key")),
      cert: readFileSync(path.join(dir, "server.pem")),
      ALPNProtocols: ["http/1.1"],
    },
    (req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => {
        body += chunk.toString("utf8");
      });
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            method: req.method,
            body,
            alpn: (req.socket as { alpnProtocol?: string }).alpnProtocol,
          }),
        );
      });
    },
  );
  server.on("secureConnection", (socket) => {
    handshakes++;
    sniNames.push((socket as { servername?: string | false }).servername ?? false);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("createHttpFetch over TLS", () => {
  it("verifies the server against the given CA, sends SNI and ALPN http/1.1, and reuses the connection", async () => {
    const fetch = createHttpFetch({ ca });
    handshakes = 0;
    sniNames = [];
    try {
      for (const body of ["first", "second"]) {
        const response = await fetch(`https://localhost:${port}/v1/echo`, { method: "POST", body });
        expect(response.status).toBe(200);
        expect(await response.json()).toEqual({ method: "POST", body, alpn: "http/1.1" });
      }
      expect(handshakes).toBe(1);
      expect(sniNames).toEqual(["localhost"]);
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
