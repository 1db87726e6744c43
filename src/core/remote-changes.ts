/**
 * HA cache coherence: what this server does when another server on the same storage commits keys
 * (storage.watchRemoteChanges). Every cache that holds storage contents drops the affected entries:
 *
 *   - the barrier's entry cache (and a sealable namespace's own barrier), by key;
 *   - a namespace's token cache (`sys/token/…`) and policy cache (`sys/policy/acl/<name>`);
 *   - the engine mounted at `logical/<uuid>/` or `auth/<uuid>/`, through its `invalidate(key)` hook;
 *   - key custody's ownership records (`core/key-owners/…`, `core/managed-keys/…`);
 *   - the seal configuration and wrapped root-key copies (`core/seal-config`, `core/seal/…`).
 *
 * What unsealing builds from storage (keyring, mount tables, namespaces, audit devices) is rebuilt by
 * loading it again (Core.reloadFromStorage): such writes are rare operator actions, and a reload is the
 * one way to be sure nothing built from the old state survives. "all" (what changed is unknown) does
 * the same after dropping every cache.
 */
import { SEAL_CONFIG_PATH, SEAL_PREFIX } from "../seal/seal.js";
import type { Core } from "./core.js";
import type { Namespace } from "./namespaces/namespace.js";

/** Keys whose change means "load again what unseal loads" (at any namespace depth). */
const STRUCTURAL = /(?:^|\/)core\/(?:keyring$|mounts$|auth$|audit$|namespaces\/|cluster$)/;
/** Where the root namespace's token ids live: the root token's is init's last write (not sys/token/batch-key, its first). */
const ROOT_TOKEN_PREFIX = "sys/token/id/";
const NESTED = /^namespaces\/([^/]+)\/(.*)$/s;

/** The namespace a raw key belongs to, and the key relative to that namespace's store. */
function locate(core: Core, key: string): { ns: Namespace; rel: string } | undefined {
  let ns = core.root;
  let rel = key;
  for (let m = NESTED.exec(rel); m; m = NESTED.exec(rel)) {
    const uuid = m[1];
    const child = [...ns.children.values()].find((c) => c.entry.uuid === uuid);
    if (!child) return undefined; // a namespace this server has not loaded (sealed, or being created)
    child.sealHandle?.barrier.invalidate(m[2]);
    ns = child;
    rel = m[2];
  }
  return { ns, rel };
}

async function invalidateKey(core: Core, key: string): Promise<void> {
  core.barrier.invalidate(key);
  const found = locate(core, key);
  if (!found) return;
  const { ns, rel } = found;
  if (rel.startsWith("sys/token/")) ns.tokens.dropCached();
  else if (rel.startsWith("sys/policy/acl/")) ns.policies.dropCached(rel.slice("sys/policy/acl/".length));
  else if (rel.startsWith("core/key-owners/") || rel.startsWith("core/managed-keys/")) core.custody?.invalidate();
  else {
    const m = /^(?:logical|auth)\/([^/]+)\/(.*)$/s.exec(rel);
    if (!m) return;
    const mounted = ns.router.all().find((r) => r.entry.uuid === m[1]);
    await mounted?.backend.invalidate(m[2]);
  }
}

/** Applies one notification of remote commits; callers serialise calls (see watchRemote). */
export async function applyRemoteChanges(core: Core, keys: readonly string[] | "all"): Promise<void> {
  const sealChanged = keys === "all" || keys.some((k) => k === SEAL_CONFIG_PATH || k.startsWith(SEAL_PREFIX));
  // Nothing is cached while sealed; unsealing reads everything fresh. An auto seal unseals once another
  // server has initialised the storage (workers started together, one of them asked to sys/init). Not at
  // the seal configuration's write: the root token is init's last write, and unsealing before it would
  // find no mount table yet and write a second one beside the initialising server's.
  if (core.sealed) {
    if (keys === "all" || keys.some((k) => k.startsWith(ROOT_TOKEN_PREFIX))) await core.retryAutoUnseal();
    return;
  }
  // Rekey or seal migration on another server: the seal configuration and wrapped copies are read again.
  if (sealChanged) await core.seal.loadConfig();
  if (keys === "all" || keys.some((k) => STRUCTURAL.test(k))) {
    core.barrier.invalidateAll();
    await core.reloadFromStorage();
    return;
  }
  for (const key of keys) await invalidateKey(core, key);
}

/**
 * Subscribes the core to the storage's remote changes, applying them one notification at a time (a
 * reload must not run beside another). Returns the unsubscribe function; a no-op for unshared storage.
 */
export function watchRemote(core: Core, onError: (message: string) => void): () => void {
  const watch = core.storage.watchRemoteChanges?.bind(core.storage);
  if (!watch) return () => undefined;
  let chain = Promise.resolve();
  return watch((keys) => {
    chain = chain.then(() => applyRemoteChanges(core, keys)).catch((err: unknown) => onError(err instanceof Error ? err.message : String(err)));
  });
}
