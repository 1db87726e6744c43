/**
 * X.509 structures the CA writes (certificates, CSRs, CRLs) and reads (certificates, CSRs, PEM bundles),
 * encoded with der.ts. What we emit is cross-checked in tests by @peculiar/x509 and OpenSSL; what we read
 * is untrusted, so every accessor validates tags and lengths and a failure is a 400 naming the input.
 */
import { createHash, createPublicKey, verify as verifySig, type KeyObject } from "node:crypto";
import { isIP } from "node:net";
import { invalidRequest } from "../../core/errors.js";
import type { HashAlgorithm } from "../../hsm/key-manager.js";
import type { SignatureAlgorithm } from "./ca-keys.js";
import { OID } from "./ca-keys.js";
import * as der from "./der.js";
import type { Signer } from "../../hsm/key-manager.js";

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

const ATTR = {
  C: "2.5.4.6",
  ST: "2.5.4.8",
  L: "2.5.4.7",
  STREET: "2.5.4.9",
  POSTALCODE: "2.5.4.17",
  O: "2.5.4.10",
  OU: "2.5.4.11",
  CN: "2.5.4.3",
  SERIALNUMBER: "2.5.4.5",
} as const;

const ATTR_NAME: Record<string, string> = Object.fromEntries(Object.entries(ATTR).map(([k, v]) => [v, k]));

// ---------------------------------------------------------------------------------------------------
// PEM

export function pem(derBytes: Buffer, label: string): string {
  const b64 = derBytes.toString("base64");
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----`;
}

export interface PemBlock {
  label: string;
  der: Buffer;
}

export function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (const m of text.matchAll(re)) {
    const body = m[2].replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw invalidRequest(`malformed PEM block "${m[1]}"`);
    out.push({ label: m[1], der: Buffer.from(body, "base64") });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Names

export interface NameFields {
  commonName?: string;
  country?: string[];
  province?: string[];
  locality?: string[];
  streetAddress?: string[];
  postalCode?: string[];
  organization?: string[];
  ou?: string[];
  serialNumber?: string;
}

function rdn(type: string, value: string, printableString = false): Buffer {
  return der.set(der.seq(der.oid(type), printableString ? der.printable(value) : der.utf8(value)));
}

/** Encodes a Name in Go's pkix.Name.ToRDNSequence order (C, ST, L, STREET, POSTALCODE, O, OU, CN, SERIALNUMBER). */
export function buildName(n: NameFields): Buffer {
  const parts: Buffer[] = [];
  for (const v of n.country ?? []) parts.push(rdn(ATTR.C, v, true));
  for (const v of n.province ?? []) parts.push(rdn(ATTR.ST, v));
  for (const v of n.locality ?? []) parts.push(rdn(ATTR.L, v));
  for (const v of n.streetAddress ?? []) parts.push(rdn(ATTR.STREET, v));
  for (const v of n.postalCode ?? []) parts.push(rdn(ATTR.POSTALCODE, v));
  for (const v of n.organization ?? []) parts.push(rdn(ATTR.O, v));
  for (const v of n.ou ?? []) parts.push(rdn(ATTR.OU, v));
  if (n.commonName) parts.push(rdn(ATTR.CN, n.commonName));
  if (n.serialNumber) parts.push(rdn(ATTR.SERIALNUMBER, n.serialNumber, true));
  return der.seq(...parts);
}

function decodeString(node: der.Node): string {
  const b = der.content(node);
  switch (node.tag) {
    case 0x0c: // UTF8String
      return b.toString("utf8");
    case 0x1e: {
      // BMPString: UCS-2 big-endian
      const swapped = Buffer.from(b);
      swapped.swap16();
      return swapped.toString("utf16le");
    }
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x14: // T61String (treated as Latin-1)
      return b.toString("latin1");
    default:
      throw new der.DerError("unsupported string type in name");
  }
}

export interface NameAttribute {
  oid: string;
  value: string;
}

export function parseName(node: der.Node): NameAttribute[] {
  const out: NameAttribute[] = [];
  for (const set of der.children(der.expect(node, der.TAG.SEQUENCE, "Name"))) {
    for (const atv of der.children(der.expect(set, der.TAG.SET, "RDN"))) {
      const [t, v] = der.children(der.expect(atv, der.TAG.SEQUENCE, "AttributeTypeAndValue"));
      out.push({ oid: der.readOid(t), value: decodeString(v) });
    }
  }
  return out;
}

export function commonNameOf(attrs: NameAttribute[]): string {
  return attrs.find((a) => a.oid === ATTR.CN)?.value ?? "";
}

/** The subject's serialNumber attribute (2.5.4.5), not the certificate serial. */
export function serialNumberOf(attrs: NameAttribute[]): string {
  return attrs.find((a) => a.oid === ATTR.SERIALNUMBER)?.value ?? "";
}

/** OpenSSL-like one-line rendering, e.g. "CN=example.com,O=Acme". */
export function nameToString(attrs: NameAttribute[]): string {
  return [...attrs].reverse().map((a) => `${ATTR_NAME[a.oid] ?? a.oid}=${a.value}`).join(",");
}

// ---------------------------------------------------------------------------------------------------
// Extensions

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

// ---------------------------------------------------------------------------------------------------
// Signing

export async function signTbs(tbs: Buffer, signer: Signer, alg: SignatureAlgorithm): Promise<Buffer> {
  const sig = await signer.sign(tbs, alg.opts);
  return der.seq(tbs, alg.algId, der.bitString(sig));
}

export interface CertificateTemplate {
  serial: Buffer;
  issuer: Buffer;
  subject: Buffer;
  notBefore: Date;
  notAfter: Date;
  spki: Buffer;
  extensions: Buffer[];
}

export function tbsCertificate(t: CertificateTemplate, alg: SignatureAlgorithm): Buffer {
  return der.seq(
    der.explicit(0, der.int(2)),
    der.uintBytes(t.serial),
    alg.algId,
    t.issuer,
    der.seq(der.time(t.notBefore), der.time(t.notAfter)),
    t.subject,
    t.spki,
    ...(t.extensions.length > 0 ? [der.explicit(3, der.seq(...t.extensions))] : []),
  );
}

export function buildCsrInfo(subject: Buffer, spki: Buffer, extensions: Buffer[]): Buffer {
  const attrs = extensions.length > 0 ? [der.seq(der.oid(EXT.extensionRequest), der.set(der.seq(...extensions)))] : [];
  return der.seq(der.int(0), subject, spki, der.tlv(0xa0, ...attrs));
}

// ---------------------------------------------------------------------------------------------------
// Parsing

function parseTime(n: der.Node): Date {
  const s = der.content(n).toString("latin1");
  let m: RegExpExecArray | null;
  if (n.tag === der.TAG.UTC_TIME && (m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s))) {
    const yy = Number(m[1]);
    return new Date(Date.UTC(yy < 50 ? 2000 + yy : 1900 + yy, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  }
  if (n.tag === der.TAG.GENERALIZED_TIME && (m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.\d+)?Z$/.exec(s))) {
    return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  }
  throw new der.DerError("malformed time");
}

export interface ParsedExtension {
  critical: boolean;
  value: Buffer;
}

function parseExtensions(n: der.Node): Map<string, ParsedExtension> {
  const out = new Map<string, ParsedExtension>();
  for (const e of der.children(der.expect(n, der.TAG.SEQUENCE, "Extensions"))) {
    const parts = der.children(der.expect(e, der.TAG.SEQUENCE, "Extension"));
    const id = der.readOid(parts[0]);
    const critical = parts.length === 3 && der.content(parts[1])[0] !== 0;
    const value = der.content(der.expect(parts[parts.length - 1], der.TAG.OCTET_STRING, "extension value"));
    if (out.has(id)) throw new der.DerError(`duplicate extension ${id}`);
    out.set(id, { critical, value });
  }
  return out;
}

export interface ParsedCertificate {
  der: Buffer;
  tbs: Buffer;
  serial: Buffer;
  issuer: Buffer;
  subject: Buffer;
  subjectAttrs: NameAttribute[];
  notBefore: Date;
  notAfter: Date;
  spki: Buffer;
  publicKey: KeyObject;
  extensions: Map<string, ParsedExtension>;
  isCa: boolean;
  /** SKI from the extension, or computed (method 1) when absent. */
  ski: Buffer;
  sigAlgOid: string;
  sigAlgParams: Buffer | undefined;
  signature: Buffer;
}

export function parseCertificate(input: Buffer, what = "certificate"): ParsedCertificate {
  try {
    const top = der.children(der.expect(der.readAll(input), der.TAG.SEQUENCE, what));
    if (top.length !== 3) throw new der.DerError(`malformed ${what}`);
    const tbsNode = der.expect(top[0], der.TAG.SEQUENCE, "TBSCertificate");
    const f = der.children(tbsNode);
    let i = 0;
    if (f[0]?.tag === 0xa0) i++; // version
    const serial = der.readUint(f[i++]);
    i++; // signature AlgorithmIdentifier (must equal the outer one; checked by verifiers)
    const issuer = der.raw(der.expect(f[i++], der.TAG.SEQUENCE, "issuer"));
    const validity = der.children(der.expect(f[i++], der.TAG.SEQUENCE, "validity"));
    const subjectNode = der.expect(f[i++], der.TAG.SEQUENCE, "subject");
    const spki = der.raw(der.expect(f[i++], der.TAG.SEQUENCE, "subjectPublicKeyInfo"));
    let extensions = new Map<string, ParsedExtension>();
    for (; i < f.length; i++) if (f[i].tag === 0xa3) extensions = parseExtensions(der.children(f[i])[0]);
    const bc = extensions.get(EXT.basicConstraints);
    const isCa = bc !== undefined && (() => {
      const c = der.children(der.readAll(bc.value));
      return c[0]?.tag === der.TAG.BOOLEAN && der.content(c[0])[0] !== 0;
    })();
    const skiExt = extensions.get(EXT.subjectKeyId);
    const algParts = der.children(der.expect(top[1], der.TAG.SEQUENCE, "signatureAlgorithm"));
    return {
      der: input,
      tbs: der.raw(tbsNode),
      serial,
      issuer,
      subject: der.raw(subjectNode),
      subjectAttrs: parseName(subjectNode),
      notBefore: parseTime(validity[0]),
      notAfter: parseTime(validity[1]),
      spki,
      publicKey: createPublicKey({ key: spki, format: "der", type: "spki" }),
      extensions,
      isCa,
      ski: skiExt ? der.content(der.readAll(skiExt.value)) : keyIdFromSpki(spki),
      sigAlgOid: der.readOid(algParts[0]),
      sigAlgParams: algParts[1] && algParts[1].tag !== der.TAG.NULL ? der.raw(algParts[1]) : undefined,
      signature: der.content(der.expect(top[2], der.TAG.BIT_STRING, "signature")).subarray(1),
    };
  } catch (err) {
    if (err instanceof der.DerError || err instanceof TypeError || (err instanceof Error && "code" in err)) {
      throw invalidRequest(`malformed ${what}: ${err.message}`);
    }
    throw err;
  }
}

export interface ParsedCsr {
  der: Buffer;
  info: Buffer;
  subject: Buffer;
  subjectAttrs: NameAttribute[];
  spki: Buffer;
  publicKey: KeyObject;
  extensions: Map<string, ParsedExtension>;
  sigAlgOid: string;
  sigAlgParams: Buffer | undefined;
  signature: Buffer;
}

/** Parses a PEM or DER PKCS#10 request and checks its self-signature (proof of possession). */
export function parseCsr(input: string | Buffer): ParsedCsr {
  let bytes: Buffer;
  if (typeof input === "string") {
    const blocks = pemBlocks(input).filter((b) => b.label === "CERTIFICATE REQUEST" || b.label === "NEW CERTIFICATE REQUEST");
    if (blocks.length !== 1) throw invalidRequest("csr contains no data: expected one PEM CERTIFICATE REQUEST block");
    bytes = blocks[0].der;
  } else bytes = input;
  let csr: ParsedCsr;
  try {
    const top = der.children(der.expect(der.readAll(bytes), der.TAG.SEQUENCE, "CSR"));
    if (top.length !== 3) throw new der.DerError("malformed CSR");
    const infoNode = der.expect(top[0], der.TAG.SEQUENCE, "CertificationRequestInfo");
    const f = der.children(infoNode);
    if (f.length < 3) throw new der.DerError("malformed CertificationRequestInfo");
    const subjectNode = der.expect(f[1], der.TAG.SEQUENCE, "subject");
    const spki = der.raw(der.expect(f[2], der.TAG.SEQUENCE, "subjectPublicKeyInfo"));
    let extensions = new Map<string, ParsedExtension>();
    if (f[3]?.tag === 0xa0) {
      for (const attr of der.children(f[3])) {
        const [t, values] = der.children(der.expect(attr, der.TAG.SEQUENCE, "Attribute"));
        if (der.readOid(t) === EXT.extensionRequest) extensions = parseExtensions(der.children(der.expect(values, der.TAG.SET, "attribute values"))[0]);
      }
    }
    const algParts = der.children(der.expect(top[1], der.TAG.SEQUENCE, "signatureAlgorithm"));
    csr = {
      der: bytes,
      info: der.raw(infoNode),
      subject: der.raw(subjectNode),
      subjectAttrs: parseName(subjectNode),
      spki,
      publicKey: createPublicKey({ key: spki, format: "der", type: "spki" }),
      extensions,
      sigAlgOid: der.readOid(algParts[0]),
      sigAlgParams: algParts[1] && algParts[1].tag !== der.TAG.NULL ? der.raw(algParts[1]) : undefined,
      signature: der.content(der.expect(top[2], der.TAG.BIT_STRING, "signature")).subarray(1),
    };
  } catch (err) {
    if (err instanceof der.DerError || err instanceof TypeError || (err instanceof Error && "code" in err)) throw invalidRequest(`malformed csr: ${err.message}`);
    throw err;
  }
  if (!verifySignature(csr.info, csr.sigAlgOid, csr.sigAlgParams, csr.signature, csr.publicKey)) {
    throw invalidRequest("csr signature is invalid: the request was not signed by the key it names");
  }
  return csr;
}

const HASH_BY_OID: Record<string, HashAlgorithm> = { [OID.sha256]: "sha256", [OID.sha384]: "sha384", [OID.sha512]: "sha512" };

/** Verifies an X.509-style signature (certificate, CSR, CRL, OCSP) with node:crypto. */
export function verifySignature(data: Buffer, algOid: string, params: Buffer | undefined, signature: Buffer, key: KeyObject): boolean {
  try {
    switch (algOid) {
      case OID.ecdsaSha256:
      case OID.sha256WithRSA:
        return verifySig("sha256", data, key, signature);
      case OID.ecdsaSha384:
      case OID.sha384WithRSA:
        return verifySig("sha384", data, key, signature);
      case OID.ecdsaSha512:
      case OID.sha512WithRSA:
        return verifySig("sha512", data, key, signature);
      case OID.ed25519:
        return verifySig(null, data, key, signature);
      case OID.rsassaPss: {
        if (!params) return false;
        let hash: HashAlgorithm = "sha256"; // RFC 4055 default is SHA-1, which we refuse below
        let hashGiven = false;
        let salt = 20;
        for (const p of der.children(der.readAll(params))) {
          if (p.tag === 0xa0) {
            const h = HASH_BY_OID[der.readOid(der.children(der.children(p)[0])[0])];
            if (!h) return false;
            hash = h;
            hashGiven = true;
          }
          if (p.tag === 0xa2) salt = der.readUint(der.children(p)[0]).readUIntBE(0, 1);
        }
        if (!hashGiven) return false;
        return verifySig(hash, data, { key, padding: 6, saltLength: salt }, signature);
      }
      default:
        return false;
    }
  } catch {
    return false;
  }
}

export function verifyCertificateSignature(cert: ParsedCertificate, issuerKey: KeyObject): boolean {
  return verifySignature(cert.tbs, cert.sigAlgOid, cert.sigAlgParams, cert.signature, issuerKey);
}

/** OpenBao's serial rendering: lowercase hex octets joined by ":" ("39:dd:2e:…"). */
export function serialToString(serial: Buffer): string {
  return [...serial].map((b) => b.toString(16).padStart(2, "0")).join(":");
}

/** Accepts "39:dd:2e", "39-dd-2e" or plain hex; returns the colon form, or undefined when not hex. */
export function normalizeSerial(input: string): string | undefined {
  const hex = input.trim().toLowerCase().replace(/[:-]/g, "");
  if (hex === "" || !/^[0-9a-f]+$/.test(hex)) return undefined;
  const even = hex.length % 2 === 1 ? `0${hex}` : hex;
  return serialToString(Buffer.from(even, "hex"));
}
