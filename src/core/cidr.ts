/**
 * IP addresses and CIDR blocks, for bound CIDRs on tokens, AppRole secret IDs and roles (OpenBao's
 * cidrutil/parseutil semantics). IPv4 clients on a dual-stack socket are compared as IPv4.
 */
import { BlockList, isIP } from "node:net";
import { ArcaError } from "../common/errors.js";

const badRequest = (msg: string): ArcaError => new ArcaError("invalid_request", msg);


interface Cidr {
  address: string;
  prefix: number;
  family: "ipv4" | "ipv6";
}

/** Strips the IPv4-mapped IPv6 form Node reports for IPv4 clients on a dual-stack socket. */
export function normaliseAddress(addr: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
  return m ? m[1] : addr;
}

function parseCidr(raw: string, allowBareAddress: boolean): Cidr | undefined {
  const s = raw.trim();
  const slash = s.indexOf("/");
  const address = normaliseAddress(slash === -1 ? s : s.slice(0, slash));
  const v = isIP(address);
  if (v === 0) return undefined;
  const max = v === 4 ? 32 : 128;
  if (slash === -1) return allowBareAddress ? { address, prefix: max, family: v === 4 ? "ipv4" : "ipv6" } : undefined;
  const prefixText = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > max) return undefined;
  return { address, prefix, family: v === 4 ? "ipv4" : "ipv6" };
}

/** cidrutil.ValidateCIDRListSlice: every entry is a CIDR block. */
export function validateCidrList(list: readonly string[]): boolean {
  return list.every((c) => parseCidr(c, false) !== undefined);
}

/** parseutil.ParseAddrs: IP addresses or CIDR blocks (token_bound_cidrs). */
export function parseAddrs(list: readonly string[], field: string): string[] {
  for (const c of list) {
    if (!parseCidr(c, true)) throw badRequest(`error parsing ${field}: invalid address or CIDR block ${JSON.stringify(c.slice(0, 64))}`);
  }
  return list.map((c) => c.trim());
}

function blockListOf(cidrs: readonly Cidr[]): BlockList {
  const bl = new BlockList();
  for (const c of cidrs) bl.addSubnet(c.address, c.prefix, c.family);
  return bl;
}

/** True when `remote` lies in one of `cidrs` (IP addresses count as /32 or /128). */
export function addressInCidrs(remote: string, cidrs: readonly string[]): boolean {
  const addr = normaliseAddress(remote);
  const v = isIP(addr);
  if (v === 0) return false;
  const parsed = cidrs.map((c) => parseCidr(c, true)).filter((c): c is Cidr => c !== undefined);
  return blockListOf(parsed).check(addr, v === 4 ? "ipv4" : "ipv6");
}

/** cidrutil.SubsetBlocks: every block of `inner` lies inside some block of `outer` (empty outer: anything). */
export function cidrsAreSubset(outer: readonly string[], inner: readonly string[]): boolean {
  if (outer.length === 0 || inner.length === 0) return true;
  const outerParsed = outer.map((c) => parseCidr(c, true)).filter((c): c is Cidr => c !== undefined);
  return inner.every((raw) => {
    const c = parseCidr(raw, true);
    if (!c) return false;
    return outerParsed.some((o) => o.family === c.family && o.prefix <= c.prefix && blockListOf([o]).check(c.address, c.family));
  });
}
