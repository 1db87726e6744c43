/**
 * What the keychain engine stores, and the one place that reads and writes it.
 *
 * STORAGE LAYOUT (relative to the mount's barrier-encrypted view; an on-disk format):
 *   keystores/<name>                 KeystoreRecord JSON: type, public config, secrets (never shown back)
 *   keys/<name>                      KeyRecord JSON (L1): a random `id` per key, versions with the keystore's
 *                                    opaque reference (never material), state, deletion date, re-wrap job
 *   key-configurations/<name>        ConfigurationRecord JSON (L2): its id, its primary L1 (name, id, version)
 *                                    and the L2 wrapped by that L1 version inside the keystore
 *   systems/<name>                   SystemRecord JSON (L3): its id, configuration, L3 versions wrapped by L2
 *   index/key-configs/<l1 id>/<cfg>  "" — which configurations an L1 wraps (re-wrap jobs, counts, deletion)
 *   index/config-systems/<cfg>/<sys> "" — which systems a configuration holds (graph, deletion checks)
 *   index/config-switches/<cfg>      "" — configurations whose PATCH {primary_key} job is still running
 *   software-l1/<id>                 the dev-only software keystore's key material (keystore-software.ts)
 * Plaintext of L2–L4 is never stored: only blobs sealed by the level above.
 */
import { randomUUID } from "node:crypto";
import { invalidRequest, notFound } from "../../common/errors.js";
import type { KeyValueReader, KeyValueWriter } from "../../storage/storage.js";
import type { KeyOrigin, L1Algorithm, L1Ref } from "./keystore.js";

/** OpenKCM's L1 states (keychain adds REVOKED, the kill switch). */
export type KeyState = "ENABLED" | "DISABLED" | "REVOKED" | "PENDING_IMPORT" | "PENDING_DELETION" | "DELETED" | "FORBIDDEN" | "UNKNOWN";

export interface KeystoreRecord {
  name: string;
  type: string;
  config: Record<string, string>;
  secrets: Record<string, string>;
  created_at: string;
}

export interface KeyVersionRecord {
  ref: L1Ref;
  created_at: string;
  /** Set once the keystore destroyed the material (crypto-shredding). */
  destroyed_at?: string;
}

/** Progress of re-wrapping L2s to the primary version after a rotation (shown on GET). */
export interface RewrapJob {
  target_version: number;
  total: number;
  done: number;
  failed: number;
  state: "running" | "done";
  started_at: string;
  finished_at?: string;
}

export interface KeyRecord {
  /** Random, never reused: wrapped blobs are bound to it, so a new key of the same name reads nothing old. */
  id: string;
  name: string;
  state: KeyState;
  origin: KeyOrigin;
  keystore: string;
  native_id: string;
  algorithm: L1Algorithm;
  description: string;
  primary_version: number;
  versions: Record<string, KeyVersionRecord>;
  created_at: string;
  updated_at: string;
  /** PENDING_DELETION: when the material is destroyed. */
  deletion_date?: string;
  rewrap?: RewrapJob;
}

export interface ConfigurationRecord {
  id: string;
  name: string;
  description: string;
  primary_key: string;
  l1_id: string;
  l1_version: number;
  /** base64 of the L2 wrapped inside the keystore (AAD: l2Aad). */
  wrapped: string;
  created_at: string;
  updated_at: string;
  /** A PATCH {primary_key} under way or finished (config-switch.ts; shown on GET as `job`). */
  switch?: PrimarySwitchJob;
}

/** Moving a configuration's L2 to another L1, run in the background (progress shown on GET). */
export interface PrimarySwitchJob {
  target_key: string;
  /** The target's id when the switch was asked for: a re-created key of that name is not the target. */
  target_id: string;
  total: number;
  done: number;
  failed: number;
  state: "running" | "done" | "failed";
  /** Why the last attempt failed (the job retries while `running`). */
  error?: string;
  started_at: string;
  finished_at?: string;
}

export interface SystemRecord {
  id: string;
  name: string;
  key_configuration: string;
  config_id: string;
  type: string;
  region: string;
  labels: Record<string, string>;
  latest_version: number;
  /** base64 of each L3 version wrapped by the L2 (AAD: l3Aad). */
  l3: Record<string, string>;
  created_at: string;
  updated_at: string;
}

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** Names are storage-key segments: letters, digits, `_ . -`, up to 128, not starting with `.` or `-`. */
export function checkName(what: string, name: string): string {
  if (!NAME.test(name)) throw invalidRequest(`invalid ${what} name: use letters, digits, "_", "." and "-" (at most 128)`);
  return name;
}

export const now = (): string => new Date().toISOString();
export const newId = (): string => randomUUID();

async function getJson<T>(s: KeyValueReader, key: string): Promise<T | undefined> {
  const raw = await s.get(key);
  return raw ? (JSON.parse(raw.toString("utf8")) as T) : undefined;
}

function putJson(s: KeyValueWriter, key: string, value: unknown): Promise<void> {
  return s.put(key, Buffer.from(JSON.stringify(value), "utf8"));
}

const EMPTY = Buffer.alloc(0);

export const records = {
  keystore: (s: KeyValueReader, name: string) => getJson<KeystoreRecord>(s, `keystores/${name}`),
  putKeystore: (s: KeyValueWriter, r: KeystoreRecord) => putJson(s, `keystores/${r.name}`, r),
  deleteKeystore: (s: KeyValueWriter, name: string) => s.delete(`keystores/${name}`),
  listKeystores: (s: KeyValueReader) => s.list("keystores/"),

  key: (s: KeyValueReader, name: string) => getJson<KeyRecord>(s, `keys/${name}`),
  putKey: (s: KeyValueWriter, r: KeyRecord) => putJson(s, `keys/${r.name}`, r),
  listKeys: (s: KeyValueReader) => s.list("keys/"),

  config: (s: KeyValueReader, name: string) => getJson<ConfigurationRecord>(s, `key-configurations/${name}`),
  putConfig: (s: KeyValueWriter, r: ConfigurationRecord) => putJson(s, `key-configurations/${r.name}`, r),
  deleteConfig: (s: KeyValueWriter, name: string) => s.delete(`key-configurations/${name}`),
  listConfigs: (s: KeyValueReader) => s.list("key-configurations/"),

  system: (s: KeyValueReader, name: string) => getJson<SystemRecord>(s, `systems/${name}`),
  putSystem: (s: KeyValueWriter, r: SystemRecord) => putJson(s, `systems/${r.name}`, r),
  deleteSystem: (s: KeyValueWriter, name: string) => s.delete(`systems/${name}`),
  listSystems: (s: KeyValueReader) => s.list("systems/"),

  linkConfig: (s: KeyValueWriter, l1Id: string, cfg: string) => s.put(`index/key-configs/${l1Id}/${cfg}`, EMPTY),
  unlinkConfig: (s: KeyValueWriter, l1Id: string, cfg: string) => s.delete(`index/key-configs/${l1Id}/${cfg}`),
  configsOfKey: (s: KeyValueReader, l1Id: string) => s.list(`index/key-configs/${l1Id}/`),

  linkSystem: (s: KeyValueWriter, cfg: string, sys: string) => s.put(`index/config-systems/${cfg}/${sys}`, EMPTY),
  unlinkSystem: (s: KeyValueWriter, cfg: string, sys: string) => s.delete(`index/config-systems/${cfg}/${sys}`),
  systemsOfConfig: (s: KeyValueReader, cfg: string) => s.list(`index/config-systems/${cfg}/`),

  markSwitching: (s: KeyValueWriter, cfg: string) => s.put(`index/config-switches/${cfg}`, EMPTY),
  unmarkSwitching: (s: KeyValueWriter, cfg: string) => s.delete(`index/config-switches/${cfg}`),
  switching: (s: KeyValueReader) => s.list("index/config-switches/"),
};

/** Loads a record or answers 404 naming what is missing. */
export async function mustGet<T>(what: string, p: Promise<T | undefined>): Promise<T> {
  const r = await p;
  if (!r) throw notFound(`no such ${what}`);
  return r;
}

