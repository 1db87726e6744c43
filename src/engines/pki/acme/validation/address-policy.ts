/**
 * Where the validator may connect. The identifier, and so the address, is chosen by whoever places an
 * order: without this, ACME would be a request forger into the server's own network (loopback services,
 * cloud metadata at 169.254.169.254, private ranges). Refused unless config/acme
 * `allowed_validation_networks` lists a network that contains the address.
 */
import { BlockList, isIP } from "node:net";

/** Special-purpose ranges (RFC 6890 and its IPv6 counterpart) the validator never reaches by default. */
const FORBIDDEN_V4 = [
  ["0.0.0.0", 8], // "this" network
  ["10.0.0.0", 8], // private
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local, cloud metadata (169.254.169.254)
  ["172.16.0.0", 12], // private
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.168.0.0", 16], // private
  ["198.18.0.0", 15], // benchmarking
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
] as const;
const FORBIDDEN_V6 = [
  ["::", 96], // unspecified, loopback (::1), IPv4-compatible
  ["64:ff9b:1::", 48], // local-use NAT64
  ["fc00::", 7], // unique local (includes AWS metadata fd00:ec2::254)
  ["fe80::", 10], // link-local
  ["ff00::", 8], // multicast
] as const;

const forbidden = new BlockList();
for (const [a, n] of FORBIDDEN_V4) forbidden.addSubnet(a, n, "ipv4");
for (const [a, n] of FORBIDDEN_V6) forbidden.addSubnet(a, n, "ipv6");

export class AddressPolicy {
  private readonly allowed = new BlockList();

  /** `allowed`: CIDRs (config/acme allowed_validation_networks), already checked when configured. */
  constructor(allowed: readonly string[]) {
    for (const cidr of allowed) {
      const [addr, bits] = cidr.split("/");
      const family = isIP(addr);
      if (family !== 0) this.allowed.addSubnet(addr, Number(bits), family === 4 ? "ipv4" : "ipv6");
    }
  }

  /** True when the validator may connect to `address` (an IP literal). */
  permits(address: string): boolean {
    const v4 = mappedV4(address);
    const family = v4 !== undefined ? 4 : isIP(address);
    if (family === 0) return false;
    const a = v4 ?? address;
    const type = family === 4 ? "ipv4" : "ipv6";
    if (this.allowed.check(a, type)) return true;
    return !forbidden.check(a, type);
  }
}

/**
 * The IPv4 address an IPv6 address stands for: IPv4-mapped (::ffff:a.b.c.d) connects to that IPv4 host, and
 * the NAT64 well-known prefix (64:ff9b::/96, RFC 6052) is translated to it by the network's gateway.
 */
function mappedV4(address: string): string | undefined {
  const m = /^(?:::ffff|64:ff9b:):(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (m) return m[1];
  const hex = /^(?:::ffff|64:ff9b:):([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (!hex) return undefined;
  const hi = parseInt(hex[1], 16);
  const lo = parseInt(hex[2], 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}
