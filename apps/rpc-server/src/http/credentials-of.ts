import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";

/** The credential headers of an HTTP request (Bearer or x-api-key), as the authenticator reads them. */
export function credentialsOf(req: IncomingMessage | Http2ServerRequest): Headers {
  const headers = new Headers();
  const { authorization, "x-api-key": apiKey } = req.headers;
  if (typeof authorization === "string") headers.set("authorization", authorization);
  if (typeof apiKey === "string") headers.set("x-api-key", apiKey);
  return headers;
}
