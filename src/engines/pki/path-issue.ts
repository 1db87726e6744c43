/**
 * Leaf issuance — the hot path: `issue/:role` (key generated for the caller), `sign/:role` (the caller's
 * CSR, exactly as cert-manager posts it: every value a string), `sign-verbatim[/:role]`, and the
 * `issuer/:ref/…` forms. The role is enforced in full before anything is signed; a refused request stores
 * nothing. The issuer is cached by CaRuntime so a request costs two or three storage reads, one key
 * generation (issue only), one signature and one write.
 */
import { generateKeyPair, randomUUID, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import { invalidRequest } from "../../common/errors.js";
import type { Fields } from "../../core/framework/fields.js";
import type { LeaseBounds } from "../../core/framework/system-view.js";
import { definePath, type PathSpec } from "../../core/framework/path.js";
import type { Request, Response } from "../../core/framework/request.js";
import type { KeyValueStore } from "../../storage/storage.js";
import { algorithmOfKey, keyAlgorithmFor, keyBitsOf, keyTypeOf, signatureAlgorithm } from "./ca-keys.js";
import { certPem, newSerial, signCertificate, type CaRuntime, type LoadedIssuer } from "./ca.js";
import { SUBJECT_FIELDS, type SubjectInput } from "./ca-generate.js";
import { aiaUrls, getRecord, K, putRecord, resolveIssuer, type CertEntry } from "./pki-store.js";
import {
  cnValidationDisabled,
  defaultRole,
  enforceNames,
  isEmail,
  isHostname,
  policyIdentifierEntries,
  serialNumberRefusal,
  validity,
  type Role,
  type TemplateContext,
} from "./role.js";
import * as x from "./x509.js";

const generateKeyPairAsync = promisify(generateKeyPair);

export const ISSUE_FIELDS = {
  ...SUBJECT_FIELDS,
  role: { type: "string" },
  issuer_ref: { type: "string" },
  csr: { type: "string" },
  private_key_format: { type: "string", default: "der", allowed: ["der", "pkcs8", ""] },
  remove_roots_from_chain: { type: "bool", default: false },
  key_type: { type: "string" },
  key_bits: { type: "int" },
  key_usage: { type: "strings" },
  ext_key_usage: { type: "strings" },
  ext_key_usage_oids: { type: "strings" },
  signature_bits: { type: "int" },
  use_pss: { type: "bool" },
  user_ids: { type: "strings" },
} as const satisfies Fields;

export interface IssueFields extends SubjectInput {
  ttl?: number;
  not_after?: string;
  format: string;
  csr?: string;
  private_key_format: string;
  remove_roots_from_chain: boolean;
  key_type?: string;
  key_bits?: number;
  key_usage?: string[];
  ext_key_usage?: string[];
  ext_key_usage_oids?: string[];
  signature_bits?: number;
  use_pss?: boolean;
  user_ids?: string[];
}

export async function loadRole(storage: KeyValueStore, name: string): Promise<Role> {
  const stored = await getRecord<Partial<Role>>(storage, K.role(name));
  if (!stored) throw invalidRequest(`unknown role: ${name}`);
  return { ...defaultRole(), ...stored };
}

/** The role sign-verbatim uses when none is named: any name, the CSR's own values. */
function verbatimRole(): Role {
  return { ...defaultRole(), allowAnyName: true, enforceHostnames: false, allowIpSans: true, allowedUriSans: ["*"], keyType: "any", useCsrCommonName: true, useCsrSans: true, requireCn: false };
}

export function checkKeyAgainstRole(role: Role, key: KeyObject): void {
  const alg = algorithmOfKey(key);
  if (!alg) throw invalidRequest("the CSR's public key type is not supported (RSA 2048/3072/4096, EC P-256/P-384, Ed25519)");
  if (role.keyType === "any") return;
  const t = keyTypeOf(alg);
  if (t !== role.keyType) throw invalidRequest(`role requires keys of type ${role.keyType} (key_type); the CSR has a ${t} key`);
  if (role.keyBits > 0 && keyBitsOf(alg) !== role.keyBits && !(t === "rsa" && keyBitsOf(alg) > role.keyBits)) {
    throw invalidRequest(`role requires ${role.keyType} keys of ${role.keyBits} bits (key_bits); the CSR's key has ${keyBitsOf(alg)}`);
  }
}

function keyUsageBits(names: string[]): number[] {
  const bits: number[] = [];
  for (const n of names) {
    const b = x.KEY_USAGE_BITS[n.toLowerCase().replace(/[^a-z]/g, "")];
    if (b === undefined) throw invalidRequest(`unknown key_usage "${n}"`);
    if (!bits.includes(b)) bits.push(b);
  }
  return bits;
}

function extKeyUsageOids(role: Role, f: IssueFields, verbatim: boolean): string[] {
  const oids: string[] = [];
  const add = (o: string): void => {
    if (!oids.includes(o)) oids.push(o);
  };
  if (!verbatim) {
    if (role.serverFlag) add(x.EKU.ServerAuth);
    if (role.clientFlag) add(x.EKU.ClientAuth);
    if (role.codeSigningFlag) add(x.EKU.CodeSigning);
    if (role.emailProtectionFlag) add(x.EKU.EmailProtection);
  }
  for (const name of verbatim ? (f.ext_key_usage ?? []) : role.extKeyUsage) {
    const o = x.EKU[name] ?? Object.entries(x.EKU).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
    if (!o) throw invalidRequest(`unknown ext_key_usage "${name}"`);
    add(o);
  }
  for (const o of verbatim ? (f.ext_key_usage_oids ?? []) : role.extKeyUsageOids) {
    if (!/^\d+(\.\d+)+$/.test(o)) throw invalidRequest(`invalid ext_key_usage_oids value "${o}"`);
    add(o);
  }
  return oids;
}

export interface IssueOutcome {
  certDer: Buffer;
  serial: string;
  notAfter: number;
  warnings: string[];
}

/** Builds and signs one leaf after every role rule has passed. Pure of storage writes. */
export async function buildLeaf(
  storage: KeyValueStore,
  issuer: LoadedIssuer,
  role: Role,
  f: IssueFields,
  spki: Buffer,
  csr: x.ParsedCsr | undefined,
  verbatim: boolean,
  tctx?: TemplateContext,
  mountLease?: LeaseBounds,
): Promise<IssueOutcome> {
  if (!issuer.key) throw invalidRequest(`issuer ${issuer.entry.id} has no key in this mount: it cannot issue`);
  if (!issuer.entry.usage.includes("issuing-certificates")) throw invalidRequest(`issuer ${issuer.entry.id} is not allowed to issue certificates (usage)`);
  // Names: from the CSR when the role says so (use_csr_common_name / use_csr_sans), else from the request.
  let cn = f.common_name ?? "";
  if (csr && (role.useCsrCommonName || verbatim)) cn = x.commonNameOf(csr.subjectAttrs) || cn;
  const names = x.emptyAltNames();
  const csrSan = csr?.extensions.get(x.EXT.subjectAltName);
  if (csr && (role.useCsrSans || verbatim)) {
    if (csrSan) {
      const g = x.parseGeneralNames(csrSan.value);
      if (g.other > 0) throw invalidRequest("the CSR requests subject alternative names of a type this server does not issue (other names)");
      names.dns.push(...g.dns);
      names.email.push(...g.email);
      names.ip.push(...g.ip);
      names.uri.push(...g.uri);
    }
  } else {
    for (const a of f.alt_names ?? []) (a.includes("@") ? names.email : names.dns).push(a);
    names.ip.push(...(f.ip_sans ?? []));
    names.uri.push(...(f.uri_sans ?? []));
  }
  if (f.other_sans && f.other_sans.length > 0) throw invalidRequest("other_sans are not supported by this server");
  const cnToSans = (): void => {
    const list = cn.includes("@") ? names.email : names.dns;
    if (!list.includes(cn)) list.unshift(cn);
  };
  if (cn && !f.exclude_cn_from_sans && cnValidationDisabled(role)) {
    // The CN is free text; it becomes a SAN only when it is a hostname or an email, and then the SAN
    // rules judge it (OpenBao's order: CN added to the SANs before they are validated).
    if (isEmail(cn) || isHostname(cn)) cnToSans();
    enforceNames(role, { commonName: cn, dns: names.dns, email: names.email, ip: names.ip, uri: names.uri }, tctx);
  } else {
    enforceNames(role, { commonName: cn, dns: names.dns, email: names.email, ip: names.ip, uri: names.uri }, tctx);
    if (cn && !f.exclude_cn_from_sans) cnToSans();
  }
  // Subject serialNumber: from the request, else (use_csr_common_name) from the CSR; judged by allowed_serial_numbers.
  let subjectSerial = f.serial_number ?? "";
  if (!subjectSerial && csr && role.useCsrCommonName && !verbatim) subjectSerial = x.serialNumberOf(csr.subjectAttrs);
  if (subjectSerial && !verbatim) {
    const why = serialNumberRefusal(role, subjectSerial);
    if (why) throw invalidRequest(why);
  }
  const { validity: v, warnings } = validity(role, { ttl: f.ttl ?? 0, notAfter: f.not_after }, issuer.cert.notAfter, issuer.entry.leafNotAfterBehavior, Date.now(), mountLease);
  const usageBits = keyUsageBits(verbatim && f.key_usage ? f.key_usage : role.keyUsage);
  const ekus = extKeyUsageOids(role, f, verbatim);
  const urls = await aiaUrls(storage, issuer.entry.id);
  const exts: Buffer[] = [];
  if (role.basicConstraintsValidForNonCa) exts.push(x.basicConstraints(false));
  if (usageBits.length > 0) exts.push(x.keyUsage(usageBits));
  if (ekus.length > 0) exts.push(x.extKeyUsage(ekus));
  exts.push(x.subjectKeyIdentifier(x.keyIdFromSpki(spki)), x.authorityKeyIdentifier(issuer.cert.ski));
  const san = x.subjectAltName(names, cn === "");
  if (san) exts.push(san);
  const policies = x.certificatePolicies(policyIdentifierEntries(role.policyIdentifiers));
  if (policies && !verbatim) exts.push(policies);
  const aia = x.authorityInfoAccess(
    issuer.entry.ocspServers.length ? issuer.entry.ocspServers : urls.ocspServers,
    issuer.entry.issuingCertificates.length ? issuer.entry.issuingCertificates : urls.issuingCertificates,
  );
  if (aia) exts.push(aia);
  const cdp = x.crlDistributionPoints(issuer.entry.crlDistributionPoints.length ? issuer.entry.crlDistributionPoints : urls.crlDistributionPoints);
  if (cdp) exts.push(cdp);
  const subject =
    verbatim && csr
      ? csr.subject
      : x.buildName({
          commonName: cn,
          country: role.country,
          province: role.province,
          locality: role.locality,
          streetAddress: role.streetAddress,
          postalCode: role.postalCode,
          organization: role.organization,
          ou: role.ou,
          serialNumber: subjectSerial || undefined,
        });
  const alg = signatureAlgorithm(issuer.key.signer.algorithm, f.signature_bits ?? role.signatureBits, f.use_pss ?? role.usePss);
  const serial = newSerial();
  const certDer = await signCertificate({ serial, issuer: issuer.cert.subject, subject, notBefore: v.notBefore, notAfter: v.notAfter, spki, extensions: exts }, issuer.key.signer, alg);
  return { certDer, serial: x.serialToString(serial), notAfter: Math.floor(v.notAfter.getTime() / 1000), warnings };
}

/** `leaseBounds`: the mount's lease TTLs now, which bound a role without its own ttl / max_ttl. */
export function issuePaths(runtime: CaRuntime, leaseBounds?: () => LeaseBounds): PathSpec[] {
  type Ctx = { fields: Record<string, unknown>; params: Record<string, string>; storage: KeyValueStore; req: Request };

  const run = async (ctx: Ctx, mode: "issue" | "sign" | "verbatim"): Promise<Response> => {
    const f = ctx.fields as unknown as IssueFields;
    const role = mode === "verbatim" && !ctx.params.role ? verbatimRole() : await loadRole(ctx.storage, ctx.params.role);
    const issuerEntry = await resolveIssuer(ctx.storage, ctx.params.issuer_ref ?? role.issuerRef);
    const issuer = await runtime.load(ctx.storage, issuerEntry);
    let spki: Buffer;
    let csr: x.ParsedCsr | undefined;
    let privateKeyPem: string | undefined;
    let keyType = "";
    if (mode === "issue") {
      keyType = role.keyType === "any" ? (f.key_type ?? "rsa") : role.keyType;
      const alg = keyAlgorithmFor(keyType, role.keyType === "any" ? (f.key_bits ?? 0) : role.keyBits);
      const leafKey = await generateLeafKey(alg, f.private_key_format === "pkcs8");
      privateKeyPem = leafKey.privateKeyPem;
      spki = leafKey.spki;
    } else {
      if (!f.csr) throw invalidRequest('"csr" is empty');
      csr = x.parseCsr(f.csr);
      checkKeyAgainstRole(role, csr.publicKey);
      spki = csr.spki;
    }
    const out = await buildLeaf(ctx.storage, issuer, role, f, spki, csr, mode === "verbatim", { entityId: ctx.req.caller?.entityId ?? "" }, leaseBounds?.());
    const certificate = certPem(out.certDer);
    if (!role.noStore) {
      const record: CertEntry = { serial: out.serial, certificate, issuerId: issuerEntry.id, notAfter: out.notAfter };
      await putRecord(ctx.storage, K.cert(out.serial), record);
    }
    const chain = f.remove_roots_from_chain ? issuer.chain.filter((p) => !isSelfSigned(p)) : issuer.chain;
    const data: Record<string, unknown> = {
      certificate: f.format === "der" ? out.certDer.toString("base64") : certificate,
      issuing_ca: issuer.chain[0],
      ca_chain: chain,
      serial_number: out.serial,
      expiration: out.notAfter,
    };
    if (privateKeyPem !== undefined) {
      data.private_key = privateKeyPem.trim();
      data.private_key_type = keyType;
      if (f.format === "pem_bundle") data.certificate = `${String(data.private_key).trim()}\n${certificate}`;
    }
    // generate_lease: OpenBao hands out a lease for the certificate (revoking the lease revokes the
    // certificate). Arca returns the lease fields; the lease ID names this request's path.
    const lease = role.generateLease ? { leaseId: `${ctx.req.path.replace(/\/+$/, "")}/${randomUUID()}`, leaseDuration: Math.max(0, out.notAfter - Math.floor(Date.now() / 1000)), renewable: false } : {};
    return { data, ...lease, ...(out.warnings.length ? { warnings: out.warnings } : {}) };
  };

  const ops = (mode: "issue" | "sign" | "verbatim") => ({ update: (ctx: Ctx) => run(ctx, mode) });
  return [
    definePath({ pattern: "issue/:role", fields: ISSUE_FIELDS, operations: ops("issue"), synopsis: "Request a certificate using a certain role with the provided details." }),
    definePath({ pattern: "issuer/:issuer_ref/issue/:role", fields: ISSUE_FIELDS, operations: ops("issue"), synopsis: "Request a certificate from this issuer." }),
    definePath({ pattern: "sign/:role", fields: ISSUE_FIELDS, operations: ops("sign"), synopsis: "Request certificates using a certain role with the provided details." }),
    definePath({ pattern: "issuer/:issuer_ref/sign/:role", fields: ISSUE_FIELDS, operations: ops("sign"), synopsis: "Sign a CSR with this issuer." }),
    definePath({ pattern: "sign-verbatim", fields: ISSUE_FIELDS, operations: ops("verbatim"), synopsis: "Request a certificate using the values in the CSR." }),
    definePath({ pattern: "sign-verbatim/:role", fields: ISSUE_FIELDS, operations: ops("verbatim"), synopsis: "Request a certificate using the values in the CSR." }),
    definePath({ pattern: "issuer/:issuer_ref/sign-verbatim", fields: ISSUE_FIELDS, operations: ops("verbatim"), synopsis: "Sign a CSR verbatim with this issuer." }),
    definePath({ pattern: "issuer/:issuer_ref/sign-verbatim/:role", fields: ISSUE_FIELDS, operations: ops("verbatim"), synopsis: "Sign a CSR verbatim with this issuer." }),
  ];
}

function isSelfSigned(pemText: string): boolean {
  const c = x.parseCertificate(x.pemBlocks(pemText)[0].der);
  return c.issuer.equals(c.subject);
}

interface LeafKey {
  spki: Buffer;
  privateKeyPem: string;
}

/**
 * Generates the caller's key with both halves encoded inside the threadpool job: decoding a KeyObject back
 * into SPKI/PEM on the event loop costs more than the P-256 key generation itself (measured).
 */
async function generateLeafKey(alg: ReturnType<typeof keyAlgorithmFor>, pkcs8: boolean): Promise<LeafKey> {
  const pub = { type: "spki", format: "der" } as const;
  let pair: { publicKey: Buffer; privateKey: string };
  switch (alg) {
    case "ec-p256":
    case "ec-p384":
      pair = await generateKeyPairAsync("ec", { namedCurve: alg === "ec-p256" ? "P-256" : "P-384", publicKeyEncoding: pub, privateKeyEncoding: { type: pkcs8 ? "pkcs8" : "sec1", format: "pem" } });
      break;
    case "ed25519":
      pair = await generateKeyPairAsync("ed25519", { publicKeyEncoding: pub, privateKeyEncoding: { type: "pkcs8", format: "pem" } });
      break;
    default:
      pair = await generateKeyPairAsync("rsa", { modulusLength: keyBitsOf(alg), publicExponent: 0x10001, publicKeyEncoding: pub, privateKeyEncoding: { type: pkcs8 ? "pkcs8" : "pkcs1", format: "pem" } });
  }
  return { spki: pair.publicKey, privateKeyPem: pair.privateKey };
}
