/**
 * A container (`container/<id>`): named references to secrets of the same project, of type generic, rsa
 * (private_key, public_key, private_key_passphrase) or certificate (certificate, private_key,
 * private_key_passphrase, intermediates), with its consumers (services that use it) and its ACL.
 */
import type { KeyValueStore } from "../../storage/storage.js";
import { getJson, putJson } from "../../core/view.js";
import { BarbicanError } from "./barbican-error.js";
import { checkId } from "./barbican-ids.js";
import type { AclRecord } from "./acl-record.js";
import { secretRef } from "./secret-record.js";

export const CONTAINER_TYPES = ["generic", "rsa", "certificate"] as const;
export type ContainerType = (typeof CONTAINER_TYPES)[number];

export interface ContainerConsumer {
  name: string;
  URL: string;
  created: string;
}

export interface ContainerRecord {
  id: string;
  created: string;
  updated: string;
  name: string | null;
  type: ContainerType;
  creatorId: string | null;
  secrets: Array<{ name: string | null; secretId: string }>;
  consumers: ContainerConsumer[];
  acl: AclRecord | null;
  deleted?: true;
}

export const containerKey = (id: string): string => `container/${id}`;
export const containerRef = (base: string, id: string): string => `${base}/v1/containers/${id}`;

export function renderContainer(c: ContainerRecord, base: string): Record<string, unknown> {
  return {
    created: c.created,
    updated: c.updated,
    status: "ACTIVE",
    name: c.name,
    type: c.type,
    creator_id: c.creatorId,
    secret_refs: c.secrets.map((s) => ({ name: s.name, secret_ref: secretRef(base, s.secretId) })),
    consumers: c.consumers.map((k) => ({ name: k.name, URL: k.URL })),
    container_ref: containerRef(base, c.id),
  };
}

export async function loadContainer(storage: KeyValueStore, tag: string, id: string): Promise<ContainerRecord> {
  const check = checkId(id, tag);
  if (check === "foreign") throw new BarbicanError("permission_denied", "Container retrieval attempt not allowed - please review your user/project privileges");
  const rec = check === "invalid" ? undefined : await getJson<ContainerRecord>(storage, containerKey(id));
  if (!rec) throw new BarbicanError("not_found", "Not Found. Provided container id is invalid.");
  if (rec.deleted) throw new BarbicanError("not_found", "Container not found.");
  return rec;
}

export function saveContainer(storage: KeyValueStore, rec: ContainerRecord): Promise<void> {
  return putJson(storage, containerKey(rec.id), rec);
}

export async function allContainers(storage: KeyValueStore): Promise<ContainerRecord[]> {
  const ids = await storage.list("container/");
  const recs = await Promise.all(ids.map((id) => getJson<ContainerRecord>(storage, containerKey(id))));
  return recs.filter((r): r is ContainerRecord => r !== undefined && !r.deleted).sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : 0));
}
