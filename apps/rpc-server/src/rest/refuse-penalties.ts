import { z } from "zod";
import { expecting } from "./parse-request-body.js";
import { invalidParam } from "./rest-request-error.js";

/**
 * The sampling penalties both OpenAI endpoints take, which NOA's providers do not apply: read so that a
 * value that would change the answer is refused by name rather than dropped. Their defaults (0, an empty
 * `logit_bias`), which many clients send on every request, are accepted.
 */
export const penaltyFields = {
  frequency_penalty: z.number().nullish(),
  presence_penalty: z.number().nullish(),
  logit_bias: z.record(z.string(), z.number(), expecting("an object of token ids to numbers")).nullish(),
};

export function refusePenalties(request: {
  frequency_penalty?: number | null | undefined;
  presence_penalty?: number | null | undefined;
  logit_bias?: Record<string, number> | null | undefined;
}): void {
  for (const name of ["frequency_penalty", "presence_penalty"] as const) {
    const value = request[name];
    if (value != null && value !== 0) {
      throw invalidParam(`${name} is not supported by this server (got ${value}); leave it unset or 0`, name);
    }
  }
  if (request.logit_bias != null && Object.keys(request.logit_bias).length > 0) {
    throw invalidParam("logit_bias is not supported by this server; leave it unset or empty", "logit_bias");
  }
}
