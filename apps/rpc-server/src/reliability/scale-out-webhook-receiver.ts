import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

/** A callback the receiver answered 200 to: delivered, as far as the sender can tell. */
export interface AcceptedWebhook {
  jobId: string;
  attempt: number;
  body: string;
  /** The `x-noa-signature` header. */
  signature: string;
}

/** A loopback callback receiver that counts deliveries per job and can hold them at a gate. */
export interface ScaleOutWebhookReceiver {
  url: string;
  /** Every POST whose 200 was written out in full. */
  accepted: AcceptedWebhook[];
  /** The job ids of the POSTs waiting at the gate now. */
  held(): string[];
  /** POSTs the sender abandoned before an answer (its process died, or it timed out). */
  abandoned(): number;
  /** Holds every POST unanswered until resume(). */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

/**
 * Records job callbacks (by `x-noa-job-id`) and answers 200. Only a 200 fully written counts as accepted:
 * a POST whose sender died while it waited at the gate was never delivered, and its retry is not a duplicate.
 */
export async function startScaleOutWebhookReceiver(): Promise<ScaleOutWebhookReceiver> {
  const accepted: AcceptedWebhook[] = [];
  const waiting = new Map<() => void, string>();
  let paused = false;
  let abandoned = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const answer = () => {
        waiting.delete(answer);
        if (res.destroyed) return;
        res.once("finish", () =>
          accepted.push({
            jobId: String(req.headers["x-noa-job-id"]),
            attempt: Number(req.headers["x-noa-delivery-attempt"]),
            body: Buffer.concat(chunks).toString("utf8"),
            signature: String(req.headers["x-noa-signature"]),
          }),
        );
        res.writeHead(200).end();
      };
      if (!paused) return answer();
      waiting.set(answer, String(req.headers["x-noa-job-id"]));
      res.once("close", () => {
        if (!waiting.delete(answer)) return;
        abandoned++;
      });
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    accepted,
    held: () => [...waiting.values()],
    abandoned: () => abandoned,
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      for (const answer of [...waiting.keys()]) answer();
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
