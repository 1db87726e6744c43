/**
 * The outbound guard: where a caller may make this server connect. A caller-supplied address (a HYOK Transit
 * keystore's `address`) must not turn Arca into a request forger against its own network, so by default only
 * https to public unicast addresses is allowed: plain http, loopback, private (RFC 1918, ULA fc00::/7),
 * link-local (169.254/16 with the cloud metadata address, fe80::/10), CGNAT, multicast, documentation and
 * reserved ranges, and IPv6 forms that embed an IPv4 address (mapped, NAT64, 6to4, Teredo) are refused.
 * The operator widens this in the server config (`keychain { allow_insecure_transit, allowed_keystore_networks }`).
 *
 * The check is on the *resolved* addresses, every one of them, and the connection goes to the address that
 * was checked (connectTarget pins it), so a name that resolves to a private address, or resolves once to a
 * public and then to a private one (DNS rebinding), is refused. Callers must not follow redirects.
 */
import { lookup as dnsLookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";
import { ArcaError } from "./errors.js";

export interface OutboundPolicy {
  /** Plain http:// may be used (lab and test setups). */
  allowHttp: boolean;
  /** CIDR blocks that may be reached although they are in a refused range (e.g. the customer's VPN). */
  allowedNetworks: readonly string[];
}

export const STRICT_OUTBOUND: OutboundPolicy = { allowHttp: false, allowedNetworks: [] };

/** Resolves a host name to all its addresses (dns.lookup with all: true; injectable for tests). */
export type Resolver = (host: string) => Promise<Array<{ address: string; family: number }>>;

const systemResolver: Resolver = (host) => dnsLookup(host, { all: true, verbatim: true });

const REFUSED_V4 = [
  ["0.0.0.0", 8], // "this network"
  ["10.0.0.0", 8],
  ["100.64.0.0", 10], // CGNAT (also Alibaba's metadata 100.100.100.200)
  ["127.0.0.0", 8],
  ["169.254.0.0", 16], // link-local, cloud metadata 169.254.169.254
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.88.99.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
] as const;

const REFUSED_V6 = [
  ["::", 128],
  ["::1", 128],
  ["::ffff:0:0", 96], // IPv4-mapped
  ["::", 96], // IPv4-compatible (deprecated)
  ["64:ff9b::", 96], // NAT64
  ["64:ff9b:1::", 48],
  ["100::", 64], // discard
  ["2001::", 32], // Teredo
  ["2001:db8::", 32], // documentation
  ["2002::", 16], // 6to4
  ["fc00::", 7], // unique local, incl. fd00::/8 and AWS's fd00:ec2::254
  ["fe80::", 10], // link-local
  ["fec0::", 10], // site-local (deprecated)
  ["ff00::", 8], // multicast
] as const;

// Two lists: a BlockList matches IPv4 addresses against IPv6 rules as IPv4-mapped, so ::ffff:0:0/96 (refused
// as an IPv6 form) would refuse every IPv4 address.
const refusedV4 = new BlockList();
const refusedV6 = new BlockList();
for (const [a, p] of REFUSED_V4) refusedV4.addSubnet(a, p, "ipv4");
for (const [a, p] of REFUSED_V6) refusedV6.addSubnet(a, p, "ipv6");

function allowList(networks: readonly string[]): BlockList {
  const list = new BlockList();
  for (const n of networks) {
    const [addr, prefixText] = n.split("/");
    const family = isIP(addr);
    if (family === 0) throw new Error(`allowed network ${n} is not an address or CIDR block`);
    const prefix = prefixText === undefined ? (family === 4 ? 32 : 128) : Number(prefixText);
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) throw new Error(`allowed network ${n} has a bad prefix`);
    list.addSubnet(addr, prefix, family === 4 ? "ipv4" : "ipv6");
  }
  return list;
}

const allowLists = new WeakMap<readonly string[], BlockList>();

/** Checks the operator's networks (config load calls it, so a typo is a start-up error). */
export function parseAllowedNetworks(networks: readonly string[]): BlockList {
  let list = allowLists.get(networks);
  if (!list) {
    list = allowList(networks);
    allowLists.set(networks, list);
  }
  return list;
}

/**
 * How an IPv6 address that stands for an IPv4 host (IPv4-mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96) is
 * judged: "refuse" refuses every such form (it is in the refused ranges); "embedded" judges the IPv4 address
 * it stands for, against both the allowed networks and the refused ranges (the ACME validator: a public
 * host's mapped form is reachable, a private one's is not).
 */
export type EmbeddedV4Rule = "refuse" | "embedded";

/**
 * The one classifier of outbound addresses (keychain HYOK and the ACME validator): the reason a literal
 * address is refused, undefined when it may be reached. `allowed` opens ranges the operator listed.
 */
export function addressRefusal(address: string, allowed: BlockList | undefined, embedded: EmbeddedV4Rule): string | undefined {
  const v4 = embedded === "embedded" ? embeddedV4(address) : undefined;
  const family = v4 !== undefined ? 4 : isIP(address);
  if (family === 0) return "is not an IP address";
  const a = v4 ?? address;
  const type = family === 4 ? "ipv4" : "ipv6";
  if (allowed?.check(a, type)) return undefined;
  if ((family === 4 ? refusedV4 : refusedV6).check(a, type)) return "is a loopback, private, link-local or reserved address";
  return undefined;
}

/**
 * The IPv4 address an IPv6 address stands for: IPv4-mapped (::ffff:a.b.c.d) connects to that IPv4 host, and
 * the NAT64 well-known prefix (64:ff9b::/96, RFC 6052) is translated to it by the network's gateway.
 */
function embeddedV4(address: string): string | undefined {
  const m = /^(?:::ffff|64:ff9b:):(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (m) return m[1];
  const hex = /^(?:::ffff|64:ff9b:):([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (!hex) return undefined;
  const hi = parseInt(hex[1], 16);
  const lo = parseInt(hex[2], 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** Checks one literal address against the policy; the reason when it is refused. */
export function refusalOf(address: string, policy: OutboundPolicy): string | undefined {
  const allowed = policy.allowedNetworks.length > 0 ? parseAllowedNetworks(policy.allowedNetworks) : undefined;
  return addressRefusal(address, allowed, "refuse");
}

const bad = (msg: string): ArcaError => new ArcaError("invalid_request", msg);

/** Parses and checks an address a caller gave (scheme, no credentials); throws a 400 with the reason. */
export function checkOutboundUrl(raw: unknown, field: string, policy: OutboundPolicy): URL {
  if (typeof raw !== "string" || raw === "") throw bad(`${field} is required`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw bad(`${field} is not a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw bad(`${field} must be an https:// URL`);
  if (url.protocol === "http:" && !policy.allowHttp) throw bad(`${field} must be https:// (plain http is not allowed by this server's configuration)`);
  if (url.username || url.password) throw bad(`${field} must not carry credentials`);
  if (url.search || url.hash) throw bad(`${field} must not have a query or fragment`);
  return url;
}

export interface CheckedAddress {
  address: string;
  family: 4 | 6;
}

/**
 * Where to connect: the host's checked addresses (all of them, in the resolver's order; a client may try each).
 * Throws a 400 when any resolved address is refused.
 */
export async function connectTargets(url: URL, field: string, policy: OutboundPolicy, resolve: Resolver = systemResolver): Promise<CheckedAddress[]> {
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  let addresses: Array<{ address: string; family: number }>;
  if (isIP(host) !== 0) {
    addresses = [{ address: host, family: isIP(host) }];
  } else {
    try {
      addresses = await resolve(host);
    } catch {
      throw bad(`${field}: the host name does not resolve`);
    }
  }
  if (addresses.length === 0) throw bad(`${field}: the host name does not resolve`);
  // Every address must pass: a client library may pick any of them, and a mixed answer is a rebinding sign.
  for (const a of addresses) {
    const why = refusalOf(a.address, policy);
    if (why) throw bad(`${field} resolves to ${a.address}, which ${why} (not allowed by this server's configuration)`);
  }
  return addresses.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
}

/** The first checked address (connectTargets' rules). */
export async function connectTarget(url: URL, field: string, policy: OutboundPolicy, resolve: Resolver = systemResolver): Promise<CheckedAddress> {
  return (await connectTargets(url, field, policy, resolve))[0];
}
