/**
 * The Transit secrets engine (mount type "transit"), wire-compatible with OpenBao/Vault: encryption,
 * signing, HMAC and data keys as a service, with keys that never leave the server — or, for HSM-backed keys,
 * never leave the HSM (created there or referred to by PKCS#11 URI through the KeyManager seam).
 *
 * STORAGE LAYOUT — an on-disk format, forever. Keys are relative to the mount's storage view (which the
 * barrier encrypts, so material below is stored only as barrier ciphertext).
 *
 *   policy/<name>          JSON KeyPolicy (transit-key.ts), one record per named key holding every version:
 *                            formatVersion (1), name, type ("aes128-gcm96" | "aes256-gcm96" |
 *                            "chacha20-poly1305" | "ed25519" | "ecdsa-p256" | "ecdsa-p384" | "ecdsa-p521" |
 *                            "rsa-2048" | "rsa-3072" | "rsa-4096" | "hmac"), derived, kdf ("hkdf_sha256"),
 *                            convergentEncryption, exportable, allowPlaintextBackup, deletionAllowed,
 *                            minDecryptionVersion, minEncryptionVersion (0 = latest), minAvailableVersion
 *                            (versions below were trimmed), latestVersion, autoRotatePeriod (seconds, 0 = off),
 *                            importedKey, allowImportedKeyRotation, hsm (material lives in the HSM),
 *                            keys {"<n>": KeyVersion}.
 *                          KeyVersion: creationTime (Go RFC 3339 nanoseconds), and one kind of material:
 *                            key          base64 raw key (AES-128/256, ChaCha20, HMAC key of an hmac key)
 *                            privateKey   base64 PKCS#8 DER (Ed25519, ECDSA, RSA) + publicKey base64 SPKI DER
 *                            hsm          {uri: KeyManager URI ("pkcs11:…"), owned: created by transit (and
 *                                         so deleted with the key) vs referred to with key_ref}
 *                          plus hmacKey (base64, 32 random bytes; absent for hmac and HSM keys): the
 *                          version's key for hmac/:name and (through HKDF) for convergent nonces; and
 *                          convergentNonce (2 on AES/ChaCha versions made since the scheme exists, absent
 *                          on older ones): which convergent nonce scheme the version uses.
 *   config/keys            JSON {disableUpsert}; absent = upsert allowed.
 *   config/wrapping-key    JSON {privateKey: base64 PKCS#8 DER}: the RSA-4096 BYOK wrapping key, made on first
 *                          use of wrapping_key / import.
 *
 * Why this shape: every operation needs the policy and one version, so a key is one record (one get) and
 * every change to it (rotate, config, trim, import_version) is one read-modify-write in one transaction.
 * Versions are few (rotation is rare); a key with thousands of versions would want version records split
 * out, which a new formatVersion can do.
 *
 * CIPHERTEXT FORMAT (on the wire and in clients' databases, forever): "vault:v<N>:" + base64 of
 *   AES-GCM / ChaCha20-Poly1305   nonce (12) ‖ ciphertext ‖ tag (16); derived keys use HKDF-SHA256(version
 *                                 key, salt none, info = context); convergent keys derive the nonce
 *                                 from every AEAD input (convergent-nonce.ts): scheme 2 =
 *                                 HMAC-SHA256(HKDF-SHA256(hmacKey, salt none, info "arca transit
 *                                 convergent nonce v2"), u64be(len ctx) ‖ ctx ‖ u64be(len aad) ‖ aad ‖
 *                                 u64be(len pt) ‖ pt)[:12]; versions without convergentNonce keep
 *                                 scheme 1 = HMAC-SHA256(hmacKey, u32be(len ctx) ‖ ctx ‖ pt)[:12] when
 *                                 the AAD is empty (so stored ciphertexts stay comparable) and use
 *                                 scheme 2 otherwise.
 *                                 HSM keys: the same layout, the nonce chosen by the KeyManager.
 *   RSA                           RSA-OAEP-SHA256 ciphertext.
 * Signatures and HMACs: "vault:v<N>:" + base64 (asn1) or base64url without padding (jws).
 */
import { LogicalBackend } from "../../core/framework/backend.js";
import { silentLogger, type BackendLogger, type SystemView } from "../../core/framework/system-view.js";
import { DEFAULT_INPUT_LIMITS } from "../../core/limits.js";
import type { MountEntry } from "../../core/mounts.js";
import type { KeyManager } from "../../hsm/key-manager.js";
import { POLICY_PREFIX, PolicyCache } from "./key-store.js";
import { backupPath, restorePaths } from "./path-backup.js";
import { cacheConfigPath, keysConfigPath } from "./path-config.js";
import { datakeyPath } from "./path-datakey.js";
import { decryptPath, encryptPath, rewrapPath } from "./path-encrypt.js";
import { exportPaths } from "./path-export.js";
import { importPath, importVersionPath, wrappingKeyPath } from "./path-import.js";
import { keyConfigPath, keyRotatePath, keysListPath, keysPath, keyTrimPath } from "./path-keys.js";
import { hashPaths, randomPaths } from "./path-random.js";
import { hmacPaths, signPaths, verifyPaths } from "./path-sign.js";
import type { TransitEnv } from "./transit-env.js";

import { rotateDueKeys } from "./key-versions.js";

export { rotateDueKeys };

const HELP = `
The transit backend encrypts, decrypts, signs, verifies and HMACs data with named keys that never leave the
server (or, for HSM-backed keys, the HSM), so applications can protect data without holding keys. Keys are
versioned: rotate them, and old ciphertext stays decryptable until min_decryption_version says otherwise.
`;

export interface TransitBackendOptions {
  /** The KeyManager for HSM-backed keys; without it, creating or using HSM keys answers 400/503. */
  keyManager?: KeyManager;
  /** Where auto-rotation reports (key names, never material). */
  logger?: BackendLogger;
  /** Live versions one key may hold; default DEFAULT_INPUT_LIMITS.maxTransitKeyVersions. */
  maxKeyVersions?: number;
  /** The parse cache (tests pass their own to look at what is kept). */
  cache?: PolicyCache;
}

export function createTransitBackendWith(opts: TransitBackendOptions): LogicalBackend {
  const env: TransitEnv = {
    deps: { keyManager: opts.keyManager },
    cache: opts.cache ?? new PolicyCache(),
    maxKeyVersions: opts.maxKeyVersions ?? DEFAULT_INPUT_LIMITS.maxTransitKeyVersions,
  };
  const logger = opts.logger ?? silentLogger;
  return new LogicalBackend({
    type: "transit",
    paths: [
      keysListPath(env),
      keysPath(env),
      keyConfigPath(env),
      keyRotatePath(env),
      keyTrimPath(env),
      importPath(env),
      importVersionPath(env),
      wrappingKeyPath(env),
      encryptPath(env),
      decryptPath(env),
      rewrapPath(env),
      datakeyPath(env),
      ...signPaths(env),
      ...verifyPaths(env),
      ...hmacPaths(env),
      ...exportPaths(env),
      backupPath(env),
      ...restorePaths(env),
      ...randomPaths,
      ...hashPaths,
      keysConfigPath,
      cacheConfigPath,
    ],
    help: HELP,
    // auto_rotate_period: the scheduler's clock decides what is due; a key that fails is retried next run.
    periodic: async ({ storage, now }) => {
      const rotated = await rotateDueKeys(storage, now, env.deps, (name, err) => {
        logger.warn({ key_name: name, error: err instanceof Error ? err.message : String(err) }, "transit key auto-rotation failed");
      });
      if (rotated.length > 0) logger.info({ keys: rotated }, "transit keys auto-rotated");
    },
    // Parsed keys (material included) do not outlive the mount or the unsealed state.
    cleanup: async () => env.cache.clear(),
    // A key changed or was deleted on another node. Reads compare the stored bytes, so a changed key is
    // never used stale; dropping it here is so that a deleted key's parsed material does not stay in this
    // node's memory until the next request names it.
    invalidate: async (key) => {
      if (key.startsWith(POLICY_PREFIX)) env.cache.drop(key.slice(POLICY_PREFIX.length));
    },
  });
}

/** The engine catalog's factory: HSM-backed keys use the core's KeyManager when HSMs are declared. */
export function createTransitBackend(_mount: MountEntry, view: SystemView): LogicalBackend {
  return createTransitBackendWith({ keyManager: view.keyManager, logger: view.logger, maxKeyVersions: view.limits.maxTransitKeyVersions });
}
