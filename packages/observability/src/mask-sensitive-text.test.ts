import { describe, expect, it } from "vitest";
import { maskMatches, maskSensitiveText, passesLuhn } from "./mask-sensitive-text.js";

describe("maskSensitiveText", () => {
  it("masks NOA and vendor API keys, bearer tokens and JWTs", () => {
    const text =
      "key noa_AbCdEf1234_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ, upstream sk-proj-abcdefghijklmnopqrstuv, " +
      "anthropic sk-ant-api03-abcdefghijklmnopqrstuvwxyz, header Bearer abc.def-ghi, " +
      "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
    const masked = maskSensitiveText(text);
    expect(masked).not.toMatch(/noa_AbCd|sk-proj-abc|sk-ant-api03|abc\.def-ghi|eyJhbGci/);
    expect(masked).toContain("[redacted:key]");
    expect(masked).toContain("Bearer [redacted:token]");
  });

  it("masks keys that hold no digit", () => {
    expect(maskSensitiveText("upstream said sk-proj-abcdefghijklmnopqrstuv")).toBe(
      "upstream said [redacted:key]",
    );
    expect(maskSensitiveText("key noa_abcdefghijklmnopqrstuvwxyzABC")).toBe("key [redacted:key]");
  });

  it("masks e-mail addresses, Luhn-valid card numbers and phone numbers", () => {
    const masked = maskSensitiveText(
      "mail jane.doe+gw@example.co.uk, card 4111 1111 1111 1111 or 5500-0000-0000-0004, call +44 20 7946 0958 or (555) 123-4567",
    );
    expect(masked).toBe(
      "mail [redacted:email], card [redacted:card] or [redacted:card], call [redacted:phone] or [redacted:phone]",
    );
  });

  it("leaves numbers that are not card or phone numbers alone", () => {
    const text =
      "took 1534 ms for 4111111111111112 tokens on 2026-11-26, version 1.2.3, 1234567 bytes, " +
      "request dc42da89-6f91-4971-8c92-c061d550f22c and 12345678-1234-5678-9abc-123456789012";
    expect(maskSensitiveText(text)).toBe(text);
  });

  it("skips the expression only for text it would leave unchanged", () => {
    // Random text from the characters that matter: digits and what may separate them, letters and the
    // characters the look-behind refuses, and pieces of the other shapes.
    const pieces = [
      ..."0123456789  ()+-._abcdefxyzAZ@/",
      "555",
      "0958",
      "Bearer ",
      "eyJ",
      "noa_",
      "sk-",
      "\u00a0",
      "\t",
    ];
    let seed = 1;
    const random = () => {
      seed = (seed * 48271) % 2147483647;
      return seed / 2147483647;
    };
    let masked = 0;
    for (let sample = 0; sample < 20_000; sample++) {
      let text = "";
      const length = 1 + Math.floor(random() * 40);
      for (let index = 0; index < length; index++) text += pieces[Math.floor(random() * pieces.length)];
      const expected = maskMatches(text);
      if (expected !== text) masked++;
      expect(maskSensitiveText(text), JSON.stringify(text)).toBe(expected);
    }
    // The samples reach the expression's every kind, not only text it leaves alone.
    expect(masked).toBeGreaterThan(1_000);
  });

  it("returns text without anything sensitive unchanged", () => {
    expect(maskSensitiveText("rest POST /v1/chat/completions ok")).toBe("rest POST /v1/chat/completions ok");
  });
});

describe("passesLuhn", () => {
  it("accepts valid card numbers and refuses a changed digit", () => {
    expect(passesLuhn("4111111111111111")).toBe(true);
    expect(passesLuhn("378282246310005")).toBe(true);
    expect(passesLuhn("4111111111111112")).toBe(false);
  });
});
