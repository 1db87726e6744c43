/**
 * X.509 structures the CA writes (certificates, CSRs, CRLs) and reads (certificates, CSRs, PEM bundles):
 * PEM, names, TBS templates and signing, parsing and signature checks (extensions: x509-extensions.ts),
 * encoded with der.ts. What we emit is cross-checked in tests by @peculiar/x509 and OpenSSL; what we read
 * is untrusted, so every accessor validates tags and lengths and a failure is a 400 naming the input.
 */
import { createPublicKey, verify as verifySig, type KeyObject } from "node:crypto";
import { invalidRequest } from "../../common/errors.js";
import type { HashAlgorithm, Signer } from "../../hsm/key-manager.js";
import type { SignatureAlgorithm } from "./ca-keys.js";
import { OID } from "./ca-keys.js";
import * as der from "./der.js";
import { EXT, keyIdFromSpki } from "./x509-extensions.js";
import { pemBlocks } from "./pem.js";

// Extension OIDs and encoders, and PEM, live in their own modules; callers keep importing everything
// from here.
export * from "./x509-extensions.js";
export * from "./pem.js";

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
    const blocks = pemBlocks(input, "csr").filter((b) => b.label === "CERTIFICATE REQUEST" || b.label === "NEW CERTIFICATE REQUEST");
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
