/**
 * Storage snapshots (sys/storage/snapshot): taking one streams every raw storage entry from one read
 * transaction, so what leaves is barrier ciphertext plus the seal entries (wrapped root key, seal
 * configuration), never plaintext. Restoring one is for an uninitialised server, of any storage type;
 * the snapshot's own unseal or recovery keys (or its HSM) then unseal it.
 */
import { ArcaError, sealedError } from "../common/errors.js";
import { SEAL_CONFIG_PATH } from "../seal/seal.js";
import { decodeSnapshot, encodeSnapshot, SNAPSHOT_FORMAT } from "../storage/snapshot-format.js";
import { KEYRING_PATH } from "./barrier.js";
import type { Core } from "./core.js";

/** The snapshot as a stream of chunks; the read transaction stays open until the stream is consumed. */
export function snapshotStream(core: Core): AsyncGenerator<Buffer> {
  if (core.sealed) throw sealedError();
  return encodeSnapshot(
    {
      format: SNAPSHOT_FORMAT,
      created_at: new Date().toISOString(),
      storage_type: core.storage.type,
      ...(core.seal.sealConfig ? { seal_type: core.seal.sealConfig.type } : {}),
      ...(core.clusterId ? { cluster_id: core.clusterId } : {}),
    },
    core.storage.entries(),
  );
}

export interface RestoreResult {
  entries: number;
  sealType: string | undefined;
}

/**
 * Writes a snapshot into an uninitialised server's storage, in one transaction (all or nothing), then
 * picks up its seal configuration; with an auto seal the server then unseals itself.
 */
export async function restoreSnapshot(core: Core, bytes: Buffer): Promise<RestoreResult> {
  if (await core.isInitialized()) {
    throw new ArcaError("invalid_request", "a snapshot restores only into an uninitialised server (this one is initialised)");
  }
  const snap = decodeSnapshot(bytes);
  const keys = new Set(snap.entries.map((e) => e.key));
  if (!keys.has(KEYRING_PATH) || !keys.has(SEAL_CONFIG_PATH)) {
    throw new ArcaError("invalid_request", "not a valid Arca snapshot: it holds no initialised server (keyring or seal configuration missing)");
  }
  await core.storage.transaction(async (txn) => {
    // Checked again inside: a concurrent init or restore must not be overwritten.
    if ((await txn.get(SEAL_CONFIG_PATH)) !== undefined || (await txn.get(KEYRING_PATH)) !== undefined) {
      throw new ArcaError("invalid_request", "a snapshot restores only into an uninitialised server (this one is initialised)");
    }
    for (const { key, value } of snap.entries) await txn.put(key, value);
  });
  const config = await core.seal.loadConfig();
  if (core.seal.hasAutoSeals) await core.startAutoUnseal();
  return { entries: snap.entries.length, sealType: config?.type };
}
