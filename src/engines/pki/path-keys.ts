/**
 * Key management of the multi-issuer API: `keys/generate/:type` (internal | exported | kms — a key with no
 * certificate yet, for a later `intermediate/generate/existing` or `root/generate/existing`) and
 * `keys/import` (a software private key as PEM, or an HSM key named by PKCS#11 URI in `key_ref`).
 */
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { invalidRequest } from "../../common/errors.js";
import type { Fields } from "../../core/framework/fields.js";
import { definePath, type PathSpec } from "../../core/framework/path.js";
import type { Response } from "../../core/framework/request.js";
import type { KeyValueStore } from "../../storage/storage.js";
import { algorithmOfKey, keyTypeOf } from "./ca-keys.js";
import { spkiOf, type CaRuntime } from "./ca.js";
import { keySource } from "./ca-generate.js";
import { assertNameFree, K, listKeys, loadKeysConfig, newId, putRecord, type KeyEntry } from "./pki-store.js";
import * as x from "./x509.js";

const GENERATE_FIELDS = {
  type: { type: "string", required: true, allowed: ["internal", "exported", "kms"] },
  key_name: { type: "string", default: "" },
  key_type: { type: "string", default: "rsa", allowed: ["rsa", "ec", "ed25519"] },
  key_bits: { type: "int", default: 0 },
  key_ref: { type: "string", default: "default", description: "kms: a PKCS#11 URI of an existing HSM key (optional)." },
  external_key_ref: { type: "string", description: "kms: a PKCS#11 URI of an existing HSM key." },
  managed_key_name: { type: "string", description: "kms: a managed key (sys/managed-keys) allowed on this mount." },
} as const satisfies Fields;

const IMPORT_FIELDS = {
  pem_bundle: { type: "string", description: "One PEM private key (PKCS#8, PKCS#1 or SEC 1)." },
  key_name: { type: "string", default: "" },
  key_ref: { type: "string", description: "PKCS#11 URI of an HSM key to import instead (its private half stays in the HSM)." },
  managed_key_name: { type: "string", description: "A managed key (sys/managed-keys) allowed on this mount, to import instead." },
} as const satisfies Fields;

/** Stores a new key (name checked, first key becomes the default) unless one with the same public key exists. */
async function storeKey(storage: KeyValueStore, entry: KeyEntry): Promise<{ entry: KeyEntry; existed: boolean }> {
  return storage.transaction(async (txn) => {
    const same = (await listKeys(txn)).find((k) => k.spki === entry.spki);
    if (same) return { entry: same, existed: true };
    await assertNameFree(txn, "key", entry.name);
    await putRecord(txn, K.key(entry.id), entry);
    if (!(await loadKeysConfig(txn)).default) await putRecord(txn, K.keysConfig, { default: entry.id });
    return { entry, existed: false };
  });
}

function parseOnePrivateKey(pemBundle: string): KeyObject {
  const blocks = x.pemBlocks(pemBundle).filter((b) => /PRIVATE KEY$/.test(b.label));
  if (blocks.length !== 1) throw invalidRequest(`pem_bundle must hold exactly one PEM private key (found ${blocks.length})`);
  if (blocks[0].label === "ENCRYPTED PRIVATE KEY") throw invalidRequest("encrypted private keys are not supported");
  try {
    return createPrivateKey({ key: x.pem(blocks[0].der, blocks[0].label), format: "pem" });
  } catch {
    throw invalidRequest(`malformed ${blocks[0].label} in pem_bundle`);
  }
}

export function keyPaths(runtime: CaRuntime): PathSpec[] {
  return [
    definePath({
      pattern: "keys/generate/:type",
      fields: GENERATE_FIELDS,
      operations: {
        update: async (ctx): Promise<Response> => {
          const f = ctx.fields;
          await assertNameFree(ctx.storage, "key", f.key_name);
          const source = await keySource(ctx.storage, runtime, { ...f, external_key_ref: f.external_key_ref }, (n) => ctx.has(n as keyof typeof GENERATE_FIELDS), f.key_name || "arca-pki-key");
          const stored = await storeKey(ctx.storage, source.entry);
          if (stored.existed) throw invalidRequest(`that HSM key is already key ${stored.entry.id} of this mount`);
          const data: Record<string, unknown> = { key_id: source.entry.id, key_name: source.entry.name, key_type: keyTypeOf(source.entry.algorithm) };
          if (source.exportedPem) data.private_key = source.exportedPem;
          return { data };
        },
      },
      synopsis: "Generate a new private key used for signing.",
    }),
    definePath({
      pattern: "keys/import",
      fields: IMPORT_FIELDS,
      operations: {
        update: async ({ fields, storage }): Promise<Response> => {
          if ([fields.pem_bundle, fields.key_ref, fields.managed_key_name].filter(Boolean).length !== 1) {
            throw invalidRequest("provide exactly one of pem_bundle (a PEM private key), key_ref (a PKCS#11 URI) or managed_key_name");
          }
          let entry: KeyEntry;
          const ref = fields.managed_key_name ? await runtime.managedKeyUri(fields.managed_key_name) : fields.key_ref;
          if (ref) {
            const bound = await runtime.bindKmsKey(ref);
            entry = { id: newId(), name: fields.key_name, ...bound.entryPart };
          } else {
            const key = parseOnePrivateKey(fields.pem_bundle ?? "");
            const alg = algorithmOfKey(key);
            if (!alg) throw invalidRequest("unsupported private key type (RSA 2048/3072/4096, EC P-256/P-384, Ed25519)");
            entry = {
              id: newId(),
              name: fields.key_name,
              type: "internal",
              algorithm: alg,
              spki: spkiOf(createPublicKey(key)).toString("base64"),
              privateKeyPem: key.export({ type: "pkcs8", format: "pem" }) as string,
            };
          }
          const stored = await storeKey(storage, entry);
          const data = { key_id: stored.entry.id, key_name: stored.entry.name, key_type: keyTypeOf(stored.entry.algorithm) };
          return stored.existed ? { data, warnings: ["Key already imported, use key/ endpoint to update name."] } : { data };
        },
      },
      synopsis: "Import the specified key.",
    }),
  ];
}
