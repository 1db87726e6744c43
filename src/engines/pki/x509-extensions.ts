/**
 * X.509 v3 extensions: their OIDs and the encoders the CA uses to write them (RFC 5280 §4.2), plus the
 * GeneralNames reader that certificate and CSR parsing share. Encoded with der.ts; x509.ts re-exports
 * all of it, so callers keep one import.
 */
import { createHash } from "node:crypto";
import { isIP } from "node:net";
import { invalidRequest } from "../../common/errors.js";
import * as der from "./der.js";

export const EXT = {
  subjectKeyId: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  crlNumber: "2.5.29.20",
  nameConstraints: "2.5.29.30",
  crlDistributionPoints: "2.5.29.31",
  certificatePolicies: "2.5.29.32",
  deltaCrlIndicator: "2.5.29.27",
  freshestCrl: "2.5.29.46",
  authorityKeyId: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  authorityInfoAccess: "1.3.6.1.5.5.7.1.1",
  extensionRequest: "1.2.840.113549.1.9.14",
} as const;

export const EKU: Record<string, string> = {
  ServerAuth: "1.3.6.1.5.5.7.3.1",
  ClientAuth: "1.3.6.1.5.5.7.3.2",
  CodeSigning: "1.3.6.1.5.5.7.3.3",
  EmailProtection: "1.3.6.1.5.5.7.3.4",
  TimeStamping: "1.3.6.1.5.5.7.3.8",
  OCSPSigning: "1.3.6.1.5.5.7.3.9",
  Any: "2.5.29.37.0",
};

/** RFC 5280 KeyUsage bit numbers, by OpenBao's names (case-insensitive on input). */
export const KEY_USAGE_BITS: Record<string, number> = {
  digitalsignature: 0,
  contentcommitment: 1,
  keyencipherment: 2,
  dataencipherment: 3,
  keyagreement: 4,
  certsign: 5,
  crlsign: 6,
  encipheronly: 7,
  decipheronly: 8,
};

export function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? der.seq(der.oid(id), der.bool(true), der.octets(value)) : der.seq(der.oid(id), der.octets(value));
}

export function basicConstraints(ca: boolean, pathLen?: number): Buffer {
  const body: Buffer[] = [];
  if (ca) body.push(der.bool(true));
  if (ca && pathLen !== undefined && pathLen >= 0) body.push(der.int(pathLen));
  return extension(EXT.basicConstraints, true, der.seq(...body));
}

export function keyUsage(bits: number[]): Buffer {
  if (bits.length === 0) throw new RangeError("key usage needs at least one bit");
  const max = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(max / 8) + 1);
  for (const b of bits) bytes[b >> 3] |= 0x80 >> (b & 7);
  // DER named bit lists drop trailing zero bits (X.690 §11.2.2).
  const unused = 7 - (max & 7);
  return extension(EXT.keyUsage, true, der.bitString(bytes, unused));
}

export function extKeyUsage(oids: string[]): Buffer {
  return extension(EXT.extKeyUsage, false, der.seq(...oids.map((o) => der.oid(o))));
}

export interface AltNames {
  dns: string[];
  email: string[];
  ip: string[];
  uri: string[];
}

export function emptyAltNames(): AltNames {
  return { dns: [], email: [], ip: [], uri: [] };
}

export function ipBytes(ip: string): Buffer {
  const v = isIP(ip);
  if (v === 4) return Buffer.from(ip.split(".").map(Number));
  if (v === 6) {
    const [head, tail] = ip.includes("::") ? ip.split("::") : [ip, undefined];
    const h = head ? head.split(":") : [];
    const t = tail ? tail.split(":") : [];
    // An embedded IPv4 tail ("::ffff:1.2.3.4") becomes two groups.
    const expand = (groups: string[]): string[] =>
      groups.flatMap((g) => (g.includes(".") ? ((b) => [((b[0] << 8) | b[1]).toString(16), ((b[2] << 8) | b[3]).toString(16)])(ipBytes(g)) : [g]));
    const hh = expand(h);
    const tt = expand(t);
    const groups = tail === undefined ? hh : [...hh, ...Array<string>(8 - hh.length - tt.length).fill("0"), ...tt];
    const out = Buffer.alloc(16);
    groups.forEach((g, i) => out.writeUInt16BE(parseInt(g || "0", 16), i * 2));
    return out;
  }
  throw invalidRequest(`invalid IP address "${ip}"`);
}

function ipString(b: Buffer): string {
  if (b.length === 4) return [...b].join(".");
  if (b.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
    return groups.join(":").replace(/(^|:)0(:0)+(:|$)/, "::").replace(/:::+/, "::");
  }
  return b.toString("hex");
}

export function generalNames(n: AltNames): Buffer {
  return der.seq(
    ...n.email.map((e) => der.implicit(1, Buffer.from(e, "latin1"))),
    ...n.dns.map((d) => der.implicit(2, Buffer.from(d, "latin1"))),
    ...n.uri.map((u) => der.implicit(6, Buffer.from(u, "latin1"))),
    ...n.ip.map((ip) => der.implicit(7, ipBytes(ip))),
  );
}

export function subjectAltName(n: AltNames, critical = false): Buffer | undefined {
  if (n.dns.length + n.email.length + n.ip.length + n.uri.length === 0) return undefined;
  return extension(EXT.subjectAltName, critical, generalNames(n));
}

export function parseGeneralNames(value: Buffer): AltNames & { other: number } {
  const out = { ...emptyAltNames(), other: 0 };
  for (const g of der.children(der.expect(der.readAll(value), der.TAG.SEQUENCE, "GeneralNames"))) {
    const c = der.content(g);
    switch (g.tag) {
      case 0x81:
        out.email.push(c.toString("latin1"));
        break;
      case 0x82:
        out.dns.push(c.toString("latin1"));
        break;
      case 0x86:
        out.uri.push(c.toString("latin1"));
        break;
      case 0x87:
        out.ip.push(ipString(c));
        break;
      default:
        out.other++;
    }
  }
  return out;
}

export function subjectKeyIdentifier(ski: Buffer): Buffer {
  return extension(EXT.subjectKeyId, false, der.octets(ski));
}

export function authorityKeyIdentifier(ski: Buffer): Buffer {
  return extension(EXT.authorityKeyId, false, der.seq(der.implicit(0, ski)));
}

export function authorityInfoAccess(ocsp: string[], issuing: string[]): Buffer | undefined {
  if (ocsp.length + issuing.length === 0) return undefined;
  const desc = (method: string, uri: string): Buffer => der.seq(der.oid(method), der.implicit(6, Buffer.from(uri, "latin1")));
  return extension(
    EXT.authorityInfoAccess,
    false,
    der.seq(...ocsp.map((u) => desc("1.3.6.1.5.5.7.48.1", u)), ...issuing.map((u) => desc("1.3.6.1.5.5.7.48.2", u))),
  );
}

function distributionPoints(uris: string[]): Buffer {
  // DistributionPoint { distributionPoint [0] { fullName [0] GeneralNames } } — both tags constructed.
  return der.seq(...uris.map((u) => der.seq(der.tlv(0xa0, der.tlv(0xa0, der.implicit(6, Buffer.from(u, "latin1")))))));
}

export function crlDistributionPoints(uris: string[]): Buffer | undefined {
  if (uris.length === 0) return undefined;
  return extension(EXT.crlDistributionPoints, false, distributionPoints(uris));
}

/** Freshest CRL (RFC 5280 §5.2.6): where the delta CRLs for this (base) CRL are published. */
export function freshestCrl(uris: string[]): Buffer | undefined {
  if (uris.length === 0) return undefined;
  return extension(EXT.freshestCrl, false, distributionPoints(uris));
}

/** Delta CRL Indicator (RFC 5280 §5.2.4): critical, carries the CRL number of the base CRL. */
export function deltaCrlIndicator(baseCrlNumber: number): Buffer {
  return extension(EXT.deltaCrlIndicator, true, der.int(baseCrlNumber));
}

const QUALIFIER = { cps: "1.3.6.1.5.5.7.2.1", unotice: "1.3.6.1.5.5.7.2.2" } as const;

/** Certificate Policies (RFC 5280 §4.2.1.4), non-critical; optional CPS URI and user-notice qualifiers. */
export function certificatePolicies(entries: Array<{ oid: string; cps?: string; notice?: string }>): Buffer | undefined {
  if (entries.length === 0) return undefined;
  const infos = entries.map((e) => {
    const qualifiers: Buffer[] = [];
    if (e.cps) qualifiers.push(der.seq(der.oid(QUALIFIER.cps), der.ia5(e.cps)));
    if (e.notice) qualifiers.push(der.seq(der.oid(QUALIFIER.unotice), der.seq(der.utf8(e.notice))));
    return der.seq(der.oid(e.oid), ...(qualifiers.length ? [der.seq(...qualifiers)] : []));
  });
  return extension(EXT.certificatePolicies, false, der.seq(...infos));
}

export function nameConstraints(permittedDns: string[]): Buffer | undefined {
  if (permittedDns.length === 0) return undefined;
  const subtrees = permittedDns.map((d) => der.seq(der.implicit(2, Buffer.from(d, "latin1"))));
  return extension(EXT.nameConstraints, true, der.seq(der.tlv(0xa0, ...subtrees)));
}

/** SKI per RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING value. */
export function keyIdFromSpki(spki: Buffer): Buffer {
  return createHash("sha1").update(subjectPublicKeyBits(spki)).digest();
}

export function subjectPublicKeyBits(spki: Buffer): Buffer {
  const [, bits] = der.children(der.expect(der.readAll(spki), der.TAG.SEQUENCE, "SubjectPublicKeyInfo"));
  return der.content(der.expect(bits, der.TAG.BIT_STRING, "subjectPublicKey")).subarray(1);
}
