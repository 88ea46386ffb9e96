import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

const started = new Set<Server>();

/**
 * A webhook target on loopback. Once it has read a request it answers `answer` (a status; a list:
 * these statuses in turn, then 200), never answers (`never`), or answers 200 then drips its body for
 * ever (`drip`, a slow-loris receiver).
 * `requests` holds what came, `arrived` resolves with the first request, `hungUp` once the caller has
 * closed a connection. closeWebhookTargets() closes every one started.
 */
export async function startWebhookTarget(answer: number | readonly number[] | "never" | "drip") {
  const statuses = typeof answer === "object" ? [...answer] : undefined;
  const requests: Array<{ body: string; headers: IncomingHttpHeaders }> = [];
  let hangUp!: () => void;
  const hungUp = new Promise<void>((resolve) => {
    hangUp = resolve;
  });
  let arrive!: () => void;
  const arrived = new Promise<void>((resolve) => {
    arrive = resolve;
  });
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => {
      body += chunk.toString("utf8");
    });
    req.on("end", () => {
      requests.push({ body, headers: req.headers });
      arrive();
      if (typeof answer === "number") return void res.writeHead(answer).end();
      if (statuses) return void res.writeHead(statuses.shift() ?? 200).end();
      if (answer === "drip") {
        res.writeHead(200, { "content-type": "text/plain" });
        const drip = setInterval(() => res.write("."), 50);
        res.on("close", () => clearInterval(drip));
      }
    });
    res.on("close", () => hangUp());
  });
  started.add(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return { port, url: (path: string) => `http://127.0.0.1:${port}${path}`, requests, arrived, hungUp };
}

/** Closes every target startWebhookTarget started, with their connections. */
export async function closeWebhookTargets(): Promise<void> {
  for (const server of [...started]) {
    started.delete(server);
    server.close();
    server.closeAllConnections();
    await once(server, "close");
  }
}
