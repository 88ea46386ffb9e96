import type { IncomingHttpHeaders } from "node:http";
import { request } from "node:http";

/** An HTTP answer, read whole. */
export interface OneShotAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The body parsed, when it is JSON. */
  json: Record<string, unknown> | undefined;
}

/**
 * One HTTP/1.1 request on a connection of its own (no keep-alive pool), so a round-robin TCP proxy in
 * front of the replicas sends consecutive requests to consecutive replicas.
 */
export function requestOnce(options: {
  port: number;
  method: "GET" | "POST";
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
}): Promise<OneShotAnswer> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: options.port,
        method: options.method,
        path: options.path,
        agent: false,
        headers: {
          ...(payload !== undefined && { "content-type": "application/json" }),
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: Record<string, unknown> | undefined;
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {}
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}
