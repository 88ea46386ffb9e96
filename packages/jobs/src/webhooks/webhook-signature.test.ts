import { describe, expect, it } from "vitest";
import { signWebhook, verifyWebhook } from "./webhook-signature.js";

const secret = "whsec_0123456789abcdef0123456789abcdef";
const body = '{"job":{"id":"1"}}';

describe("webhook signatures", () => {
  it("signs timestamp and body with HMAC-SHA256, as the README's verification snippet checks", () => {
    const header = signWebhook(secret, body, 1_700_000_000);
    // HMAC-SHA256(secret, "1700000000." + body), as any receiver computes it.
    expect(header).toBe("t=1700000000,v1=394c175eac2f45d4431fe7195e1900a82a1329f5cec9175c9b37ab0a7d97e718");
    expect(verifyWebhook({ secret, body, header, nowSeconds: 1_700_000_010 })).toBe(true);
  });

  it("refuses another body, another secret, a missing or malformed header", () => {
    const header = signWebhook(secret, body, 1_700_000_000);
    const now = { nowSeconds: 1_700_000_000 };
    expect(verifyWebhook({ secret, body: `${body} `, header, ...now })).toBe(false);
    expect(verifyWebhook({ secret: `${secret}x`, body, header, ...now })).toBe(false);
    expect(verifyWebhook({ secret, body, header: undefined, ...now })).toBe(false);
    expect(verifyWebhook({ secret, body, header: "v1=abc", ...now })).toBe(false);
    expect(
      verifyWebhook({ secret, body, header: header.replace("t=1700000000", "t=1700000001"), ...now }),
    ).toBe(false);
  });

  it("refuses a replay older than the tolerance", () => {
    const header = signWebhook(secret, body, 1_700_000_000);
    expect(verifyWebhook({ secret, body, header, nowSeconds: 1_700_000_301 })).toBe(false);
    expect(verifyWebhook({ secret, body, header, nowSeconds: 1_700_000_301, toleranceSeconds: 600 })).toBe(
      true,
    );
  });
});
