/**
 * Managed keys: an operator's grant of a pre-existing HSM object to one namespace (Vault Enterprise's
 * `sys/managed-keys/:type/:name`), the one way an object Arca did not create becomes usable. The record
 * keeps the object's identity, taken when it was registered: a later object that answers to the same URI
 * (a label re-used on the token) is not the granted one and is refused.
 *
 * Storage (the namespace's store): `core/managed-keys/pkcs11/<name>` → ManagedKeyEntry.
 */
import { ArcaError } from "../../common/errors.js";
import { getJson, putJson } from "../view.js";
import type { KeyIdentity } from "../../hsm/key-manager.js";
import type { KeyValueReader, KeyValueStore } from "../../storage/storage.js";

export const MANAGED_KEYS_PREFIX = "core/managed-keys/pkcs11/";
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface ManagedKeyEntry {
  name: string;
  type: "pkcs11";
  /** The key's URI as Arca uses it: the caller's, without PIN attributes, with the object's id and class. */
  uri: string;
  identity: KeyIdentity;
  /** Any mount of the namespace may use it, without allowed_managed_keys (Vault's any_mount). */
  anyMount: boolean;
  createdAt: string;
}

export function checkManagedKeyName(name: string): string {
  if (!NAME.test(name)) throw new ArcaError("invalid_request", "managed key names are 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit");
  return name;
}

export async function loadManagedKey(store: KeyValueReader, name: string): Promise<ManagedKeyEntry | undefined> {
  if (!NAME.test(name)) return undefined;
  return getJson<ManagedKeyEntry>(store, MANAGED_KEYS_PREFIX + name);
}

export async function saveManagedKey(store: KeyValueStore, entry: ManagedKeyEntry): Promise<void> {
  await putJson(store, MANAGED_KEYS_PREFIX + entry.name, entry);
}

export async function listManagedKeys(store: KeyValueReader): Promise<string[]> {
  return (await store.list(MANAGED_KEYS_PREFIX)).filter((k) => !k.endsWith("/"));
}

/** The grant in this namespace for the object with `identity`, if any (a namespace holds few grants). */
export async function findGrantByIdentity(store: KeyValueReader, identity: KeyIdentity): Promise<ManagedKeyEntry | undefined> {
  for (const name of await listManagedKeys(store)) {
    const e = await loadManagedKey(store, name);
    if (e && e.identity.store === identity.store && e.identity.kind === identity.kind && e.identity.id === identity.id) return e;
  }
  return undefined;
}
