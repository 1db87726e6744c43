/**
 * Roots: `root/generate/:type` (and `issuers/generate/root/:type`), `root/sign-intermediate` (and
 * `issuer/:ref/sign-intermediate`), `DELETE root`. A root is self-signed by a key that is created in
 * software (internal | exported), taken from the mount's keys (existing), or created in / bound from the
 * HSM (kms) — where the private key never leaves the token.
 */
import { invalidRequest } from "../../common/errors.js";
import { definePath, type PathSpec } from "../../core/framework/path.js";
import type { Response } from "../../core/framework/request.js";
import type { Fields } from "../../core/framework/fields.js";
import { caSignatureAlgorithm, certPem, newSerial, signCertificate, spkiOf, type CaRuntime } from "./ca.js";
import { altNamesOf, CA_FIELDS, caExtensions, formatCert, keySource, storeIssuer, subjectName, SUBJECT_FIELDS } from "./ca-generate.js";
import { aiaUrls, K, listIssuers, listKeys, loadIssuersConfig, newId, putRecord, resolveIssuer, type CertEntry } from "./pki-store.js";
import { SYSTEM_MAX_TTL } from "./role.js";
import { childPathLength, childPermittedDnsDomains, pathLenConstraintOf, permittedDnsDomainsOf } from "./ca-constraints.js";
import * as x from "./x509.js";
import type { KeyValueStore } from "../../storage/storage.js";

function notAfterFrom(ttl: number | undefined, notAfter: string | undefined, now: number): Date {
  if (notAfter) {
    const t = Date.parse(notAfter);
    if (Number.isNaN(t)) throw invalidRequest(`not_after "${notAfter}" is not an RFC 3339 time`);
    return new Date(Math.floor(t / 1000) * 1000);
  }
  return new Date(Math.floor((now + (ttl && ttl > 0 ? ttl : SYSTEM_MAX_TTL) * 1000) / 1000) * 1000);
}

/** use_csr_values: the CSR's own subject alternative names (DNS, email, IP, URI). */
function csrAltNames(csr: x.ParsedCsr): x.AltNames {
  const ext = csr.extensions.get(x.EXT.subjectAltName);
  if (!ext) return x.emptyAltNames();
  let g: ReturnType<typeof x.parseGeneralNames>;
  try {
    g = x.parseGeneralNames(ext.value);
  } catch {
    throw invalidRequest("malformed csr: its subjectAltName extension cannot be parsed");
  }
  if (g.other > 0) throw invalidRequest("the CSR requests subject alternative names of a type this server does not issue (other names)");
  return { dns: g.dns, email: g.email, ip: g.ip, uri: g.uri };
}

export function rootPaths(runtime: CaRuntime): PathSpec[] {
  const generate = async (ctx: { fields: Record<string, unknown>; has(n: string): boolean; storage: KeyValueStore }): Promise<Response> => {
    const f = ctx.fields as unknown as GenerateFields;
    const cn = f.common_name ?? "";
    if (cn === "") throw invalidRequest("the common_name field is required");
    const now = Date.now();
    const notBefore = new Date(Math.floor((now - f.not_before_duration * 1000) / 1000) * 1000);
    const notAfter = notAfterFrom(f.ttl, f.not_after, now);
    // The issuer id is chosen now so that {{issuer_id}} in templated AIA URLs names this root; URLs are
    // resolved before a key is made, so a template error leaves no orphan key in the HSM.
    const issuerId = newId();
    const urls = await aiaUrls(ctx.storage, issuerId);
    const source = await keySource(ctx.storage, runtime, f, (n) => ctx.has(n), f.key_name || `arca-pki-root-${cn}`.slice(0, 60));
    const spki = spkiOf(source.signer.publicKey);
    const subject = subjectName(f, cn);
    const alg = caSignatureAlgorithm(source.signer, f.signature_bits, f.use_pss);
    const certDer = await signCertificate(
      {
        serial: newSerial(),
        issuer: subject,
        subject,
        notBefore,
        notAfter,
        spki,
        extensions: caExtensions({
          spki,
          issuerSki: undefined,
          maxPathLength: f.max_path_length,
          permittedDnsDomains: f.permitted_dns_domains ?? [],
          altNames: altNamesOf(f, cn),
          urls,
        }),
      },
      source.signer,
      alg,
    );
    const cert = x.parseCertificate(certDer);
    const issuer = await ctx.storage.transaction((txn) => storeIssuer(txn, cert, source.entry, source.isNew, { issuerName: f.issuer_name, caChain: [], id: issuerId }));
    const data: Record<string, unknown> = {
      certificate: formatCert(certDer, f.format),
      issuing_ca: formatCert(certDer, f.format),
      serial_number: issuer.serialNumber,
      expiration: issuer.notAfter,
      issuer_id: issuer.id,
      issuer_name: issuer.name,
      key_id: source.entry.id,
      key_name: source.entry.name,
    };
    if (source.exportedPem) {
      data.private_key = source.exportedPem;
      data.private_key_type = source.exportedType;
      if (f.format === "pem_bundle") data.certificate = `${source.exportedPem.trim()}\n${certPem(certDer)}`;
    }
    return { data };
  };

  const signIntermediate = async (ctx: { fields: Record<string, unknown>; params: Record<string, string>; has(n: string): boolean; storage: KeyValueStore }): Promise<Response> => {
    const f = ctx.fields as unknown as SignIntermediateFields;
    const issuerEntry = await resolveIssuer(ctx.storage, ctx.params.issuer_ref ?? f.issuer_ref ?? "default");
    const issuer = await runtime.load(ctx.storage, issuerEntry);
    if (!issuer.key) throw invalidRequest(`issuer ${issuerEntry.id} has no key in this mount: it cannot sign`);
    const csr = x.parseCsr(f.csr);
    const cn = f.use_csr_values ? x.commonNameOf(csr.subjectAttrs) : (f.common_name ?? "");
    if (cn === "" && !f.use_csr_values) throw invalidRequest("the common_name field is required");
    const now = Date.now();
    const notAfter = notAfterFrom(f.ttl, f.not_after, now);
    if (notAfter > issuer.cert.notAfter) {
      throw invalidRequest(`cannot satisfy request, as TTL would result in notAfter of ${notAfter.toISOString()} that is beyond the expiration of the CA certificate at ${issuer.cert.notAfter.toISOString()}`);
    }
    // The child can do no more than its signer allows (OpenBao derives the path length the same way).
    const maxPathLength = childPathLength(pathLenConstraintOf(issuer.cert), ctx.has("max_path_length") ? f.max_path_length : undefined);
    const permittedDnsDomains = childPermittedDnsDomains(permittedDnsDomainsOf(issuer.cert), f.permitted_dns_domains ?? []);
    const urls = await aiaUrls(ctx.storage, issuerEntry.id);
    const alg = caSignatureAlgorithm(issuer.key.signer, f.signature_bits, f.use_pss);
    const serial = newSerial();
    const certDer = await signCertificate(
      {
        serial,
        issuer: issuer.cert.subject,
        subject: f.use_csr_values ? csr.subject : subjectName(f, cn),
        notBefore: new Date(Math.floor((now - f.not_before_duration * 1000) / 1000) * 1000),
        notAfter,
        spki: csr.spki,
        extensions: caExtensions({
          spki: csr.spki,
          issuerSki: issuer.cert.ski,
          maxPathLength,
          permittedDnsDomains,
          altNames: f.use_csr_values ? csrAltNames(csr) : altNamesOf(f, cn),
          urls,
        }),
      },
      issuer.key.signer,
      alg,
    );
    const serialStr = x.serialToString(serial);
    const record: CertEntry = { serial: serialStr, certificate: certPem(certDer), issuerId: issuerEntry.id, notAfter: Math.floor(notAfter.getTime() / 1000) };
    await putRecord(ctx.storage, K.cert(serialStr), record);
    return {
      data: {
        certificate: formatCert(certDer, f.format),
        issuing_ca: issuer.chain[0],
        ca_chain: issuer.chain,
        serial_number: serialStr,
        expiration: record.notAfter,
      },
    };
  };

  const signFields = {
    ...SUBJECT_FIELDS,
    issuer_ref: { type: "string", default: "default" },
    csr: { type: "string", required: true },
    use_csr_values: { type: "bool", default: false },
    max_path_length: { type: "int", default: -1 },
    permitted_dns_domains: { type: "strings" },
    signature_bits: { type: "int", default: 0 },
    use_pss: { type: "bool", default: false },
    not_before_duration: { type: "duration", default: 30 },
  } as const satisfies Fields;

  return [
    definePath({ pattern: "root/generate/:type", fields: CA_FIELDS, operations: { update: generate }, synopsis: "Generate a new CA certificate and private key used for signing." }),
    definePath({ pattern: "issuers/generate/root/:type", fields: CA_FIELDS, operations: { update: generate }, synopsis: "Generate a new root issuer." }),
    // A new root beside the current one; the default issuer stays as it is (unless
    // default_follows_latest_issuer). issuer_name defaults to "next", the name root/replace defaults to.
    definePath({
      pattern: "root/rotate/:type",
      fields: { ...CA_FIELDS, issuer_name: { type: "string", default: "next" } },
      operations: { update: generate },
      synopsis: "Generate a new root issuer beside the current one, without making it the default.",
    }),
    definePath({
      pattern: "root/replace",
      fields: { default: { type: "string", default: "next" } },
      operations: {
        update: {
          transaction: true,
          handler: async ({ storage: txn, fields }) => {
            const target = await resolveIssuer(txn, fields.default);
            const c = await loadIssuersConfig(txn);
            if (c.default !== target.id) await putRecord(txn, K.issuersConfig, { ...c, default: target.id, lastModified: Date.now() });
            return { data: { default: target.id, default_follows_latest_issuer: c.defaultFollowsLatestIssuer } };
          },
        },
      },
      synopsis: "Make another issuer (by default the one named \"next\") the default issuer.",
    }),
    definePath({ pattern: "root/sign-intermediate", fields: signFields, operations: { update: signIntermediate }, synopsis: "Issue an intermediate CA certificate based on the provided CSR." }),
    definePath({ pattern: "issuer/:issuer_ref/sign-intermediate", fields: signFields, operations: { update: signIntermediate }, synopsis: "Issue an intermediate CA certificate with this issuer." }),
    definePath({
      pattern: "root",
      operations: {
        // Removes every issuer and key record (HSM objects are left alone: the HSM owns their lifecycle), and
        // the CRLs no issuer can serve now; CRL number counters stay, so a CA imported again continues its
        // sequence (crl.ts).
        delete: {
          transaction: true,
          handler: async ({ storage: txn }) => {
            for (const i of await listIssuers(txn)) await txn.delete(K.issuer(i.id));
            for (const prefix of ["crls/", "delta-crls/"]) for (const k of await txn.list(prefix)) await txn.delete(`${prefix}${k}`);
            for (const k of await listKeys(txn)) await txn.delete(K.key(k.id));
            await txn.delete(K.issuersConfig);
            await txn.delete(K.keysConfig);
            runtime.forget();
            return undefined;
          },
        },
      },
      synopsis: "Deletes the root CA key to allow a new one to be generated.",
    }),
  ];
}

interface GenerateFields {
  type: string;
  common_name?: string;
  alt_names?: string[];
  ip_sans?: string[];
  uri_sans?: string[];
  other_sans?: string[];
  ttl?: number;
  not_after?: string;
  format: string;
  exclude_cn_from_sans: boolean;
  ou?: string[];
  organization?: string[];
  country?: string[];
  locality?: string[];
  province?: string[];
  street_address?: string[];
  postal_code?: string[];
  serial_number?: string;
  issuer_name: string;
  key_name: string;
  key_ref: string;
  external_key_ref?: string;
  key_type: string;
  key_bits: number;
  signature_bits: number;
  use_pss: boolean;
  max_path_length: number;
  permitted_dns_domains?: string[];
  not_before_duration: number;
  private_key_format: string;
  add_basic_constraints: boolean;
}

interface SignIntermediateFields extends Omit<GenerateFields, "type" | "issuer_name" | "key_name" | "key_ref" | "external_key_ref" | "key_type" | "key_bits" | "private_key_format" | "add_basic_constraints"> {
  issuer_ref: string;
  csr: string;
  use_csr_values: boolean;
}

export type { GenerateFields };
