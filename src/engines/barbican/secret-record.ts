/**
 * A secret as stored (`secret/<id>`) and as Barbican renders it. Payload bytes are never in the record's
 * rendered form; they are sealed by the env's PayloadSealer.
 */
import type { KeyValueStore } from "../../storage/storage.js";
import { getJson, putJson } from "../../core/view.js";
import { BarbicanError } from "./barbican-error.js";
import { checkId } from "./barbican-ids.js";
import { isExpired } from "./barbican-time.js";
import type { StoredPayload } from "./barbican-env.js";
import type { AclRecord } from "./acl-record.js";

export const SECRET_TYPES = ["symmetric", "passphrase", "private", "public", "certificate", "opaque"] as const;
export type SecretType = (typeof SECRET_TYPES)[number];

export interface SecretConsumer {
  service: string;
  resource_type: string;
  resource_id: string;
  created: string;
}

/** What a client describes of a secret (parsed in secret-input.ts); the stored record carries these too. */
export interface SecretFields {
  name: string | null;
  secretType: SecretType;
  expiration: string | null;
  algorithm: string | null;
  bitLength: number | null;
  mode: string | null;
}

export interface SecretRecord extends SecretFields {
  id: string;
  created: string;
  updated: string;
  creatorId: string | null;
  /** payload_content_type as normalised at upload; null until a payload exists. */
  contentType: string | null;
  payload: StoredPayload | null;
  metadata: Record<string, string>;
  acl: AclRecord | null;
  consumers: SecretConsumer[];
  /** Set on delete: the id stays known so a second look answers "Secret not found." (Barbican's soft delete). */
  deleted?: true;
}

export const secretKey = (id: string): string => `secret/${id}`;

export const secretRef = (base: string, id: string): string => `${base}/v1/secrets/${id}`;

/** Barbican's metadata body, keys in Barbican's order. */
export function renderSecret(s: SecretRecord, base: string): Record<string, unknown> {
  const out: Record<string, unknown> = {
    created: s.created,
    updated: s.updated,
    status: "ACTIVE",
    name: s.name,
    secret_type: s.secretType,
    expiration: s.expiration,
    algorithm: s.algorithm,
    bit_length: s.bitLength,
    mode: s.mode,
    creator_id: s.creatorId,
  };
  if (s.payload !== null && s.contentType !== null) out.content_types = { default: s.contentType };
  out.secret_ref = secretRef(base, s.id);
  return out;
}

/**
 * The live secret `id` of this project, or Barbican's refusal: 404 "invalid" for an id that is malformed or
 * unknown, 404 "not found" for a deleted or expired one, 403 for another project's id.
 */
export async function loadSecret(storage: KeyValueStore, tag: string, id: string): Promise<SecretRecord> {
  const check = checkId(id, tag);
  if (check === "foreign") throw new BarbicanError("permission_denied", "Secret retrieval attempt not allowed - please review your user/project privileges");
  const rec = check === "invalid" ? undefined : await getJson<SecretRecord>(storage, secretKey(id));
  if (!rec) throw new BarbicanError("not_found", "Not Found. Provided secret id is invalid.");
  if (rec.deleted || isExpired(rec.expiration)) throw new BarbicanError("not_found", "Secret not found.");
  return rec;
}

export function saveSecret(storage: KeyValueStore, rec: SecretRecord): Promise<void> {
  return putJson(storage, secretKey(rec.id), rec);
}

/** Every live secret of the project, oldest first (Barbican lists in insertion order). O(secrets). */
export async function allSecrets(storage: KeyValueStore): Promise<SecretRecord[]> {
  const ids = await storage.list("secret/");
  const recs = await Promise.all(ids.map((id) => getJson<SecretRecord>(storage, secretKey(id))));
  const now = Date.now();
  return recs
    .filter((r): r is SecretRecord => r !== undefined && !r.deleted && !isExpired(r.expiration, now))
    .sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : 0));
}
