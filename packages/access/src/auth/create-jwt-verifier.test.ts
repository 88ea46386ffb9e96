import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type CryptoKey, exportJWK, generateKeyPair, type JWTPayload, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccessError } from "./access-error.js";
import { createJwtVerifier } from "./create-jwt-verifier.js";

const issuer = "https://id.example.test/";
const audience = "noa";
const secret = "a-shared-secret-of-at-least-32-bytes!";
const nowSec = Math.floor(Date.now() / 1000);

function sign(claims: JWTPayload, key: CryptoKey | Uint8Array, header: { alg: string; kid?: string }) {
  return new SignJWT({ tenant: "acme", scope: "inference models:read", ...claims })
    .setProtectedHeader(header)
    .setIssuer(typeof claims.iss === "string" ? claims.iss : issuer)
    .setAudience(claims.aud ?? audience)
    .setSubject(claims.sub ?? "user-1")
    .setIssuedAt(nowSec)
    .setExpirationTime(typeof claims.exp === "number" ? claims.exp : nowSec + 300)
    .sign(key);
}

const hmac = (claims: JWTPayload = {}) => sign(claims, new TextEncoder().encode(secret), { alg: "HS256" });

async function rejection(promise: Promise<unknown>): Promise<AccessError> {
  const error = await promise.catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(AccessError);
  return error as AccessError;
}

describe("createJwtVerifier with a shared HS256 secret", () => {
  const verifier = createJwtVerifier({ issuer, audience, secret, modelsClaim: "models" });

  it("maps sub, tenant, scopes and models to a principal", async () => {
    const token = await hmac({ scope: "inference jobs unknown-scope", models: ["openai/gpt-4o-mini"] });
    expect(await verifier.verify(token)).toEqual({
      kind: "jwt",
      id: "user-1",
      tenant: "acme",
      scopes: ["inference", "jobs"],
      allowedModels: ["openai/gpt-4o-mini"],
      limits: {},
      // Its `exp`, which bounds the expiry of the keys it may create.
      expiresAt: new Date((nowSec + 300) * 1000),
    });
  });

  it("reads scopes from an array claim too, and gives no models claim every model", async () => {
    const custom = createJwtVerifier({ issuer, audience, secret, scopesClaim: "scp", tenantClaim: "org" });
    const principal = await custom.verify(await hmac({ scp: ["admin", 42], org: "globex" }));
    expect(principal).toMatchObject({ tenant: "globex", scopes: ["admin"], allowedModels: [] });
  });

  it.each([
    ["an expired token", () => hmac({ exp: nowSec - 3600 }), "the token has expired; get a new one"],
    [
      "a wrong audience",
      () => hmac({ aud: "someone-else" }),
      `the token's audience is not accepted (expected "noa")`,
    ],
    [
      "a wrong issuer",
      () => hmac({ iss: "https://evil.test/" }),
      `the token's issuer is not accepted (expected "${issuer}")`,
    ],
    [
      "a wrong signature",
      () => sign({}, new TextEncoder().encode(`${secret}-other`), { alg: "HS256" }),
      "the token's signature is invalid",
    ],
    [
      "a token without a tenant",
      () => hmac({ tenant: undefined }),
      `the token has no "tenant" claim naming the caller's tenant`,
    ],
    ["garbage", async () => "not.a.jwt", "the credential is neither a NOA API key (noa_…) nor a valid JWT"],
  ])("refuses %s as unauthenticated", async (_, token, message) => {
    const error = await rejection(verifier.verify(await token()));
    expect(error.code).toBe("unauthenticated");
    expect(error.message).toBe(message);
  });

  it("refuses an algorithm outside the allow-list (HS512 signed with the right secret)", async () => {
    const token = await sign({}, new TextEncoder().encode(secret), { alg: "HS512" });
    expect((await rejection(verifier.verify(token))).message).toMatch(/signing algorithm is not accepted/);
  });

  it("accepts the HMAC algorithms it is configured for, and only HMAC ones with a secret", async () => {
    const hs384 = createJwtVerifier({ issuer, audience, secret, algorithms: ["HS384"] });
    const token = await sign({}, new TextEncoder().encode(secret), { alg: "HS384" });
    expect((await hs384.verify(token)).id).toBe("user-1");
    expect((await hs384.verify(token)).id).toBe("user-1");
    expect(() => createJwtVerifier({ issuer, audience, secret, algorithms: ["RS256"] })).toThrow(
      /HS256, HS384/,
    );
  });

  it("refuses a token without exp", async () => {
    const token = await new SignJWT({ tenant: "acme" })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject("user-1")
      .sign(new TextEncoder().encode(secret));
    expect((await rejection(verifier.verify(token))).message).toBe('the token has no "exp" claim');
  });

  it("checks expiry against the injected clock", async () => {
    const token = await hmac({ exp: nowSec + 60 });
    const later = createJwtVerifier({ issuer, audience, secret, now: () => (nowSec + 3600) * 1000 });
    expect((await rejection(later.verify(token))).message).toMatch(/expired/);
  });

  it("refuses a secret too short for HS256, and both or neither key source", () => {
    expect(() => createJwtVerifier({ issuer, audience, secret: "short" })).toThrow(/at least 32 bytes/);
    expect(() => createJwtVerifier({ issuer, audience } as never)).toThrow(/jwksUrl or secret/);
    expect(() =>
      createJwtVerifier({ issuer, audience, secret, jwksUrl: "https://x.test/" } as never),
    ).toThrow(/not both/);
    expect(() => createJwtVerifier({ issuer, audience, jwksUrl: "http://id.example.test/jwks" })).toThrow(
      /https/,
    );
  });
});

describe("createJwtVerifier with a JWKS served on loopback", () => {
  let server: Server;
  let jwksUrl: string;
  let privateKey: CryptoKey;
  let fetches = 0;

  beforeAll(async () => {
    const pair = await generateKeyPair("ES256");
    privateKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
    server = createServer((request, response) => {
      fetches++;
      if (request.url !== "/.well-known/jwks.json") {
        response.writeHead(404).end();
        return;
      }
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it("verifies tokens with the issuer's key and fetches the key set once", async () => {
    const verifier = createJwtVerifier({ issuer, audience, jwksUrl });
    const before = fetches;
    for (let i = 0; i < 3; i++) {
      const token = await sign({ sub: `user-${i}` }, privateKey, { alg: "ES256", kid: "k1" });
      expect(await verifier.verify(token)).toMatchObject({ kind: "jwt", id: `user-${i}`, tenant: "acme" });
    }
    expect(fetches - before).toBe(1);
  });

  it("refuses HS256 tokens when keys come from a JWKS (no algorithm confusion)", async () => {
    const verifier = createJwtVerifier({ issuer, audience, jwksUrl });
    const token = await hmac();
    expect((await rejection(verifier.verify(token))).message).toMatch(/signing algorithm is not accepted/);
  });

  it("refuses a token signed by a key the issuer does not publish", async () => {
    const verifier = createJwtVerifier({ issuer, audience, jwksUrl });
    const stranger = await generateKeyPair("ES256");
    const withKid = await sign({}, stranger.privateKey, { alg: "ES256", kid: "k1" });
    expect((await rejection(verifier.verify(withKid))).message).toBe("the token's signature is invalid");
    const otherKid = await sign({}, stranger.privateKey, { alg: "ES256", kid: "k2" });
    expect((await rejection(verifier.verify(otherKid))).message).toMatch(/no key of the issuer's key set/);
  });

  it("reports an unreachable key set as unavailable, not as a bad token", async () => {
    const verifier = createJwtVerifier({
      issuer,
      audience,
      jwksUrl: jwksUrl.replace("jwks.json", "missing"),
    });
    const token = await sign({}, privateKey, { alg: "ES256", kid: "k1" });
    expect((await rejection(verifier.verify(token))).code).toBe("unavailable");
  });
});
