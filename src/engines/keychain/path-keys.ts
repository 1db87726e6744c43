/**
 * `keys/:name` (L1) and its state changes. OpenKCM's states, with REVOKED as the kill switch:
 *   ENABLED ⇄ DISABLED (disable: no new keys or data keys; decryption goes on)
 *   ENABLED/DISABLED/FORBIDDEN/UNKNOWN → REVOKED (nothing beneath unwraps; caches zeroed before returning)
 *   REVOKED/DISABLED → ENABLED
 *   any live state → PENDING_DELETION (refused like REVOKED) → DISABLED (cancel) or DELETED (shredded)
 *   PENDING_IMPORT (BYOK, waiting for material); FORBIDDEN/UNKNOWN (keystore probe, HYOK sync)
 */
import { invalidRequest, notFound } from "../../common/errors.js";
import { definePath } from "../../core/framework/path.js";
import { formatDuration } from "../../core/framework/duration.js";
import type { KeyValueReader, KeyValueStore } from "../../storage/storage.js";
import { announceUsable, mutating, openKeystore, keystoreContext, type KeychainEnv } from "./keychain-env.js";
import { runRewrap } from "./jobs.js";
import { KEY_ORIGINS, L1_ALGORITHMS, type KeyOrigin, type L1Algorithm, type L1Ref } from "./keystore.js";
import { checkName, mustGet, newId, now, records, type KeyRecord, type KeyState } from "./records.js";

async function keyData(storage: KeyValueReader, k: KeyRecord): Promise<Record<string, unknown>> {
  const versions = Object.entries(k.versions)
    .map(([v, r]) => ({ version: Number(v), created_at: r.created_at, ...(r.destroyed_at ? { destroyed_at: r.destroyed_at } : {}) }))
    .sort((a, b) => a.version - b.version);
  return {
    name: k.name,
    state: k.state,
    origin: k.origin,
    keystore: k.keystore,
    native_id: k.native_id,
    algorithm: k.algorithm,
    primary_version: k.primary_version,
    versions,
    key_configurations: k.state === "DELETED" ? [] : await records.configsOfKey(storage, k.id),
    created_at: k.created_at,
    updated_at: k.updated_at,
    description: k.description,
    ...(k.deletion_date ? { deletion_date: k.deletion_date } : {}),
    ...(k.rewrap ? { rewrap: k.rewrap } : {}),
  };
}

function oneOf<T extends string>(what: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw invalidRequest(`${what} must be one of: ${allowed.join(", ")}`);
  return value as T;
}

export function keysListPath(_env: KeychainEnv) {
  return definePath({
    pattern: "keys",
    operations: {
      list: async ({ storage }) => {
        const keys = await records.listKeys(storage);
        if (keys.length === 0) throw notFound();
        return { data: { keys } };
      },
    },
    synopsis: "List L1 keys",
  });
}

async function createKey(env: KeychainEnv, storage: KeyValueStore, f: { name: string; keystore?: string; origin: string; algorithm: string; native_id?: string; description?: string }): Promise<void> {
  const name = checkName("key", f.name);
  const existing = await records.key(storage, name);
  if (existing && existing.state !== "DELETED") throw invalidRequest(`key ${name} already exists`);
  const origin = oneOf<KeyOrigin>("origin", f.origin, KEY_ORIGINS);
  const algorithm = oneOf<L1Algorithm>("algorithm", f.algorithm, L1_ALGORITHMS);
  if (!f.keystore) throw invalidRequest("keystore is required");
  const ks = await mustGet(`keystore ${f.keystore}`, records.keystore(storage, f.keystore));
  const type = env.keystoreTypes.get(ks.type);
  if (!type?.origins.includes(origin)) throw invalidRequest(`keystore ${ks.name} (type ${ks.type}) does not hold ${origin} keys`);
  const provider = type.open({ type: ks.type, config: ks.config, secrets: ks.secrets }, keystoreContext(env, storage));
  let ref: L1Ref | undefined;
  let state: KeyState = "ENABLED";
  if (origin === "generated") {
    ref = await provider.createKey({ label: `arca-keychain-${name}-v1`, algorithm });
  } else if (origin === "hyok") {
    if (!f.native_id) throw invalidRequest("native_id is required for hyok keys");
    if (!provider.attach) throw invalidRequest(`keystore type ${ks.type} cannot refer to customer-held keys`);
    ref = await provider.attach(f.native_id, algorithm);
  } else {
    if (!provider.importParams) throw invalidRequest(`keystore type ${ks.type} cannot import keys`);
    state = "PENDING_IMPORT";
  }
  const at = now();
  const record: KeyRecord = {
    id: newId(),
    name,
    state,
    origin,
    keystore: ks.name,
    native_id: origin === "hyok" ? (f.native_id ?? "") : (ref?.uri ?? ""),
    algorithm,
    description: f.description ?? "",
    primary_version: ref ? 1 : 0,
    versions: ref ? { "1": { ref, created_at: at } } : {},
    created_at: at,
    updated_at: at,
  };
  try {
    await storage.transaction(async (txn) => {
      const again = await records.key(txn, name);
      if (again && again.state !== "DELETED") throw invalidRequest(`key ${name} already exists`);
      await records.putKey(txn, record);
    });
  } catch (err) {
    // Lost a race: the object we just made in the keystore belongs to nobody.
    if (ref?.owned) await provider.destroy(ref).catch(() => undefined);
    throw err;
  }
}

export function keysPath(env: KeychainEnv) {
  return definePath({
    pattern: "keys/:name",
    fields: {
      name: { type: "string", required: true },
      keystore: { type: "string", description: "The keystore the key lives in." },
      origin: { type: "string", default: "generated", description: "generated, byok or hyok." },
      algorithm: { type: "string", default: "AES256", description: "AES256 (default), RSA3072 or RSA4096." },
      native_id: { type: "string", description: "hyok: the key's URI or Transit key name." },
      description: { type: "string" },
    },
    existenceCheck: async ({ storage, fields }) => (await records.key(storage, fields.name)) !== undefined,
    operations: {
      create: { summary: "Create an L1 key.", handler: mutating(env, async ({ storage, fields }) => void (await createKey(env, storage, fields))) },
      update: { summary: "Create an L1 key.", handler: mutating(env, async ({ storage, fields }) => void (await createKey(env, storage, fields))) },
      read: async ({ storage, fields }) => {
        const k = await records.key(storage, fields.name);
        return k ? { data: await keyData(storage, k) } : undefined;
      },
    },
    synopsis: "Manage an L1 key",
  });
}

type Transition = (k: KeyRecord) => void;

/** Applies a state change in one transaction; refuses when the current state is not in `from`. */
async function transition(storage: KeyValueStore, name: string, action: string, from: readonly KeyState[], change: Transition): Promise<KeyRecord> {
  return storage.transaction(async (txn) => {
    const k = await mustGet(`key ${name}`, records.key(txn, name));
    if (!from.includes(k.state)) throw invalidRequest(`cannot ${action} key ${name}: it is ${k.state}`);
    change(k);
    k.updated_at = now();
    await records.putKey(txn, k);
    return k;
  });
}

const LIVE: readonly KeyState[] = ["ENABLED", "DISABLED", "REVOKED", "FORBIDDEN", "UNKNOWN", "PENDING_IMPORT"];

export function keyActionPaths(env: KeychainEnv) {
  const action = (verb: string, summary: string, run: (storage: KeyValueStore, name: string, fields: Record<string, unknown>) => Promise<KeyRecord>, extraFields = {}) =>
    definePath({
      pattern: `keys/:name/${verb}`,
      fields: { name: { type: "string", required: true }, ...extraFields },
      operations: {
        update: {
          summary,
          handler: mutating(env, async ({ storage, fields }) => {
            const k = await run(storage, fields.name, fields);
            return { data: await keyData(storage, k) };
          }),
        },
      },
      synopsis: summary,
    });

  return [
    action("disable", "Stop new data keys and encryption under the key (decryption goes on).", (s, n) =>
      transition(s, n, "disable", ["ENABLED", "DISABLED"], (k) => {
        k.state = "DISABLED";
      }),
    ),
    action("enable", "Enable a disabled or revoked key.", async (s, n) => {
      const k = await transition(s, n, "enable", ["ENABLED", "DISABLED", "REVOKED"], (key) => {
        key.state = "ENABLED";
      });
      await announceUsable(env, n);
      return k;
    }),
    action("revoke", "Kill switch: nothing beneath the key unwraps; cached keys are dropped before this returns.", async (s, n) => {
      const k = await transition(s, n, "revoke", ["ENABLED", "DISABLED", "REVOKED", "FORBIDDEN", "UNKNOWN"], (key) => {
        key.state = "REVOKED";
      });
      env.cache.clear();
      return k;
    }),
    action(
      "schedule-deletion",
      "Schedule the destruction of the key's material after a waiting period (refused like REVOKED meanwhile).",
      async (s, n, f) => {
        const min = env.settings().minPendingWindow;
        const window = typeof f.pending_window === "number" ? f.pending_window : min;
        if (window < min) throw invalidRequest(`pending_window must be at least ${formatDuration(min)} (mount option min_pending_window)`);
        const k = await transition(s, n, "schedule deletion of", LIVE, (key) => {
          key.state = "PENDING_DELETION";
          key.deletion_date = new Date(Date.now() + window * 1000).toISOString();
        });
        env.cache.clear();
        return k;
      },
      { pending_window: { type: "duration", description: "Waiting period before destruction (default and minimum: mount option min_pending_window, 7d)." } },
    ),
    action("cancel-deletion", "Cancel a scheduled deletion: the key becomes DISABLED.", (s, n) =>
      transition(s, n, "cancel deletion of", ["PENDING_DELETION"], (k) => {
        k.state = "DISABLED";
        delete k.deletion_date;
      }),
    ),
    action("rotate", "Make a new key version; configurations are re-wrapped to it in the background.", async (s, n) => {
      const current = await mustGet(`key ${n}`, records.key(s, n));
      if (current.state !== "ENABLED") throw invalidRequest(`cannot rotate key ${n}: it is ${current.state}`);
      if (current.origin !== "generated") throw invalidRequest(`key ${n} is ${current.origin}: rotate it where its material comes from`);
      const provider = await openKeystore(env, s, current.keystore);
      const version = current.primary_version + 1;
      const ref = await provider.createKey({ label: `arca-keychain-${n}-v${version}`, algorithm: current.algorithm });
      let k: KeyRecord;
      try {
        k = await transition(s, n, "rotate", ["ENABLED"], (key) => {
          if (key.id !== current.id || key.primary_version !== current.primary_version) throw invalidRequest(`key ${n} changed meanwhile; retry`);
          key.versions[String(version)] = { ref, created_at: now() };
          key.primary_version = version;
          key.rewrap = { target_version: version, total: 0, done: 0, failed: 0, state: "running", started_at: now() };
        });
      } catch (err) {
        await provider.destroy(ref).catch(() => undefined);
        throw err;
      }
      // Started now; the periodic hook resumes it if this process stops or some re-wraps fail.
      void runRewrap(env, s, n).catch((err: unknown) => env.logger.warn({ key_name: n, error: err instanceof Error ? err.message : String(err) }, "keychain re-wrap failed"));
      return k;
    }),
  ];
}
