import { hash, randomBytes } from "node:crypto";

/** A freshly made API key: `key` is shown to its owner once; only `prefix` and `hash` are stored. */
export interface GeneratedApiKey {
  /** `noa_<public id>_<secret>`, the whole credential. */
  key: string;
  /** `noa_<public id>`: public, unique, the handle the key's record is found by. */
  prefix: string;
  /** Hex SHA-256 of the whole key (see {@link hashApiKey}). */
  hash: string;
}

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const publicIdLength = 10;
// 43 base62 characters carry 256 bits, the same as the SHA-256 that stores them.
const secretLength = 43;
// Anything between 32 and 128 secret characters is accepted, so a later change of length keeps old keys working.
const keyPattern = /^(noa_[0-9A-Za-z]{10})_[0-9A-Za-z]{32,128}$/;

/**
 * Makes a key `noa_<10 base62 chars>_<43 base62 chars>` from `crypto.randomBytes`: alphanumeric only, so it
 * survives double-click selection, URLs and shells, and the `noa_` prefix lets secret scanners recognise it.
 */
export function generateApiKey(): GeneratedApiKey {
  const prefix = `noa_${randomBase62(publicIdLength)}`;
  const key = `${prefix}_${randomBase62(secretLength)}`;
  return { key, prefix, hash: hashApiKey(key) };
}

/**
 * Hex SHA-256 of the whole key. No pepper and no slow hash: the secret has 256 random bits, so a leaked
 * hash cannot be searched back to a key, and every component that checks keys needs nothing but the key.
 */
export function hashApiKey(key: string): string {
  // One-shot (the key's UTF-8 bytes): no Hash object per call, on every authenticated request's path.
  return hash("sha256", key, "hex");
}

/** The prefix of a well-formed NOA key, or undefined for anything else (e.g. a JWT). Checks the shape only. */
export function parseApiKey(text: string): { prefix: string } | undefined {
  const match = keyPattern.exec(text);
  return match?.[1] === undefined ? undefined : { prefix: match[1] };
}

function randomBase62(length: number): string {
  let out = "";
  while (out.length < length) {
    for (const byte of randomBytes(length + 8)) {
      // 248 = 4 * 62: rejecting the top 8 byte values keeps every character equally likely.
      if (byte >= 248) continue;
      out += alphabet.charAt(byte % 62);
      if (out.length === length) break;
    }
  }
  return out;
}
