/**
 * `backup/:name` and `restore[/:name]`: a key's full policy and versions as one base64 blob, for keys that are
 * exportable and allow plaintext backup (never HSM keys: their material is not in the record).
 *
 * Backup format (an on-disk format, forever): base64(JSON {"format": "arca-transit-backup", "version": 1,
 * "policy": <the stored KeyPolicy record, see backend.ts>}).
 */
import { invalidRequest } from "../../common/errors.js";
import { definePath } from "../../core/framework/path.js";
import { CONVERGENT_NONCE_SCHEME } from "./convergent-nonce.js";
import { checkKeyName, loadPolicy, savePolicy } from "./key-store.js";
import type { TransitEnv } from "./transit-env.js";
import { decodeBase64 } from "./transit-input.js";
import { checkedMaterial } from "./path-import.js";
import { isKeyType, type KeyPolicy } from "./transit-key.js";

interface BackupBlob {
  format: "arca-transit-backup";
  version: 1;
  policy: KeyPolicy;
}

export function backupPath(_env: TransitEnv) {
  return definePath({
    pattern: "backup/:name",
    fields: { name: { type: "string", required: true } },
    operations: {
      read: {
        summary: "Back up the named key.",
        handler: async ({ storage, params }) => {
          const p = await loadPolicy(storage, checkKeyName(params.name));
          if (!p) throw invalidRequest("key not found");
          if (p.hsm) throw invalidRequest("HSM-backed keys cannot be backed up");
          if (!p.exportable) throw invalidRequest("exporting is disallowed on the policy");
          if (!p.allowPlaintextBackup) throw invalidRequest("plaintext backup is disallowed on the policy");
          const blob: BackupBlob = { format: "arca-transit-backup", version: 1, policy: p };
          return { data: { backup: Buffer.from(JSON.stringify(blob), "utf8").toString("base64") } };
        },
      },
    },
    synopsis: "Backup the named key",
  });
}

/** Parses and sanity-checks a backup so a corrupted blob is a 400, not a broken key. */
function parseBackup(raw: string): KeyPolicy {
  let blob: Partial<BackupBlob>;
  try {
    blob = JSON.parse(decodeBase64("backup", raw).toString("utf8")) as Partial<BackupBlob>;
  } catch (err) {
    if (err instanceof SyntaxError) throw invalidRequest("invalid backup: not a transit key backup");
    throw err;
  }
  const p = blob.policy;
  if (blob.format !== "arca-transit-backup" || blob.version !== 1 || !p || typeof p !== "object") throw invalidRequest("invalid backup: not a transit key backup");
  if (!isKeyType(String(p.type)) || typeof p.keys !== "object" || p.keys === null || !Number.isSafeInteger(p.latestVersion)) {
    throw invalidRequest("invalid backup: malformed key policy");
  }
  if (p.hsm) throw invalidRequest("invalid backup: HSM-backed keys cannot be restored from a backup");
  const versionNumbers = (n: unknown): boolean => Number.isSafeInteger(n) && (n as number) >= 0 && (n as number) <= p.latestVersion;
  if (!versionNumbers(p.minDecryptionVersion) || !versionNumbers(p.minEncryptionVersion) || p.latestVersion < 1 || !p.keys[String(p.latestVersion)]) {
    throw invalidRequest("invalid backup: malformed key policy");
  }
  for (const [n, v] of Object.entries(p.keys)) {
    if (!/^[1-9]\d{0,9}$/.test(n) || Number(n) > p.latestVersion) throw invalidRequest("invalid backup: malformed key version number");
    if (typeof v !== "object" || v === null || (!v.key && !v.privateKey) || v.hsm) throw invalidRequest("invalid backup: a key version has no material");
    if (v.convergentNonce !== undefined && v.convergentNonce !== CONVERGENT_NONCE_SCHEME) throw invalidRequest("invalid backup: unknown convergent nonce scheme");
    // The material must be a working key of the policy's type: a restored key that fails on use (even on
    // read) would be a 500 for everyone who touches it later.
    try {
      Object.assign(v, checkedMaterial(p.type, decodeBase64("key material", v.key ?? v.privateKey)));
      if (v.hmacKey !== undefined && decodeBase64("hmac key", v.hmacKey).length < 16) throw invalidRequest("hmac key too short");
    } catch (err) {
      throw invalidRequest(`invalid backup: version ${n}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (typeof v.creationTime !== "string") throw invalidRequest(`invalid backup: version ${n}: no creation time`);
  }
  return p;
}

function restorePath(_env: TransitEnv, pattern: string) {
  return definePath({
    pattern,
    fields: {
      name: { type: "string", description: "Restore under this name instead of the backed-up one." },
      backup: { type: "string", required: true, description: "The backup blob from backup/:name." },
      force: { type: "bool", default: false, description: "Overwrite an existing key of the same name." },
    },
    operations: {
      update: {
        summary: "Restore a key from a backup.",
        handler: async ({ fields, storage }) => {
          const p = parseBackup(fields.backup);
          p.name = checkKeyName(fields.name ?? p.name);
          await storage.transaction(async (txn) => {
            if (!fields.force && (await loadPolicy(txn, p.name))) throw invalidRequest(`key "${p.name}" already exists`);
            await savePolicy(txn, p);
          });
          return undefined;
        },
      },
    },
    synopsis: "Restore the named key",
  });
}

export function restorePaths(env: TransitEnv) {
  return [restorePath(env, "restore"), restorePath(env, "restore/:name")];
}
