import { createLocalRateLimiter, type Principal } from "@noa/access";
import { ROOT_CONTEXT } from "@noa/observability";
import { describe, expect, it } from "vitest";
import { admitCall, limitKeyOf } from "./call-accounting.js";

const jwt = (tenant: string, id: string): Principal => ({
  kind: "jwt",
  id,
  tenant,
  scopes: ["models:read"],
  allowedModels: [],
  limits: {},
});

describe("limitKeyOf", () => {
  it("gives tokens with the same subject in different tenants different buckets, whatever their names hold", () => {
    expect(limitKeyOf(jwt("initech", "user-1"))).not.toBe(limitKeyOf(jwt("globex", "user-1")));
    // A ':' in the tenant cannot move the boundary between tenant and subject.
    expect(limitKeyOf(jwt("a:b", "c"))).not.toBe(limitKeyOf(jwt("a", "b:c")));
    expect(limitKeyOf({ ...jwt("acme", "k1"), kind: "key" })).not.toBe(limitKeyOf(jwt("acme", "k1")));
  });

  it("keeps an API key's bucket where it was (key:<id>)", () => {
    expect(limitKeyOf({ ...jwt("acme", "0b7c"), kind: "key" })).toBe("key:0b7c");
  });
});

describe("admitCall", () => {
  it("refuses a spent token budget only to calls that run a model", async () => {
    const rateLimiter = createLocalRateLimiter({
      defaults: { requestBurst: 100, requestsPerSecond: 1, tokensPerMinute: 10 },
    });
    const caller = jwt("acme", "user-1");
    await rateLimiter.chargeTokens(limitKeyOf(caller), 100, caller.limits);
    await expect(admitCall(rateLimiter, caller, ROOT_CONTEXT, { checkTokens: false })).resolves.toMatchObject(
      {
        allowed: true,
      },
    );
    await expect(admitCall(rateLimiter, caller, ROOT_CONTEXT, { checkTokens: true })).rejects.toMatchObject({
      code: "resource-exhausted",
      message: expect.stringMatching(/^token rate limit of this key reached; retry in \d+ s$/),
    });
  });
});
