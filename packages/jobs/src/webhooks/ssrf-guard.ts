import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIP } from "node:net";
import { JobError } from "../job-error.js";

/** Which callback targets are allowed besides public https addresses (all off by default). */
export interface CallbackPolicy {
  /** Plain http URLs (NOA_WEBHOOK_ALLOW_HTTP). */
  allowHttp: boolean;
  /** 127.0.0.0/8 and ::1 (NOA_WEBHOOK_ALLOW_LOOPBACK; tests). */
  allowLoopback: boolean;
  /** Private, link-local, carrier-grade NAT and unique-local ranges (NOA_WEBHOOK_ALLOW_PRIVATE). */
  allowPrivate: boolean;
}

/** Resolves a host name to every address it has (node:dns `lookup` with `all`), passed in for tests. */
export type ResolveHost = (host: string) => Promise<string[]>;

const loopback = new BlockList();
loopback.addSubnet("127.0.0.0", 8, "ipv4");
loopback.addAddress("::1", "ipv6");

// Never a webhook target, whatever the policy: "this network", multicast, reserved, broadcast.
const never = new BlockList();
never.addSubnet("0.0.0.0", 8, "ipv4");
never.addSubnet("224.0.0.0", 4, "ipv4");
never.addSubnet("240.0.0.0", 4, "ipv4");
never.addAddress("::", "ipv6");
never.addSubnet("ff00::", 8, "ipv6");
// Teredo tunnels (they reach an IPv4 address hidden in the bits) and the documentation range.
never.addSubnet("2001::", 32, "ipv6");
never.addSubnet("2001:db8::", 32, "ipv6");

const internal = new BlockList();
for (const [network, bits] of [
  ["10.0.0.0", 8],
  ["172.16.0.0", 12],
  ["192.168.0.0", 16],
  // Link-local: cloud metadata endpoints (169.254.169.254) live here.
  ["169.254.0.0", 16],
  ["100.64.0.0", 10],
  ["192.0.0.0", 24],
  ["198.18.0.0", 15],
] as const) {
  internal.addSubnet(network, bits, "ipv4");
}
internal.addSubnet("fc00::", 7, "ipv6");
internal.addSubnet("fe80::", 10, "ipv6");
// Deprecated site-local, and NAT64 for local use (RFC 8215), which translates to any IPv4 address.
internal.addSubnet("fec0::", 10, "ipv6");
internal.addSubnet("64:ff9b:1::", 48, "ipv6");

/** Why `address` may not be called under `policy`, or undefined when it may. */
export function forbiddenReason(address: string, policy: CallbackPolicy): string | undefined {
  let ip = address;
  let family = isIP(ip) === 6 ? ("ipv6" as const) : ("ipv4" as const);
  if (isIP(ip) === 0) return `"${address}" is not an IP address`;
  // An IPv6 address that carries an IPv4 one (mapped, compatible, NAT64, 6to4) is checked as that address.
  const embedded =
    family === "ipv6" && !never.check(ip, family) && !loopback.check(ip, family) && embeddedIpv4(ip);
  if (embedded) {
    ip = embedded;
    family = "ipv4";
  }
  if (never.check(ip, family)) return `${address} is not a routable unicast address`;
  if (loopback.check(ip, family))
    return policy.allowLoopback ? undefined : `${address} is a loopback address`;
  if (internal.check(ip, family)) {
    return policy.allowPrivate ? undefined : `${address} is in a private or link-local range`;
  }
  return undefined;
}

/**
 * The IPv4 address inside an IPv6 one that reaches it: IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
 * `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d` (RFC 6052) and 6to4 `2002:AABB:CCDD::` (RFC 3056); else undefined.
 */
function embeddedIpv4(address: string): string | undefined {
  const bytes = ipv6Bytes(address);
  const zero = (from: number, to: number) => bytes.slice(from, to).every((byte) => byte === 0);
  const ipv4At = (offset: number) => bytes.slice(offset, offset + 4).join(".");
  if (zero(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff) return ipv4At(12);
  if (zero(0, 12)) return ipv4At(12);
  if (bytes[0] === 0 && bytes[1] === 0x64 && bytes[2] === 0xff && bytes[3] === 0x9b && zero(4, 12))
    return ipv4At(12);
  if (bytes[0] === 0x20 && bytes[1] === 0x02) return ipv4At(2);
  return undefined;
}

/** The 16 bytes of a valid IPv6 address (`::` compression and a dotted IPv4 tail included). */
function ipv6Bytes(address: string): number[] {
  let text = address.replace(/%.*$/, "");
  const tail = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (tail) {
    const [a, b, c, d] = tail.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, tail.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", rest] = text.split("::");
  const groups = (part: string | undefined) =>
    part ? part.split(":").map((group) => Number.parseInt(group, 16)) : [];
  const left = groups(head);
  const right = groups(rest);
  const all =
    rest === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill(0), ...right];
  return all.flatMap((group) => [group >> 8, group & 0xff]);
}

/** node:dns lookup of every address of a host. */
export const resolveWithDns: ResolveHost = (host) =>
  new Promise((resolve, reject) => {
    dnsLookup(host, { all: true, verbatim: true }, (error, addresses: LookupAddress[]) => {
      if (error) reject(error);
      else resolve(addresses.map((entry) => entry.address));
    });
  });

/**
 * Checks a callback URL before it is accepted: an absolute https URL (http only when allowed), no
 * credentials in it, and a host whose every address is allowed by the policy. The host is resolved,
 * not just read, so a name pointing at 127.0.0.1 or 169.254.169.254 is refused too (and the delivery
 * checks again at connect time, so a name that changes its answer later is refused then).
 */
export async function checkCallbackUrl(
  raw: string,
  policy: CallbackPolicy,
  resolve: ResolveHost = resolveWithDns,
): Promise<URL> {
  const refuse = (why: string) =>
    new JobError("invalid-argument", `callback_url ${why}`, { field: "callback_url" });
  if (raw.length > 2048) throw refuse("is longer than 2048 characters");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse(`must be an absolute URL such as https://example.com/hooks/noa (got "${raw.slice(0, 80)}")`);
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && policy.allowHttp)) {
    throw refuse(`must use https${policy.allowHttp ? " or http" : ""} (got ${url.protocol.slice(0, -1)})`);
  }
  if (url.username !== "" || url.password !== "") throw refuse("must not carry credentials");
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  let addresses: string[];
  try {
    addresses = isIP(host) === 0 ? await resolve(host) : [host];
  } catch (error) {
    throw new JobError("invalid-argument", `callback_url host "${host}" does not resolve`, {
      field: "callback_url",
      cause: error,
    });
  }
  if (addresses.length === 0) throw refuse(`host "${host}" has no address`);
  for (const address of addresses) {
    const reason = forbiddenReason(address, policy);
    if (reason)
      throw refuse(`is refused: ${host === address ? "" : `${host} resolves to ${address}; `}${reason}`);
  }
  return url;
}

/**
 * A `lookup` for node:http(s) requests that refuses forbidden addresses at connect time, so the address
 * connected to is the address checked (no DNS rebinding between check and use).
 */
export function guardedLookup(policy: CallbackPolicy) {
  return (
    hostname: string,
    options: { all?: boolean },
    callback: (error: Error | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, []);
      for (const entry of addresses) {
        const reason = forbiddenReason(entry.address, policy);
        if (reason) {
          return callback(new Error(`refused: ${hostname} resolves to ${entry.address}; ${reason}`), []);
        }
      }
      const first = addresses[0];
      if (!first) return callback(new Error(`${hostname} has no address`), []);
      if (options.all) return callback(null, addresses);
      callback(null, first.address, first.family);
    });
  };
}
