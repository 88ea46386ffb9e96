import { describe, expect, it } from "vitest";
import { JobError } from "../job-error.js";
import { type CallbackPolicy, checkCallbackUrl, forbiddenReason } from "./ssrf-guard.js";

const strict: CallbackPolicy = { allowHttp: false, allowLoopback: false, allowPrivate: false };
const resolver = (answers: Record<string, string[]>) => async (host: string) => {
  const addresses = answers[host];
  if (!addresses) throw new Error(`ENOTFOUND ${host}`);
  return addresses;
};

async function refusal(
  url: string,
  policy = strict,
  answers: Record<string, string[]> = {},
): Promise<string> {
  try {
    await checkCallbackUrl(url, policy, resolver(answers));
    return "accepted";
  } catch (error) {
    expect(error).toBeInstanceOf(JobError);
    expect((error as JobError).code).toBe("invalid-argument");
    return (error as JobError).message;
  }
}

describe("forbiddenReason", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["127.8.9.10", "loopback"],
    ["::1", "loopback"],
    ["10.1.2.3", "private or link-local"],
    ["172.16.0.1", "private or link-local"],
    ["172.31.255.255", "private or link-local"],
    ["192.168.0.10", "private or link-local"],
    ["169.254.169.254", "private or link-local"],
    ["100.64.0.1", "private or link-local"],
    ["fd12:3456::1", "private or link-local"],
    ["fe80::1", "private or link-local"],
    ["::ffff:10.0.0.1", "private or link-local"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::10.0.0.1", "private or link-local"],
    ["64:ff9b::169.254.169.254", "private or link-local"],
    ["64:ff9b::a9fe:a9fe", "private or link-local"],
    ["64:ff9b::7f00:1", "loopback"],
    ["64:ff9b:1::8.8.8.8", "private or link-local"],
    ["2002:a00:1::1", "private or link-local"],
    ["2002:7f00:1::", "loopback"],
    ["2001:0:4136:e378:8000:63bf:3fff:fdd2", "not a routable unicast"],
    ["2001:db8::1", "not a routable unicast"],
    ["fec0::1", "private or link-local"],
    ["0.0.0.0", "not a routable unicast"],
    ["224.0.0.1", "not a routable unicast"],
  ])("refuses %s (%s)", (address, why) => {
    expect(forbiddenReason(address, strict)).toContain(why);
  });

  it.each([
    "93.184.216.34",
    "8.8.8.8",
    "172.32.0.1",
    "2606:4700::1111",
    "64:ff9b::808:808",
    "2002:808:808::1",
  ])("allows the public address %s", (address) => {
    expect(forbiddenReason(address, strict)).toBeUndefined();
  });

  it("allows loopback or private ranges only when the policy says so", () => {
    expect(forbiddenReason("127.0.0.1", { ...strict, allowLoopback: true })).toBeUndefined();
    expect(forbiddenReason("10.0.0.1", { ...strict, allowLoopback: true })).toContain("private");
    expect(forbiddenReason("10.0.0.1", { ...strict, allowPrivate: true })).toBeUndefined();
    expect(
      forbiddenReason("0.0.0.0", { allowHttp: true, allowLoopback: true, allowPrivate: true }),
    ).toBeDefined();
  });
});

describe("checkCallbackUrl", () => {
  it("accepts an https URL whose host resolves only to public addresses", async () => {
    expect(
      await refusal("https://hooks.example.com/noa", strict, { "hooks.example.com": ["93.184.216.34"] }),
    ).toBe("accepted");
  });

  it("resolves the host: a public-looking name pointing at a private address is refused", async () => {
    expect(
      await refusal("https://internal.example.com/x", strict, {
        "internal.example.com": ["93.184.216.34", "10.0.0.5"],
      }),
    ).toBe(
      "callback_url is refused: internal.example.com resolves to 10.0.0.5; 10.0.0.5 is in a private or link-local range",
    );
    // An address given as such is named once.
    expect(await refusal("https://127.0.0.1/x", strict, {})).toBe(
      "callback_url is refused: 127.0.0.1 is a loopback address",
    );
    expect(await refusal("https://localhost/x", strict, { localhost: ["127.0.0.1"] })).toMatch(/loopback/);
  });

  it("refuses http unless allowed, credentials, non-URLs and hosts that do not resolve", async () => {
    expect(
      await refusal("http://hooks.example.com/x", strict, { "hooks.example.com": ["93.184.216.34"] }),
    ).toBe("callback_url must use https (got http)");
    expect(await refusal("https://user:pw@hooks.example.com/x", strict)).toBe(
      "callback_url must not carry credentials",
    );
    expect(await refusal("/relative")).toMatch(/^callback_url must be an absolute URL/);
    expect(await refusal("https://nowhere.invalid/x")).toBe(
      'callback_url host "nowhere.invalid" does not resolve',
    );
    expect(await refusal("https://[::1]:8443/x")).toMatch(/::1 is a loopback address/);
  });
});
