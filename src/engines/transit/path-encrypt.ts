/**
 * `encrypt/:name`, `decrypt/:name`, `rewrap/:name`: AEAD under a named key, single or batch_input.
 * Encrypt upserts a missing key (aes256-gcm96 unless `type` says otherwise) when config/keys allows it; the
 * core asks for the `create` capability then, through the existence check.
 */
import { invalidRequest } from "../../common/errors.js";
import { definePath } from "../../core/framework/path.js";
import type { Response } from "../../core/framework/request.js";
import { checkKeyName, loadKeysConfig, policyKey, type CachedPolicy } from "./key-store.js";
import { createKey, planPolicy } from "./path-keys.js";
import { decryptCiphertext, encryptVersion, requireCapability } from "./transit-crypto.js";
import type { CipherParams } from "./version-key.js";
import { loadOrFail, type TransitEnv } from "./transit-env.js";
import { batchResponse, decodeBase64, itemInt, itemString, optionalBase64, parseBatch, runBatch, type BatchItem } from "./transit-input.js";
import { encryptionVersion } from "./transit-key.js";

function cipherParams(item: BatchItem): CipherParams {
  return {
    context: optionalBase64("context", item.context),
    aad: optionalBase64("associated_data", item.associated_data),
    nonce: optionalBase64("nonce", item.nonce),
  };
}

/** The single-request fields as one batch item, so both modes share one code path. */
function singleItem(data: Record<string, unknown>, names: string[]): BatchItem {
  const item: BatchItem = {};
  for (const n of names) if (data[n] !== undefined && data[n] !== null) item[n] = data[n];
  return item;
}

const ITEM_FIELDS = {
  context: { type: "string", description: "Base64 context for key derivation (derived keys)." },
  nonce: { type: "string", description: "Base64 nonce (not allowed for current key versions)." },
  associated_data: { type: "string", description: "Base64 associated data authenticated with AES-GCM/ChaCha20-Poly1305 (not encrypted)." },
  reference: { type: "string", description: "Echoed back in batch results to help correlate them." },
  batch_input: { type: "any", description: "A list of items, each with the single-request fields." },
  partial_failure_response_code: { type: "int", description: "HTTP status to use when some but not all batch items fail." },
} as const;

async function encryptItem(cp: CachedPolicy, item: BatchItem, defaultVersion: number | undefined, env: TransitEnv): Promise<{ ciphertext: string; key_version: number }> {
  if (item.plaintext === undefined || item.plaintext === null) throw invalidRequest("missing plaintext to encrypt");
  const plaintext = decodeBase64("plaintext", item.plaintext);
  const ver = encryptionVersion(cp.policy, itemInt(item, "key_version") ?? defaultVersion);
  const ciphertext = await encryptVersion(cp, ver, plaintext, cipherParams(item), env.deps);
  return { ciphertext, key_version: ver };
}

export function encryptPath(env: TransitEnv) {
  return definePath({
    pattern: "encrypt/:name",
    fields: {
      name: { type: "string", required: true },
      plaintext: { type: "string", description: "Base64 plaintext to encrypt." },
      key_version: { type: "int", description: "Key version to encrypt with (default: latest)." },
      type: { type: "string", default: "aes256-gcm96", description: "Key type when the key is created by this request (upsert)." },
      convergent_encryption: { type: "bool", default: false, description: "Convergent encryption when the key is created by this request." },
      ...ITEM_FIELDS,
    },
    existenceCheck: async ({ storage, params }) => (await storage.get(policyKey(checkKeyName(params.name)))) !== undefined,
    operations: {
      update: {
        summary: "Encrypt a plaintext (or a batch) with the named key.",
        handler: async ({ req, fields, storage }) => {
          const name = checkKeyName(fields.name);
          const batch = parseBatch(fields.batch_input);
          let cp = await env.cache.load(storage, name);
          if (!cp) {
            if ((await loadKeysConfig(storage)).disableUpsert) throw invalidRequest("encryption key not found and upsert is disabled");
            const first = batch ? batch[0] : req.data;
            const planned = planPolicy(name, {
              type: fields.type,
              derived: optionalBase64("context", first.context) !== undefined,
              convergent: fields.convergent_encryption,
              exportable: false,
              allowPlaintextBackup: false,
              autoRotatePeriod: 0,
              hsm: false,
            });
            await createKey(storage, planned, env.deps);
            cp = await loadOrFail(env, storage, name);
          }
          requireCapability(cp.policy, "encryption", "encryption");
          const policy = cp;
          if (!batch) {
            const r = await encryptItem(policy, singleItem(req.data, ["plaintext", "context", "nonce", "associated_data", "key_version"]), undefined, env);
            return { data: r };
          }
          const outcome = await runBatch(batch, (item) => encryptItem(policy, item, fields.key_version, env), () => ({}));
          return batchResponse(outcome, fields.partial_failure_response_code);
        },
      },
    },
    synopsis: "Encrypt a plaintext value or a batch of plaintext blocks using a named key",
    description: "This path uses the named key from the request path to encrypt a user provided plaintext or a batch of plaintext blocks. The plaintext must be base64 encoded.",
  });
}

export function decryptPath(env: TransitEnv) {
  return definePath({
    pattern: "decrypt/:name",
    fields: {
      name: { type: "string", required: true },
      ciphertext: { type: "string", description: "The ciphertext to decrypt (vault:vN:…)." },
      ...ITEM_FIELDS,
    },
    operations: {
      update: {
        summary: "Decrypt a ciphertext (or a batch) with the named key.",
        handler: async ({ req, fields, storage }) => {
          const batch = parseBatch(fields.batch_input);
          const cp = await loadOrFail(env, storage, fields.name);
          requireCapability(cp.policy, "decryption", "decryption");
          const one = async (item: BatchItem) => {
            const { plaintext } = await decryptCiphertext(cp, itemString(item, "ciphertext"), cipherParams(item), env.deps);
            return { plaintext: plaintext.toString("base64") };
          };
          if (!batch) return { data: await one(singleItem(req.data, ["ciphertext", "context", "nonce", "associated_data"])) };
          return batchResponse(await runBatch(batch, one, () => ({})), fields.partial_failure_response_code);
        },
      },
    },
    synopsis: "Decrypt a ciphertext value using a named key",
  });
}

export function rewrapPath(env: TransitEnv) {
  return definePath({
    pattern: "rewrap/:name",
    fields: {
      name: { type: "string", required: true },
      ciphertext: { type: "string", description: "The ciphertext to re-encrypt with the latest (or key_version) key." },
      key_version: { type: "int", description: "Key version to re-encrypt with (default: latest)." },
      ...ITEM_FIELDS,
    },
    operations: {
      update: {
        summary: "Rewrap a ciphertext (or a batch) with the latest version of the named key.",
        handler: async ({ req, fields, storage }): Promise<Response> => {
          const batch = parseBatch(fields.batch_input);
          const cp = await loadOrFail(env, storage, fields.name);
          requireCapability(cp.policy, "encryption", "rewrap");
          const one = async (item: BatchItem) => {
            const params = cipherParams(item);
            const { plaintext } = await decryptCiphertext(cp, itemString(item, "ciphertext"), params, env.deps);
            const ver = encryptionVersion(cp.policy, itemInt(item, "key_version") ?? fields.key_version);
            return { ciphertext: await encryptVersion(cp, ver, plaintext, { context: params.context, aad: params.aad }, env.deps), key_version: ver };
          };
          if (!batch) return { data: await one(singleItem(req.data, ["ciphertext", "context", "nonce", "associated_data", "key_version"])) };
          return batchResponse(await runBatch(batch, one, () => ({})), fields.partial_failure_response_code);
        },
      },
    },
    synopsis: "Rewrap ciphertext",
  });
}
