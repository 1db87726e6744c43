/**
 * Shared by root/generate, intermediate/generate, root/sign-intermediate and the imports: where the CA key
 * comes from (internal | exported | existing | kms), the CA subject and extensions, and storing a new
 * issuer with its key.
 */
import { invalidRequest } from "../../common/errors.js";
import type { Fields } from "../../core/framework/fields.js";
import type { KeyValueTxn } from "../../storage/storage.js";
import type { Signer } from "../../hsm/key-manager.js";
import { keyAlgorithmFor } from "./ca-keys.js";
import type { CaRuntime } from "./ca.js";
import {
  assertNameFree,
  K,
  loadIssuersConfig,
  loadKeysConfig,
  newId,
  putRecord,
  resolveKey,
  type IssuerEntry,
  type KeyEntry,
} from "./pki-store.js";
import { certPem } from "./ca.js";
import * as x from "./x509.js";
import { MAX_PEM_BUNDLE_BYTES, pemBlocks } from "./x509.js";
import type { ParsedCertificate } from "./x509.js";
import type { KeyValueReader } from "../../storage/storage.js";

export const GENERATE_TYPES = ["internal", "exported", "existing", "kms"] as const;
export type GenerateType = (typeof GENERATE_TYPES)[number];

export const SUBJECT_FIELDS = {
  common_name: { type: "string", description: "The requested common name." },
  alt_names: { type: "strings", description: "DNS or email subject alternative names (comma-separated)." },
  ip_sans: { type: "strings", description: "IP subject alternative names." },
  uri_sans: { type: "strings", description: "URI subject alternative names." },
  other_sans: { type: "strings", description: "Not supported; refused when non-empty." },
  ttl: { type: "duration", description: "Requested validity (Go duration or seconds)." },
  not_after: { type: "string", description: "Explicit notAfter (RFC 3339); overrides ttl." },
  format: { type: "string", default: "pem", allowed: ["pem", "der", "pem_bundle"] },
  exclude_cn_from_sans: { type: "bool", default: false },
  ou: { type: "strings" },
  organization: { type: "strings" },
  country: { type: "strings" },
  locality: { type: "strings" },
  province: { type: "strings" },
  street_address: { type: "strings" },
  postal_code: { type: "strings" },
  serial_number: { type: "string", description: "The subject's serialNumber attribute (not the certificate serial)." },
} as const satisfies Fields;

export const CA_FIELDS = {
  ...SUBJECT_FIELDS,
  type: { type: "string", required: true, allowed: GENERATE_TYPES },
  issuer_name: { type: "string", default: "" },
  key_name: { type: "string", default: "" },
  key_ref: { type: "string", default: "default", description: "existing: the PKI key (name or id); kms: a PKCS#11 URI of an existing HSM key (optional)." },
  external_key_ref: { type: "string", description: "kms: a PKCS#11 URI of an existing HSM key." },
  managed_key_name: { type: "string", description: "kms: a managed key (sys/managed-keys) allowed on this mount." },
  key_type: { type: "string", default: "rsa", allowed: ["rsa", "ec", "ed25519"] },
  key_bits: { type: "int", default: 0 },
  signature_bits: { type: "int", default: 0 },
  use_pss: { type: "bool", default: false },
  max_path_length: { type: "int", default: -1 },
  permitted_dns_domains: { type: "strings" },
  not_before_duration: { type: "duration", default: 30 },
  private_key_format: { type: "string", default: "der", allowed: ["der", "pkcs8", ""] },
  add_basic_constraints: { type: "bool", default: false },
} as const satisfies Fields;

export interface SubjectInput {
  common_name?: string;
  alt_names?: string[];
  ip_sans?: string[];
  uri_sans?: string[];
  other_sans?: string[];
  exclude_cn_from_sans: boolean;
  ou?: string[];
  organization?: string[];
  country?: string[];
  locality?: string[];
  province?: string[];
  street_address?: string[];
  postal_code?: string[];
  serial_number?: string;
}

export function subjectName(f: SubjectInput, cn: string): Buffer {
  return x.buildName({
    commonName: cn,
    country: f.country,
    province: f.province,
    locality: f.locality,
    streetAddress: f.street_address,
    postalCode: f.postal_code,
    organization: f.organization,
    ou: f.ou,
    serialNumber: f.serial_number,
  });
}

/** Splits alt_names into DNS and email names and adds the CN unless excluded (OpenBao's rules). */
export function altNamesOf(f: SubjectInput, cn: string): x.AltNames {
  if (f.other_sans && f.other_sans.length > 0) throw invalidRequest("other_sans are not supported by this server");
  const n = x.emptyAltNames();
  const add = (name: string): void => {
    const list = name.includes("@") ? n.email : n.dns;
    if (!list.includes(name)) list.push(name);
  };
  if (cn && !f.exclude_cn_from_sans) add(cn);
  for (const a of f.alt_names ?? []) add(a);
  n.ip = [...(f.ip_sans ?? [])];
  n.uri = [...(f.uri_sans ?? [])];
  return n;
}

export interface KeySource {
  entry: KeyEntry;
  signer: Signer;
  /** True when the entry is new and must be stored with the issuer. */
  isNew: boolean;
  /** PEM private key to hand back (type exported only). */
  exportedPem?: string;
  exportedType?: string;
}

export interface KeyFields {
  type: string;
  key_name: string;
  key_ref: string;
  external_key_ref?: string;
  managed_key_name?: string;
  key_type: string;
  key_bits: number;
}

/** Where the CA key comes from. For kms the private key is created in (or bound from) the HSM and never leaves it. */
export async function keySource(storage: KeyValueReader, runtime: CaRuntime, f: KeyFields, has: (n: string) => boolean, label: string): Promise<KeySource> {
  const type = f.type as GenerateType;
  if (type === "existing") {
    if (f.key_ref.startsWith("pkcs11:")) {
      const b = await runtime.bindKmsKey(f.key_ref);
      return { entry: { id: newId(), name: f.key_name, ...b.entryPart }, signer: b.signer, isNew: true };
    }
    const entry = await resolveKey(storage, f.key_ref);
    return { entry, signer: (await runtime.signerFor(entry)).signer, isNew: false };
  }
  if (type === "kms") {
    const given = f.external_key_ref || (has("key_ref") && f.key_ref !== "default" ? f.key_ref : "");
    if (given && f.managed_key_name) throw invalidRequest("give managed_key_name or a key reference, not both");
    const ref = f.managed_key_name ? await runtime.managedKeyUri(f.managed_key_name) : given;
    if (ref) {
      const b = await runtime.bindKmsKey(ref);
      return { entry: { id: newId(), name: f.key_name, ...b.entryPart, ...(f.external_key_ref ? { externalKeyRef: f.external_key_ref } : {}) }, signer: b.signer, isNew: true };
    }
    const alg = keyAlgorithmFor(f.key_type, f.key_bits);
    const made = await runtime.createKey("kms", alg, label);
    return { entry: { id: newId(), name: f.key_name, ...made.entryPart }, signer: made.signer, isNew: true };
  }
  const alg = keyAlgorithmFor(f.key_type, f.key_bits);
  const made = await runtime.createKey("internal", alg, label);
  const out: KeySource = { entry: { id: newId(), name: f.key_name, ...made.entryPart }, signer: made.signer, isNew: true };
  if (type === "exported" && made.privateKey) {
    out.exportedPem = made.entryPart.privateKeyPem;
    out.exportedType = f.key_type;
  }
  return out;
}

export function caExtensions(opts: {
  spki: Buffer;
  issuerSki: Buffer | undefined;
  maxPathLength: number;
  permittedDnsDomains: string[];
  altNames: x.AltNames;
  urls: { issuingCertificates: string[]; crlDistributionPoints: string[]; ocspServers: string[] };
}): Buffer[] {
  const ski = x.keyIdFromSpki(opts.spki);
  const exts = [
    x.basicConstraints(true, opts.maxPathLength >= 0 ? opts.maxPathLength : undefined),
    x.keyUsage([x.KEY_USAGE_BITS.digitalsignature, x.KEY_USAGE_BITS.certsign, x.KEY_USAGE_BITS.crlsign]),
    x.subjectKeyIdentifier(ski),
    x.authorityKeyIdentifier(opts.issuerSki ?? ski),
  ];
  for (const e of [
    x.subjectAltName(opts.altNames),
    x.nameConstraints(opts.permittedDnsDomains),
    x.authorityInfoAccess(opts.urls.ocspServers, opts.urls.issuingCertificates),
    x.crlDistributionPoints(opts.urls.crlDistributionPoints),
  ]) {
    if (e) exts.push(e);
  }
  return exts;
}

/** Stores a new issuer (and its key when new) and makes it the default when there is none. */
export async function storeIssuer(
  txn: KeyValueTxn,
  cert: ParsedCertificate,
  key: KeyEntry | undefined,
  keyIsNew: boolean,
  opts: { issuerName: string; caChain: string[]; id?: string },
): Promise<IssuerEntry> {
  await assertNameFree(txn, "issuer", opts.issuerName);
  if (key && keyIsNew) {
    await assertNameFree(txn, "key", key.name);
    await putRecord(txn, K.key(key.id), key);
    const kc = await loadKeysConfig(txn);
    if (!kc.default) await putRecord(txn, K.keysConfig, { default: key.id });
  }
  const now = Date.now();
  const entry: IssuerEntry = {
    id: opts.id ?? newId(),
    name: opts.issuerName,
    keyId: key?.id ?? "",
    certificate: certPem(cert.der),
    caChain: opts.caChain,
    serialNumber: x.serialToString(cert.serial),
    notAfter: Math.floor(cert.notAfter.getTime() / 1000),
    usage: ["read-only", "issuing-certificates", "crl-signing", "ocsp-signing"],
    leafNotAfterBehavior: "err",
    revocationSignatureAlgorithm: "",
    issuingCertificates: [],
    crlDistributionPoints: [],
    ocspServers: [],
    revoked: false,
    lastModified: now,
  };
  await putRecord(txn, K.issuer(entry.id), entry);
  const ic = await loadIssuersConfig(txn);
  if (!ic.default || ic.defaultFollowsLatestIssuer) await putRecord(txn, K.issuersConfig, { ...ic, default: entry.id, lastModified: now });
  return entry;
}

/** Formats a certificate for the response per `format` (pem | der | pem_bundle). */
export function formatCert(derBytes: Buffer, format: string): string {
  return format === "der" ? derBytes.toString("base64") : certPem(derBytes);
}

export function firstCertificate(pemText: string, what: string): ParsedCertificate {
  // A chain is accepted (the first certificate is the one wanted), so the bound is a bundle's.
  const blocks = pemBlocks(pemText, what, MAX_PEM_BUNDLE_BYTES).filter((b) => b.label === "CERTIFICATE");
  if (blocks.length === 0) throw invalidRequest(`${what} contains no PEM CERTIFICATE block`);
  return x.parseCertificate(blocks[0].der, what);
}
