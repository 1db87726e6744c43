/**
 * The key chain at work: L1 (in a keystore) wraps L2, L2 wraps L3 (per system), L3 wraps L4 (data keys).
 * Every use checks the L1 state first, then runs on plaintext from the cache (or unwraps into it), and
 * re-checks the cache generation after every await: a revoke clears the cache and bumps the generation, so
 * an operation that began before `revoke` returned cannot answer after it.
 *
 * Associated data binds each blob to identities, never names:
 *   L2 under L1   "arca-keychain/L2" ‖ L1 id ‖ L1 version ‖ configuration id
 *   L3 under L2   "arca-keychain/L3" ‖ configuration id ‖ system id ‖ L3 version
 *   L4 under L3   "arca-keychain/L4" ‖ system id ‖ L3 version   (so another system's L3 cannot open it)
 * L4 ciphertext (base64 on the wire): 0x01 ‖ u32be L3 version ‖ nonce ‖ ciphertext ‖ tag.
 */
import { randomBytes } from "node:crypto";
import { ArcaError, invalidRequest } from "../../common/errors.js";
import { DECRYPT_FAILED } from "../../core/key-api-errors.js";
import type { KeyValueStore } from "../../storage/storage.js";
import { openAead, sealAead } from "./aead.js";
import { openKeystore, type KeychainEnv } from "./keychain-env.js";
import { mustGet, records, type ConfigurationRecord, type KeyRecord, type KeyState, type SystemRecord } from "./records.js";

/** encrypt: new wrapping (data keys, new L2/L3, rewrap); decrypt: opening what exists. */
export type Purpose = "encrypt" | "decrypt";

const CIPHERTEXT_FORMAT = 1;
const HEADER_BYTES = 5;

const aad = (...parts: string[]): Buffer => Buffer.from(parts.join("\u0000"), "utf8");
export const l2Aad = (l1Id: string, l1Version: number, configId: string): Buffer => aad("arca-keychain/L2", l1Id, String(l1Version), configId);
const l3Aad = (configId: string, systemId: string, version: number): Buffer => aad("arca-keychain/L3", configId, systemId, String(version));
const l4Aad = (systemId: string, version: number): Buffer => aad("arca-keychain/L4", systemId, String(version));

const ALLOWED: Record<Purpose, readonly KeyState[]> = { encrypt: ["ENABLED"], decrypt: ["ENABLED", "DISABLED"] };

/** Refuses unless the L1 state allows `purpose` (disable stops new encryption; decryption goes on). */
export function checkUsable(key: KeyRecord, purpose: Purpose): void {
  if (ALLOWED[purpose].includes(key.state)) return;
  const what = purpose === "encrypt" ? "new keys or encryption" : "decryption";
  throw invalidRequest(`L1 key ${key.name} is ${key.state}: it allows no ${what}`);
}

/** The operation was overtaken by a revoke (or a seal): it must not answer with key material. */
function revokedMeanwhile(): ArcaError {
  return invalidRequest("the key chain was revoked while this request ran");
}

export function assertGeneration(env: KeychainEnv, gen: number): void {
  if (env.cache.generation !== gen) throw revokedMeanwhile();
}

/** The configuration's primary L1, which must still be the key it was wrapped under (same id). */
export async function primaryKeyOf(storage: KeyValueStore, cfg: ConfigurationRecord): Promise<KeyRecord> {
  const key = await records.key(storage, cfg.primary_key);
  if (!key || key.id !== cfg.l1_id) throw invalidRequest(`the L1 key configuration ${cfg.name} was wrapped under no longer exists`);
  return key;
}

/** Unwraps L2 under its L1 (no state check: callers check), as a fresh buffer the caller owns. */
export async function unwrapL2Fresh(env: KeychainEnv, storage: KeyValueStore, key: KeyRecord, cfg: ConfigurationRecord): Promise<Buffer> {
  const version = key.versions[String(cfg.l1_version)];
  if (!version || version.destroyed_at) throw invalidRequest(`the L1 key version wrapping configuration ${cfg.name} was destroyed`);
  const provider = await openKeystore(env, storage, key.keystore);
  return provider.unwrap(version.ref, Buffer.from(cfg.wrapped, "base64"), l2Aad(key.id, cfg.l1_version, cfg.id));
}

/** Runs `fn` on the configuration's L2 plaintext, synchronously (the buffer may be zeroed after it returns). */
export async function useL2<T>(env: KeychainEnv, storage: KeyValueStore, cfg: ConfigurationRecord, purpose: Purpose, gen: number, fn: (l2: Buffer) => T): Promise<T> {
  const key = await primaryKeyOf(storage, cfg);
  checkUsable(key, purpose);
  assertGeneration(env, gen);
  const id = `l2/${cfg.id}`;
  const cached = env.cache.get(id);
  if (cached) return fn(cached);
  const fresh = await unwrapL2Fresh(env, storage, key, cfg);
  if (env.cache.generation !== gen) {
    fresh.fill(0);
    throw revokedMeanwhile();
  }
  const out = fn(fresh);
  env.cache.put(id, fresh, gen);
  return out;
}

/** Runs `fn` on one L3 version of the system, synchronously, after the whole chain above it checks out. */
export async function useL3<T>(env: KeychainEnv, storage: KeyValueStore, sys: SystemRecord, version: number, purpose: Purpose, gen: number, fn: (l3: Buffer) => T): Promise<T> {
  const wrapped = sys.l3[String(version)];
  if (!wrapped) throw invalidRequest(DECRYPT_FAILED);
  const cfg = await mustGet(`key configuration ${sys.key_configuration}`, records.config(storage, sys.key_configuration));
  if (cfg.id !== sys.config_id) throw invalidRequest(`system ${sys.name}'s key configuration was deleted`);
  const id = `l3/${sys.id}/${version}`;
  // The L1 state is checked on every use, cached L3 or not.
  const key = await primaryKeyOf(storage, cfg);
  checkUsable(key, purpose);
  assertGeneration(env, gen);
  const cached = env.cache.get(id);
  if (cached) return fn(cached);
  const fresh = await useL2(env, storage, cfg, purpose, gen, (l2) => openAead(l2, Buffer.from(wrapped, "base64"), l3Aad(cfg.id, sys.id, version)));
  const out = fn(fresh);
  env.cache.put(id, fresh, gen);
  return out;
}

/** A new L3 version for `sys`, wrapped by the configuration's L2 (needs an ENABLED L1). */
export async function newL3(env: KeychainEnv, storage: KeyValueStore, cfg: ConfigurationRecord, systemId: string, version: number): Promise<string> {
  const gen = env.cache.generation;
  const l3 = randomBytes(32);
  try {
    return await useL2(env, storage, cfg, "encrypt", gen, (l2) => sealAead(l2, l3, l3Aad(cfg.id, systemId, version)).toString("base64"));
  } finally {
    l3.fill(0);
  }
}

/** A new L2 wrapped under the key's primary version (needs ENABLED). */
export async function newL2(env: KeychainEnv, storage: KeyValueStore, key: KeyRecord, configId: string): Promise<string> {
  checkUsable(key, "encrypt");
  const version = key.versions[String(key.primary_version)];
  if (!version) throw invalidRequest(`L1 key ${key.name} has no key material yet`);
  const provider = await openKeystore(env, storage, key.keystore);
  const l2 = randomBytes(32);
  try {
    return (await provider.wrap(version.ref, l2, l2Aad(key.id, key.primary_version, configId))).toString("base64");
  } finally {
    l2.fill(0);
  }
}

export interface DataKey {
  plaintext: string;
  ciphertext: string;
}

async function loadSystem(storage: KeyValueStore, name: string): Promise<SystemRecord> {
  return mustGet(`system ${name}`, records.system(storage, name));
}

function sealL4(l3: Buffer, sys: SystemRecord, version: number, l4: Buffer): string {
  const header = Buffer.alloc(HEADER_BYTES);
  header[0] = CIPHERTEXT_FORMAT;
  header.writeUInt32BE(version, 1);
  return Buffer.concat([header, sealAead(l3, l4, l4Aad(sys.id, version))]).toString("base64");
}

function parseL4(ciphertext: string): { version: number; blob: Buffer } {
  const raw = Buffer.from(ciphertext, "base64");
  if (raw.length <= HEADER_BYTES || raw[0] !== CIPHERTEXT_FORMAT || raw.toString("base64") !== ciphertext.replace(/\s/g, "")) throw invalidRequest("ciphertext is not a keychain data key");
  return { version: raw.readUInt32BE(1), blob: raw.subarray(HEADER_BYTES) };
}

/** A fresh L4 data key of `bits`, in the clear and wrapped by the system's latest L3. */
export async function generateDataKey(env: KeychainEnv, storage: KeyValueStore, systemName: string, bits: number): Promise<DataKey> {
  const gen = env.cache.generation;
  if (bits !== 128 && bits !== 256) throw invalidRequest("bits must be 128 or 256");
  const sys = await loadSystem(storage, systemName);
  const l4 = randomBytes(bits / 8);
  try {
    const ciphertext = await useL3(env, storage, sys, sys.latest_version, "encrypt", gen, (l3) => sealL4(l3, sys, sys.latest_version, l4));
    assertGeneration(env, gen);
    return { plaintext: l4.toString("base64"), ciphertext };
  } finally {
    l4.fill(0);
  }
}

/** The data key inside `ciphertext`, base64 (only under the system it was made for). */
export async function decryptDataKey(env: KeychainEnv, storage: KeyValueStore, systemName: string, ciphertext: string): Promise<string> {
  const gen = env.cache.generation;
  const sys = await loadSystem(storage, systemName);
  const { version, blob } = parseL4(ciphertext);
  const l4 = await useL3(env, storage, sys, version, "decrypt", gen, (l3) => openAead(l3, blob, l4Aad(sys.id, version)));
  try {
    assertGeneration(env, gen);
    return l4.toString("base64");
  } finally {
    l4.fill(0);
  }
}

/** `ciphertext` re-wrapped under the system's latest L3 version (needs an ENABLED L1). */
export async function rewrapDataKey(env: KeychainEnv, storage: KeyValueStore, systemName: string, ciphertext: string): Promise<string> {
  const gen = env.cache.generation;
  const sys = await loadSystem(storage, systemName);
  const { version, blob } = parseL4(ciphertext);
  const l4 = await useL3(env, storage, sys, version, "encrypt", gen, (l3) => openAead(l3, blob, l4Aad(sys.id, version)));
  try {
    const out = await useL3(env, storage, sys, sys.latest_version, "encrypt", gen, (l3) => sealL4(l3, sys, sys.latest_version, l4));
    assertGeneration(env, gen);
    return out;
  } finally {
    l4.fill(0);
  }
}
