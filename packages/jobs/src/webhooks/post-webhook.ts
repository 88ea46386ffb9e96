import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP } from "node:net";
import { type CallbackPolicy, forbiddenReason, guardedLookup } from "./ssrf-guard.js";
import { signatureHeader, signWebhook } from "./webhook-signature.js";

/** The outcome of one POST; `statusCode` 0 when no answer came. */
export interface WebhookAttempt {
  statusCode: number;
  delivered: boolean;
  error: string | undefined;
}

/**
 * POSTs a signed JSON body to a callback URL through a lookup that refuses forbidden addresses at
 * connect time; follows no redirects. Never throws: failures come back as an attempt with an error.
 */
export async function postWebhook(options: {
  url: string;
  body: string;
  secret: string;
  headers: Record<string, string>;
  policy: CallbackPolicy;
  timeoutMs: number;
  nowSeconds?: number;
}): Promise<WebhookAttempt> {
  const { url, body, secret, headers, policy, timeoutMs } = options;
  const timestamp = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  const target = new URL(url);
  // Node connects to an IP literal without a lookup: check it here.
  const host = target.hostname.replace(/^\[(.*)\]$/, "$1");
  const literalReason = isIP(host) === 0 ? undefined : forbiddenReason(host, policy);
  if (literalReason) return { statusCode: 0, delivered: false, error: `refused: ${literalReason}` };
  const send = target.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const request = send(
      target,
      {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          "user-agent": "noa-webhooks/1",
          [signatureHeader]: signWebhook(secret, body, timestamp),
          ...headers,
        },
        lookup: guardedLookup(policy) as never,
        timeout: timeoutMs,
      },
      (response) => {
        // Drain the answer: only the status matters.
        response.resume();
        response.on("end", () => {
          const statusCode = response.statusCode ?? 0;
          const delivered = statusCode >= 200 && statusCode < 300;
          resolve({
            statusCode,
            delivered,
            error: delivered ? undefined : `the target answered ${statusCode}`,
          });
        });
        response.on("error", (error) =>
          resolve({ statusCode: response.statusCode ?? 0, delivered: false, error: error.message }),
        );
      },
    );
    request.on("timeout", () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on("error", (error) => resolve({ statusCode: 0, delivered: false, error: error.message }));
    request.end(body);
  });
}
