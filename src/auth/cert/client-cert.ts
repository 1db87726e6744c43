/**
 * The facts of a certificate the cert auth method matches on and records: names (CN, SANs, OUs), the
 * extensions required_extensions can name, and the identifiers OpenBao puts in the token's metadata.
 * Parsing is @peculiar/asn1-x509's; node:crypto's X509Certificate does the signature and issuer checks.
 */
import { X509Certificate as NodeX509 } from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import {
  AuthorityKeyIdentifier,
  Certificate,
  id_ce_authorityKeyIdentifier,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  type Name,
} from "@peculiar/asn1-x509";

export interface CertFacts {
  der: Buffer;
  node: NodeX509;
  commonName: string;
  dnsSans: string[];
  emailSans: string[];
  uriSans: string[];
  organizationalUnits: string[];
  /** OID → the extension's value when it is an ASN.1 string (what required_extensions can match). */
  stringExtensions: Map<string, string>;
  /** Decimal, as OpenBao's serial_number metadata. */
  serialNumber: string;
  /** Colon-separated hex (OpenBao's certutil.GetHexFormatted); "" when the extension is absent. */
  subjectKeyId: string;
  authorityKeyId: string;
}

const OID_CN = "2.5.4.3";
const OID_OU = "2.5.4.11";

/** Throws on bytes that are not one DER certificate. */
export function certFacts(der: Buffer): CertFacts {
  const node = new NodeX509(der);
  const tbs = AsnConvert.parse(der, Certificate).tbsCertificate;
  const extensions = tbs.extensions ?? [];
  const extension = (oid: string): Buffer | undefined => {
    const ext = extensions.find((e) => e.extnID === oid);
    return ext ? Buffer.from(ext.extnValue.buffer) : undefined;
  };
  const sans = subjectAltNames(extension(id_ce_subjectAltName));
  const stringExtensions = new Map<string, string>();
  for (const ext of extensions) {
    const value = asn1String(Buffer.from(ext.extnValue.buffer));
    if (value !== undefined) stringExtensions.set(ext.extnID, value);
  }
  const ski = extension(id_ce_subjectKeyIdentifier);
  const aki = extension(id_ce_authorityKeyIdentifier);
  return {
    der,
    node,
    commonName: nameField(tbs.subject, OID_CN)[0] ?? "",
    dnsSans: sans.flatMap((n) => (n.dNSName !== undefined ? [n.dNSName] : [])),
    emailSans: sans.flatMap((n) => (n.rfc822Name !== undefined ? [n.rfc822Name] : [])),
    uriSans: sans.flatMap((n) => (n.uniformResourceIdentifier !== undefined ? [n.uniformResourceIdentifier] : [])),
    organizationalUnits: nameField(tbs.subject, OID_OU),
    stringExtensions,
    serialNumber: BigInt(`0x${node.serialNumber || "0"}`).toString(10),
    subjectKeyId: ski ? colonHex(Buffer.from(AsnConvert.parse(ski, SubjectKeyIdentifier).buffer)) : "",
    authorityKeyId: aki ? colonHex(keyIdentifierOf(aki)) : "",
  };
}

function nameField(name: Name, oid: string): string[] {
  return name.flatMap((rdn) => rdn.filter((atv) => atv.type === oid).map((atv) => atv.value.toString()));
}

/** The SAN entries; a SAN extension that does not parse counts as none. */
function subjectAltNames(value: Buffer | undefined): SubjectAlternativeName {
  if (value === undefined) return new SubjectAlternativeName();
  try {
    return AsnConvert.parse(value, SubjectAlternativeName);
  } catch {
    return new SubjectAlternativeName();
  }
}

function keyIdentifierOf(aki: Buffer): Buffer {
  const id = AsnConvert.parse(aki, AuthorityKeyIdentifier).keyIdentifier;
  return id ? Buffer.from(id.buffer) : Buffer.alloc(0);
}

function colonHex(bytes: Buffer): string {
  return (bytes.toString("hex").match(/../g) ?? []).join(":");
}

const STRING_TAGS = new Set([0x0c /* UTF8String */, 0x13 /* PrintableString */, 0x16 /* IA5String */]);

/**
 * The text of an extension value that is one DER string (OpenBao decodes with asn1.Unmarshal into a Go
 * string and skips extensions where that fails).
 */
function asn1String(v: Buffer): string | undefined {
  if (v.length < 2 || !STRING_TAGS.has(v[0])) return undefined;
  let len = v[1];
  let start = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3 || v.length < 2 + n) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + v[2 + i];
    start = 2 + n;
  }
  if (start + len !== v.length) return undefined;
  return v.subarray(start).toString(v[0] === 0x0c ? "utf8" : "latin1");
}

/** Each certificate of a PEM text, DER; throws when there is none or one does not parse. */
export function pemCertificates(text: string): Buffer[] {
  const ders = [...text.matchAll(/-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----/g)].map((m) => Buffer.from(m[1].replace(/\s+/g, ""), "base64"));
  if (ders.length === 0) throw new Error("no certificate found");
  for (const der of ders) new NodeX509(der);
  return ders;
}
