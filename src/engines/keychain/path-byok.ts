/**
 * BYOK for L1 keys created with origin=byok (state PENDING_IMPORT):
 *   GET  keys/:name/import-params → {public_key, wrapping_algorithm, hash_function, import_token, expires_at}
 *   POST keys/:name/import        {import_token, wrapped_key_material} → the key becomes ENABLED
 *
 * The wrapping key pair is made in the keystore once per pending key and destroyed after the import. Import
 * tokens are 256-bit random values bound to one key (kept in that key's import record, by key id), single use
 * and expiring (24 h, like AWS); only their SHA-256 is stored. The token is consumed in a storage transaction
 * *before* the HSM sees the material, so of two imports racing with one token exactly one proceeds, and a
 * failed import burns its token too: each token buys one unwrap attempt, which is what keeps an RSA-OAEP
 * padding oracle out of a caller's reach. A reused, forged, foreign or expired token is a 400 and creates nothing.
 *
 * STORAGE: byok/<key id>  ImportRecord JSON (the wrapping key's opaque reference, its public key, token hashes).
 */
import { createHash, randomBytes } from "node:crypto";
import { invalidRequest } from "../../common/errors.js";
import { definePath } from "../../core/framework/path.js";
import type { KeyValueReader, KeyValueStore, KeyValueWriter } from "../../storage/storage.js";
import { mutating, openKeystore, type KeychainEnv } from "./keychain-env.js";
import type { KeystoreProvider, L1Ref } from "./keystore.js";
import { mustGet, now, records, type KeyRecord } from "./records.js";

/** How long an import token stays valid (AWS KMS: 24 h). */
export const IMPORT_TOKEN_TTL_MS = 24 * 3600 * 1000;
/** Live tokens kept per key: each import-params call adds one; the oldest go first. */
const MAX_TOKENS = 8;
const WRAPPING_SPECS = ["RSA3072", "RSA4096"] as const;
type WrappingSpec = (typeof WRAPPING_SPECS)[number];

export interface ImportRecord {
  key_id: string;
  wrapping_key: L1Ref;
  wrapping_spec: WrappingSpec;
  public_key: string;
  /** SHA-256 (hex) of each live token, with its expiry. */
  tokens: Array<{ hash: string; expires_at: string }>;
}

const recordKey = (keyId: string): string => `byok/${keyId}`;

async function loadImport(s: KeyValueReader, keyId: string): Promise<ImportRecord | undefined> {
  const raw = await s.get(recordKey(keyId));
  return raw ? (JSON.parse(raw.toString("utf8")) as ImportRecord) : undefined;
}

function saveImport(s: KeyValueWriter, r: ImportRecord): Promise<void> {
  return s.put(recordKey(r.key_id), Buffer.from(JSON.stringify(r), "utf8"));
}

const tokenHash = (token: string): string => createHash("sha256").update(token, "utf8").digest("hex");

function pendingImport(key: KeyRecord): void {
  if (key.origin !== "byok") throw invalidRequest(`key ${key.name} is ${key.origin}: only byok keys take imported material`);
  if (key.state !== "PENDING_IMPORT") throw invalidRequest(`key ${key.name} is ${key.state}: it takes no import`);
}

/** The key's import record, making the wrapping key pair in the keystore the first time (or for another size). */
async function ensureImportRecord(storage: KeyValueStore, provider: KeystoreProvider, key: KeyRecord, spec: WrappingSpec): Promise<ImportRecord> {
  const existing = await loadImport(storage, key.id);
  if (existing && existing.wrapping_spec === spec) return existing;
  if (!provider.importParams) throw invalidRequest(`keystore ${key.keystore} cannot import keys`);
  const params = await provider.importParams({ label: `arca-keychain-${key.name}-import`, algorithm: spec });
  const fresh: ImportRecord = { key_id: key.id, wrapping_key: params.wrappingKey, wrapping_spec: spec, public_key: params.publicKey, tokens: [] };
  const kept = await storage.transaction(async (txn) => {
    const again = await loadImport(txn, key.id);
    if (again && again.wrapping_spec === spec) return again;
    await saveImport(txn, fresh);
    return fresh;
  });
  // Lost a race to another import-params call, or replaced a pair of the other size: that pair is nobody's.
  const unused = kept === fresh ? existing?.wrapping_key : fresh.wrapping_key;
  if (unused?.owned) await provider.destroy(unused).catch(() => undefined);
  return kept;
}

async function importParams(env: KeychainEnv, storage: KeyValueStore, name: string, specRaw: string): Promise<Record<string, unknown>> {
  if (!(WRAPPING_SPECS as readonly string[]).includes(specRaw)) throw invalidRequest(`wrapping_key_spec must be one of: ${WRAPPING_SPECS.join(", ")}`);
  const key = await mustGet(`key ${name}`, records.key(storage, name));
  pendingImport(key);
  const provider = await openKeystore(env, storage, key.keystore);
  const base = await ensureImportRecord(storage, provider, key, specRaw as WrappingSpec);
  const token = randomBytes(32).toString("base64url");
  const expiresAt = new Date(Date.now() + IMPORT_TOKEN_TTL_MS).toISOString();
  await storage.transaction(async (txn) => {
    const r = (await loadImport(txn, key.id)) ?? base;
    const live = r.tokens.filter((t) => Date.parse(t.expires_at) > Date.now());
    r.tokens = [...live, { hash: tokenHash(token), expires_at: expiresAt }].slice(-MAX_TOKENS);
    await saveImport(txn, r);
  });
  return {
    public_key: base.public_key,
    wrapping_algorithm: "CKM_RSA_AES_KEY_WRAP",
    hash_function: "SHA256",
    wrapping_key_spec: base.wrapping_spec,
    import_token: token,
    expires_at: expiresAt,
  };
}

/** Consumes `token` for `key`; the wrapping key it was issued with. Any failure is a 400 that changes nothing else. */
async function consumeToken(storage: KeyValueStore, key: KeyRecord, token: string): Promise<L1Ref> {
  const hash = tokenHash(token);
  return storage.transaction(async (txn) => {
    const r = await loadImport(txn, key.id);
    const entry = r?.tokens.find((t) => t.hash === hash);
    if (!r || !entry) throw invalidRequest("import_token is not valid for this key (unknown, already used, or issued for another key)");
    r.tokens = r.tokens.filter((t) => t !== entry);
    await saveImport(txn, r);
    if (Date.parse(entry.expires_at) <= Date.now()) throw invalidRequest("import_token has expired: get new import parameters");
    return r.wrapping_key;
  });
}

function decodeMaterial(raw: unknown): Buffer {
  if (typeof raw !== "string" || raw === "") throw invalidRequest("wrapped_key_material is required (base64)");
  const compact = raw.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact) || compact.length % 4 !== 0) throw invalidRequest("wrapped_key_material must be base64");
  return Buffer.from(compact, "base64");
}

async function importMaterial(env: KeychainEnv, storage: KeyValueStore, name: string, f: { import_token?: string; wrapped_key_material?: string }): Promise<KeyRecord> {
  if (typeof f.import_token !== "string" || f.import_token === "") throw invalidRequest("import_token is required");
  const material = decodeMaterial(f.wrapped_key_material);
  const key = await mustGet(`key ${name}`, records.key(storage, name));
  pendingImport(key);
  const provider = await openKeystore(env, storage, key.keystore);
  if (!provider.importKey) throw invalidRequest(`keystore ${key.keystore} cannot import keys`);
  const wrappingKey = await consumeToken(storage, key, f.import_token);
  const ref = await provider.importKey({ label: `arca-keychain-${name}-v1`, algorithm: key.algorithm, wrappingKey, wrappedKeyMaterial: material });
  let saved: KeyRecord;
  try {
    saved = await storage.transaction(async (txn) => {
      const k = await records.key(txn, name);
      if (!k || k.id !== key.id || k.state !== "PENDING_IMPORT") throw invalidRequest(`key ${name} changed while its material was imported; nothing was imported`);
      const at = now();
      k.versions = { "1": { ref, created_at: at } };
      k.primary_version = 1;
      k.native_id = ref.uri;
      k.state = "ENABLED";
      k.updated_at = at;
      await records.putKey(txn, k);
      await txn.delete(recordKey(key.id));
      return k;
    });
  } catch (err) {
    if (ref.owned) await provider.destroy(ref).catch(() => undefined);
    throw err;
  }
  // The pair served its one purpose; a failure here leaves an unused object, never a usable secret.
  if (wrappingKey.owned) await provider.destroy(wrappingKey).catch((err: unknown) => env.logger.warn({ key_name: name, error: err instanceof Error ? err.message : String(err) }, "keychain: could not destroy a used import key"));
  return saved;
}

/**
 * A byok key leaving PENDING_IMPORT without an import (its deletion window ended): the RSA wrapping pair made
 * for it would otherwise stay on the token for good. Destroys it and forgets the import record (its tokens).
 */
export async function discardPendingImport(storage: KeyValueStore, provider: KeystoreProvider, key: KeyRecord): Promise<void> {
  const pendingRecord = await loadImport(storage, key.id);
  if (!pendingRecord) return;
  if (pendingRecord.wrapping_key.owned) await provider.destroy(pendingRecord.wrapping_key);
  await storage.delete(recordKey(key.id));
}

export function byokPaths(env: KeychainEnv) {
  return [
    definePath({
      pattern: "keys/:name/import-params",
      fields: {
        name: { type: "string", required: true },
        wrapping_key_spec: { type: "string", default: "RSA3072", description: "Size of the RSA wrapping key: RSA3072 (default) or RSA4096." },
      },
      operations: {
        read: {
          summary: "Parameters and a single-use token to import key material into a byok key.",
          handler: mutating(env, async ({ storage, fields }) => ({ data: await importParams(env, storage, fields.name, fields.wrapping_key_spec) })),
        },
      },
      synopsis: "BYOK import parameters",
    }),
    definePath({
      pattern: "keys/:name/import",
      fields: {
        name: { type: "string", required: true },
        import_token: { type: "string", description: "The token from import-params (single use)." },
        wrapped_key_material: { type: "string", description: "base64 of RSA-OAEP-SHA256(ephemeral AES-256 key) ‖ AES-KWP(RFC 5649)(AES-256 key)." },
      },
      operations: {
        update: {
          summary: "Import wrapped key material into a byok key.",
          handler: mutating(env, async ({ storage, fields }) => {
            const k = await importMaterial(env, storage, fields.name, fields);
            return { data: { name: k.name, state: k.state, origin: k.origin, keystore: k.keystore, primary_version: k.primary_version, updated_at: k.updated_at } };
          }),
        },
      },
      synopsis: "BYOK import",
    }),
  ];
}
