import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP } from "node:net";
import { type CallbackPolicy, forbiddenReason, guardedLookup } from "./ssrf-guard.js";
import { signatureHeader, signWebhook } from "./webhook-signature.js";

/** The outcome of one POST; `statusCode` 0 when no complete answer came. */
export interface WebhookAttempt {
  statusCode: number;
  delivered: boolean;
  error: string | undefined;
}

/**
 * POSTs a signed JSON body to a callback URL through a lookup that refuses forbidden addresses at
 * connect time; follows no redirects. The whole exchange (connect, send, status, body) must end within
 * `timeoutMs`, so a target that answers slowly or drips its body cannot hold a worker slot; `signal`
 * ends it sooner (CancelJob, shutdown). Never throws: failures come back as an attempt with an error.
 */
export async function postWebhook(options: {
  url: string;
  body: string;
  secret: string;
  headers: Record<string, string>;
  policy: CallbackPolicy;
  timeoutMs: number;
  signal?: AbortSignal;
  nowSeconds?: number;
}): Promise<WebhookAttempt> {
  const { url, body, secret, headers, policy, timeoutMs, signal } = options;
  const timestamp = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  const target = new URL(url);
  // Node connects to an IP literal without a lookup: check it here.
  const host = target.hostname.replace(/^\[(.*)\]$/, "$1");
  const literalReason = isIP(host) === 0 ? undefined : forbiddenReason(host, policy);
  if (literalReason) return { statusCode: 0, delivered: false, error: `refused: ${literalReason}` };
  if (signal?.aborted) return { statusCode: 0, delivered: false, error: "aborted before it was sent" };
  const send = target.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    let answered: number | undefined;
    let settled = false;
    const settle = (attempt: WebhookAttempt) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      signal?.removeEventListener("abort", onAbort);
      resolve(attempt);
    };
    /** Ends the exchange wherever it is; a partial answer counts as none (status 0: retried). */
    const giveUp = (why: string) => {
      settle({ statusCode: 0, delivered: false, error: why });
      request.destroy();
    };
    const onAbort = () => giveUp("aborted");
    // A deadline on the whole exchange: node's `timeout` only fires on an idle socket.
    const deadline = setTimeout(
      () =>
        giveUp(
          answered === undefined
            ? `timed out: no answer within ${timeoutMs} ms`
            : `timed out: the target answered ${answered} but did not finish within ${timeoutMs} ms`,
        ),
      timeoutMs,
    );
    signal?.addEventListener("abort", onAbort, { once: true });
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
      },
      (response) => {
        answered = response.statusCode ?? 0;
        // Drain the answer: only the status matters.
        response.resume();
        response.on("end", () => {
          const statusCode = response.statusCode ?? 0;
          const delivered = statusCode >= 200 && statusCode < 300;
          settle({
            statusCode,
            delivered,
            error: delivered ? undefined : `the target answered ${statusCode}`,
          });
        });
        response.on("error", (error) =>
          settle({ statusCode: response.statusCode ?? 0, delivered: false, error: error.message }),
        );
      },
    );
    request.on("error", (error) => settle({ statusCode: 0, delivered: false, error: error.message }));
    request.end(body);
  });
}
