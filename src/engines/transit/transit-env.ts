/**
 * What every transit path handler shares: the injected dependencies (the KeyManager for HSM keys) and the
 * mount's policy parse cache.
 */
import { invalidRequest } from "../../common/errors.js";
import type { KeyValueReader } from "../../storage/storage.js";
import { checkKeyName, type CachedPolicy, type PolicyCache } from "./key-store.js";
import type { TransitDeps } from "./transit-crypto.js";

export interface TransitEnv {
  deps: TransitDeps;
  cache: PolicyCache;
  /** Live versions one key may hold (server config limits.max_transit_key_versions). */
  maxKeyVersions: number;
}

/** The key `name`, or a 400 with OpenBao's wording (`what` = "encryption key", "signing key", …). */
export async function loadOrFail(env: TransitEnv, store: KeyValueReader, name: string, what = "encryption key"): Promise<CachedPolicy> {
  const cp = await env.cache.load(store, checkKeyName(name));
  if (!cp) throw invalidRequest(`${what} not found`);
  return cp;
}
