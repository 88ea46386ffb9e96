import { webcrypto } from "node:crypto";
import {
  type CryptoKey,
  createRemoteJWKSet,
  errors,
  type JWSAlgorithm,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from "jose";
import { AccessError } from "./access-error.js";
import { allScopes, type Principal, type Scope } from "./principal.js";

/** Where the verification keys come from: an identity provider's JWKS, or one shared HS256 secret. */
export type JwtKeySource =
  | { jwksUrl: string | URL; secret?: undefined }
  | { secret: string | Uint8Array; jwksUrl?: undefined };

/** Options of {@link createJwtVerifier}; claim names default to `tenant` and `scope`. */
export type JwtVerifierOptions = JwtKeySource & {
  /** Required `iss`. */
  issuer: string;
  /** Required `aud` (one of them, when several). */
  audience: string | readonly string[];
  /** Claim holding the caller's tenant (required in every token). */
  tenantClaim?: string;
  /** Claim holding scopes: a space-separated string (RFC 8693 `scope`) or an array. */
  scopesClaim?: string;
  /** Claim holding the allowed models (string or array); without it tokens may use every model. */
  modelsClaim?: string;
  /** Accepted `alg` values; default `HS256` with a secret, RS256/PS256/ES256/EdDSA with a JWKS. */
  algorithms?: readonly JWSAlgorithm[];
  /** Leeway for `exp` and `nbf`, in seconds (default 5). */
  clockToleranceSec?: number;
  /** Clock for `exp`/`nbf` checks (epoch ms). */
  now?: () => number;
};

/** Turns a bearer JWT into a {@link Principal}; failures are `unauthenticated` {@link AccessError}s. */
export interface JwtVerifier {
  verify(token: string): Promise<Principal>;
}

const hmacAlgorithms = new Map<string, string>([
  ["HS256", "SHA-256"],
  ["HS384", "SHA-384"],
  ["HS512", "SHA-512"],
]);
const asymmetricAlgorithms: JWSAlgorithm[] = ["RS256", "PS256", "ES256", "EdDSA", "Ed25519"];
// RFC 7518 §3.2: an HS256 key must be at least as long as the hash output.
const minSecretBytes = 32;

/**
 * Verifies JWTs with jose (signature, `alg` allow-list, `iss`, `aud`, `exp` required, `nbf`) and maps the
 * claims to a Principal: `id` is `sub`, unknown scopes are ignored, the tenant claim is required.
 */
export function createJwtVerifier(options: JwtVerifierOptions): JwtVerifier {
  const tenantClaim = options.tenantClaim ?? "tenant";
  const scopesClaim = options.scopesClaim ?? "scope";
  const { modelsClaim, issuer, now } = options;
  const audience = typeof options.audience === "string" ? options.audience : [...options.audience];
  const algorithms = [
    ...(options.algorithms ?? (options.secret === undefined ? asymmetricAlgorithms : ["HS256"])),
  ];
  const key = resolveKey(options, algorithms);
  const clockTolerance = options.clockToleranceSec ?? 5;

  return {
    async verify(token) {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, key, {
          issuer,
          audience,
          algorithms,
          requiredClaims: ["sub", "exp"],
          clockTolerance,
          currentDate: now ? new Date(now()) : undefined,
        }));
      } catch (error) {
        throw toAccessError(error, { issuer, audience, algorithms });
      }
      const tenant = payload[tenantClaim];
      if (typeof tenant !== "string" || !tenant) {
        throw new AccessError(
          "unauthenticated",
          `the token has no "${tenantClaim}" claim naming the caller's tenant`,
        );
      }
      if (typeof payload.sub !== "string" || !payload.sub) {
        throw new AccessError("unauthenticated", 'the token\'s "sub" claim must be a non-empty string');
      }
      const scopes = readList(payload[scopesClaim]).filter((scope): scope is Scope =>
        (allScopes as readonly string[]).includes(scope),
      );
      return {
        kind: "jwt",
        id: payload.sub,
        tenant,
        scopes: [...new Set(scopes)],
        allowedModels: modelsClaim === undefined ? [] : [...new Set(readList(payload[modelsClaim]))],
        limits: {},
        // Required above: bounds the expiry of the keys the token may create.
        ...(payload.exp !== undefined && { expiresAt: new Date(payload.exp * 1000) }),
      };
    },
  };
}

function resolveKey(options: JwtKeySource, algorithms: readonly string[]): JWTVerifyGetKey {
  if (options.secret !== undefined && options.jwksUrl !== undefined) {
    throw new TypeError("give the JWT verifier either jwksUrl or secret, not both");
  }
  if (options.secret !== undefined) {
    const secret =
      typeof options.secret === "string" ? new TextEncoder().encode(options.secret) : options.secret;
    if (secret.byteLength < minSecretBytes) {
      throw new TypeError(`the JWT secret must be at least ${minSecretBytes} bytes for HS256`);
    }
    if (algorithms.some((alg) => !hmacAlgorithms.has(alg))) {
      throw new TypeError("with a shared secret the JWT algorithms must be HS256, HS384 or HS512");
    }
    // jose imports a Uint8Array secret into WebCrypto on every verify (about half of its cost): import once per alg.
    const imported = new Map<string, Promise<CryptoKey>>();
    const getKey: JWTVerifyGetKey = ({ alg }) => {
      let key = imported.get(alg);
      if (key === undefined) {
        key = webcrypto.subtle.importKey(
          "raw",
          secret,
          { name: "HMAC", hash: hmacAlgorithms.get(alg) ?? "" },
          false,
          ["verify"],
        ) as Promise<CryptoKey>;
        imported.set(alg, key);
      }
      return key;
    };
    return getKey;
  }
  if (options.jwksUrl === undefined) throw new TypeError("the JWT verifier needs jwksUrl or secret");
  const url = new URL(options.jwksUrl);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopback(url.hostname))) {
    throw new TypeError("jwksUrl must use https (plain http is accepted only on loopback)");
  }
  const keySet = createRemoteJWKSet(url);
  const getKey: JWTVerifyGetKey = async (header, token) => {
    try {
      return await keySet(header, token);
    } catch (error) {
      if (error instanceof errors.JOSEError) throw error;
      // fetch itself failed (connection refused, DNS): the caller's token may be fine.
      throw unavailable(error);
    }
  };
  return getKey;
}

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || hostname.startsWith("127.");
}

function readList(value: unknown): string[] {
  if (typeof value === "string") return value.split(/\s+/).filter(Boolean);
  if (Array.isArray(value))
    return value.filter((item): item is string => typeof item === "string" && item !== "");
  return [];
}

function toAccessError(
  error: unknown,
  expected: { issuer: string; audience: string | string[]; algorithms: string[] },
): unknown {
  if (!(error instanceof errors.JOSEError)) return error;
  const fail = (message: string) => new AccessError("unauthenticated", message, { cause: error });
  switch (error.code) {
    case "ERR_JWT_EXPIRED":
      return fail("the token has expired; get a new one");
    case "ERR_JWT_CLAIM_VALIDATION_FAILED": {
      const { claim, reason } = error as errors.JWTClaimValidationFailed;
      if (reason === "missing") return fail(`the token has no "${claim}" claim`);
      if (claim === "iss") return fail(`the token's issuer is not accepted (expected "${expected.issuer}")`);
      if (claim === "aud")
        return fail(`the token's audience is not accepted (expected ${quote(expected.audience)})`);
      if (claim === "nbf") return fail("the token is not valid yet");
      return fail(`the token's "${claim}" claim is invalid`);
    }
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return fail("the token's signature is invalid");
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return fail(
        `the token's signing algorithm is not accepted (accepted: ${expected.algorithms.join(", ")})`,
      );
    case "ERR_JWKS_NO_MATCHING_KEY":
      return fail("no key of the issuer's key set matches the token (check its kid)");
    case "ERR_JWKS_MULTIPLE_MATCHING_KEYS":
      return fail("several keys of the issuer's key set match the token; send a token with a kid");
    case "ERR_JWKS_TIMEOUT":
    case "ERR_JWKS_INVALID":
    case "ERR_JOSE_GENERIC":
      return unavailable(error);
    default:
      return fail("the credential is neither a NOA API key (noa_…) nor a valid JWT");
  }
}

function unavailable(cause: unknown): AccessError {
  return new AccessError("unavailable", "the identity provider's keys could not be loaded; try again later", {
    cause,
  });
}

function quote(audience: string | string[]): string {
  return (typeof audience === "string" ? [audience] : audience).map((value) => `"${value}"`).join(" or ");
}
