import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

/** A loopback HTTPS server answering every request with its method, body and ALPN protocol as JSON. */
export interface TlsEchoServer {
  /** The PEM of the CA that signed the server's certificate (for the name `localhost` only). */
  ca: string;
  /** The server's key and certificate (PEM), for another test server to present as `localhost`. */
  key: string;
  cert: string;
  port: number;
  /** TLS handshakes completed, and the SNI name of each, since the start or the last `reset`. */
  handshakes: number;
  sniNames: Array<string | false>;
  reset(): void;
  close(): Promise<void>;
}

/**
 * Starts a real TLS server with certificates made for this run by openssl: a self-signed CA and a server
 * certificate it signed for the name `localhost` only (not 127.0.0.1).
 */
export async function startTlsEchoServer(): Promise<TlsEchoServer> {
  const dir = mkdtempSync(path.join(tmpdir(), "noa-tls-"));
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  const newKey = (name: string) => ["-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`];
  openssl("req", "-x509", ...newKey("ca"), "-out", "ca.pem", "-days", "1", "-subj", "/CN=NOA test CA");
  openssl("req", ...newKey("server"), "-out", "server.csr", "-subj", "/CN=localhost");
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
  const key = readFileSync(path.join(dir, "server.key"), "utf8");
  const cert = readFileSync(path.join(dir, "server.pem"), "utf8");
  const server = https.createServer(
    {
      key,
      cert,
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
  const echo: TlsEchoServer = {
    ca: readFileSync(path.join(dir, "ca.pem"), "utf8"),
    key,
    cert,
    port: 0,
    handshakes: 0,
    sniNames: [],
    reset() {
      echo.handshakes = 0;
      echo.sniNames = [];
    },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  server.on("secureConnection", (socket) => {
    echo.handshakes++;
    echo.sniNames.push((socket as { servername?: string | false }).servername ?? false);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  echo.port = (server.address() as AddressInfo).port;
  return echo;
}
