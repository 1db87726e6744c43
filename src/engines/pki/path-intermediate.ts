/**
 * Intermediates and imports: `intermediate/generate/:type` (a key and a CSR; the key is stored at once),
 * `intermediate/set-signed` (the signed certificate, matched to a stored key by public key),
 * `config/ca` and `issuers/import/bundle|cert` (PEM bundles with software keys, or a CA certificate whose
 * key already sits in an HSM, named by `key_ref` PKCS#11 URI — checked to match before anything is stored).
 */
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { invalidRequest } from "../../common/errors.js";
import type { Fields } from "../../core/framework/fields.js";
import { definePath, type PathSpec } from "../../core/framework/path.js";
import type { Response } from "../../core/framework/request.js";
import type { KeyValueStore, KeyValueTxn } from "../../storage/storage.js";
import { algorithmOfKey } from "./ca-keys.js";
import { caSignatureAlgorithm, certPem, spkiOf, type CaRuntime } from "./ca.js";
import { altNamesOf, CA_FIELDS, keySource, storeIssuer, subjectName } from "./ca-generate.js";
import { assertNameFree, K, listIssuers, listKeys, loadKeysConfig, newId, putRecord, type KeyEntry } from "./pki-store.js";
import type { GenerateFields } from "./path-root.js";
import * as x from "./x509.js";

interface BundleResult {
  importedIssuers: string[];
  importedKeys: string[];
  existingIssuers: string[];
  existingKeys: string[];
  mapping: Record<string, string>;
}

/** Finds each certificate's parents inside the bundle (by name and verified signature), nearest first. */
function chainWithin(cert: x.ParsedCertificate, all: x.ParsedCertificate[]): string[] {
  const out: string[] = [];
  let cur = cert;
  for (let depth = 0; depth < 10; depth++) {
    if (cur.issuer.equals(cur.subject)) break;
    const parent = all.find((p) => p !== cur && p.subject.equals(cur.issuer) && x.verifyCertificateSignature(cur, p.publicKey));
    if (!parent) break;
    out.push(certPem(parent.der));
    cur = parent;
  }
  return out;
}

/**
 * Imports certificates (and software keys, or one HSM key by URI) in one transaction. Certificates already
 * present are reported as existing; each certificate is tied to the stored key with its public key.
 */
async function importBundle(storage: KeyValueStore, runtime: CaRuntime, pemBundle: string, keyRef: string | undefined, issuerName = ""): Promise<BundleResult> {
  const blocks = x.pemBlocks(pemBundle, "pem_bundle", x.MAX_PEM_BUNDLE_BYTES);
  if (blocks.length === 0) throw invalidRequest("pem_bundle contains no PEM blocks");
  const certs = blocks.filter((b) => b.label === "CERTIFICATE").map((b) => x.parseCertificate(b.der, "certificate in pem_bundle"));
  const privateKeys: KeyObject[] = [];
  for (const b of blocks) {
    if (!/PRIVATE KEY$/.test(b.label)) continue;
    if (b.label === "ENCRYPTED PRIVATE KEY") throw invalidRequest("encrypted private keys are not supported in pem_bundle");
    try {
      privateKeys.push(createPrivateKey({ key: certPemLike(b.der, b.label), format: "pem" }));
    } catch {
      throw invalidRequest(`malformed ${b.label} in pem_bundle`);
    }
  }
  for (const c of certs) if (!c.isCa) throw invalidRequest(`certificate ${x.nameToString(c.subjectAttrs)} in pem_bundle is not a CA certificate (basicConstraints CA:TRUE missing)`);

  // Bind the HSM key before opening the transaction: it talks to the token.
  const newKeys: KeyEntry[] = [];
  if (keyRef) {
    if (certs.length === 0) throw invalidRequest("key_ref needs the CA certificate in pem_bundle");
    const bound = await runtime.bindKmsKey(keyRef, certs[0].spki);
    newKeys.push({ id: newId(), name: "", ...bound.entryPart });
  }
  for (const k of privateKeys) {
    const alg = algorithmOfKey(k);
    if (!alg) throw invalidRequest("unsupported private key type in pem_bundle");
    newKeys.push({
      id: newId(),
      name: "",
      type: "internal",
      algorithm: alg,
      spki: spkiOf(createPublicKey(k)).toString("base64"),
      privateKeyPem: k.export({ type: "pkcs8", format: "pem" }) as string,
    });
  }

  return storage.transaction(async (txn: KeyValueTxn) => {
    const res: BundleResult = { importedIssuers: [], importedKeys: [], existingIssuers: [], existingKeys: [], mapping: {} };
    const keys = await listKeys(txn);
    for (const k of newKeys) {
      const same = keys.find((e) => e.spki === k.spki);
      if (same) {
        res.existingKeys.push(same.id);
        continue;
      }
      await putRecord(txn, K.key(k.id), k);
      keys.push(k);
      res.importedKeys.push(k.id);
      const kc = await loadKeysConfig(txn);
      if (!kc.default) await putRecord(txn, K.keysConfig, { default: k.id });
    }
    const issuers = await listIssuers(txn);
    for (const [i, c] of certs.entries()) {
      const pemText = certPem(c.der);
      const existing = issuers.find((e) => e.certificate === pemText);
      const spki = c.spki.toString("base64");
      const key = keys.find((k) => k.spki === spki);
      if (existing) {
        res.existingIssuers.push(existing.id);
        if (!existing.keyId && key) await putRecord(txn, K.issuer(existing.id), { ...existing, keyId: key.id });
        res.mapping[existing.id] = existing.keyId || key?.id || "";
        continue;
      }
      const entry = await storeIssuer(txn, c, key, false, { issuerName: i === 0 ? issuerName : "", caChain: chainWithin(c, certs) });
      issuers.push(entry);
      res.importedIssuers.push(entry.id);
      res.mapping[entry.id] = key?.id ?? "";
    }
    return res;
  });
}

function certPemLike(derBytes: Buffer, label: string): string {
  return x.pem(derBytes, label);
}

function bundleResponse(r: BundleResult): Response {
  return {
    data: {
      imported_issuers: r.importedIssuers.length ? r.importedIssuers : null,
      imported_keys: r.importedKeys.length ? r.importedKeys : null,
      mapping: r.mapping,
      existing_issuers: r.existingIssuers.length ? r.existingIssuers : null,
      existing_keys: r.existingKeys.length ? r.existingKeys : null,
    },
  };
}

export function intermediatePaths(runtime: CaRuntime): PathSpec[] {
  const generate = async (ctx: { fields: Record<string, unknown>; has(n: string): boolean; storage: KeyValueStore }): Promise<Response> => {
    const f = ctx.fields as unknown as GenerateFields;
    const cn = f.common_name ?? "";
    const source = await keySource(ctx.storage, runtime, f, (n) => ctx.has(n), f.key_name || `arca-pki-int-${cn}`.slice(0, 60));
    const spki = spkiOf(source.signer.publicKey);
    const san = x.subjectAltName(altNamesOf(f, cn));
    const exts = [...(san ? [san] : []), ...(f.add_basic_constraints ? [x.basicConstraints(true, f.max_path_length >= 0 ? f.max_path_length : undefined)] : [])];
    const alg = caSignatureAlgorithm(source.signer, f.signature_bits, f.use_pss);
    const csrDer = await x.signTbs(x.buildCsrInfo(subjectName(f, cn), spki, exts), source.signer, alg);
    if (source.isNew) {
      await ctx.storage.transaction(async (txn) => {
        await assertNameFree(txn, "key", source.entry.name);
        await putRecord(txn, K.key(source.entry.id), source.entry);
        const kc = await loadKeysConfig(txn);
        if (!kc.default) await putRecord(txn, K.keysConfig, { default: source.entry.id });
      });
    }
    const data: Record<string, unknown> = {
      csr: f.format === "der" ? csrDer.toString("base64") : x.pem(csrDer, "CERTIFICATE REQUEST"),
      key_id: source.entry.id,
      key_name: source.entry.name,
    };
    if (source.exportedPem) {
      data.private_key = source.exportedPem;
      data.private_key_type = source.exportedType;
    }
    return { data };
  };

  const importFields = {
    pem_bundle: { type: "string", required: true, description: "PEM certificates and (software) private keys." },
    key_ref: { type: "string", description: "PKCS#11 URI of the HSM key of the first certificate (the key never leaves the HSM)." },
    issuer_name: { type: "string", default: "" },
  } as const satisfies Fields;

  return [
    definePath({ pattern: "intermediate/generate/:type", fields: CA_FIELDS, operations: { update: generate }, synopsis: "Generate a new CSR and private key used for signing." }),
    definePath({ pattern: "issuers/generate/intermediate/:type", fields: CA_FIELDS, operations: { update: generate }, synopsis: "Generate a new CSR and private key used for signing." }),
    definePath({
      pattern: "intermediate/set-signed",
      fields: { certificate: { type: "string", required: true } },
      operations: {
        update: async ({ fields, storage }) => {
          const certs = x.pemBlocks(fields.certificate, "certificate", x.MAX_PEM_BUNDLE_BYTES).filter((b) => b.label === "CERTIFICATE");
          if (certs.length === 0) throw invalidRequest("certificate contains no PEM CERTIFICATE block");
          const first = x.parseCertificate(certs[0].der);
          const keys = await listKeys(storage);
          if (!keys.some((k) => k.spki === first.spki.toString("base64"))) {
            throw invalidRequest("the signed certificate's public key matches no key in this mount (was the CSR generated here?)");
          }
          return bundleResponse(await importBundle(storage, runtime, fields.certificate, undefined));
        },
      },
      synopsis: "Provide the signed intermediate CA cert.",
    }),
    definePath({
      pattern: "config/ca",
      fields: importFields,
      operations: { update: async ({ fields, storage }) => bundleResponse(await importBundle(storage, runtime, fields.pem_bundle, fields.key_ref, fields.issuer_name)) },
      synopsis: "Import a CA bundle (certificate and key, or certificate and an HSM key_ref).",
    }),
    definePath({
      pattern: "issuers/import/bundle",
      fields: importFields,
      operations: { update: async ({ fields, storage }) => bundleResponse(await importBundle(storage, runtime, fields.pem_bundle, fields.key_ref, fields.issuer_name)) },
      synopsis: "Import certificates and keys (or an HSM key_ref) as issuers.",
    }),
    definePath({
      pattern: "issuers/import/cert",
      fields: importFields,
      operations: { update: async ({ fields, storage }) => bundleResponse(await importBundle(storage, runtime, fields.pem_bundle, fields.key_ref, fields.issuer_name)) },
      synopsis: "Import certificates as issuers.",
    }),
  ];
}
