/**
 * The seal seam. The root key (which protects the barrier keyring) is stored only wrapped, once per
 * configured seal, outside the barrier (raw storage, under prefixes the barrier refuses to write):
 *
 *   core/seal-config              { type, secret_shares, secret_threshold, recovery_shares, recovery_threshold }
 *   core/seal/<seal name>         the root key wrapped by that seal
 *   core/seal/recovery/<name>     the recovery key wrapped by that auto seal (OpenBao's core/recovery-key)
 *
 * Any one seal that can unwrap its copy unseals. A Shamir seal wraps with an unseal key that exists
 * only as operator shares; an auto seal (PKCS#11 HSM) wraps with a key it holds itself. With auto seals
 * the operators hold recovery shares instead: they authorise (privileged operations, unseal after a
 * manual seal, migration) but the root key still comes from an auto seal — unless a Shamir seal is
 * configured beside them, in which case the recovery key is also that seal's unseal key (break glass).
 */
export interface AutoSeal {
  /** e.g. "pkcs11" */
  readonly type: string;
  /** Unique per configuration, used as the storage name of its wrapped copy. */
  readonly name: string;
  wrap(plaintext: Buffer, aad: Buffer): Promise<Buffer>;
  unwrap(blob: Buffer, aad: Buffer): Promise<Buffer>;
  /**
   * True when retrying cannot help (a wrong PIN: an HSM may wipe itself after a few), so the caller
   * stops instead of backing off and trying again.
   */
  isFinalError?(err: unknown): boolean;
  /**
   * Live state of the device the seal needs (its HSM token), undefined when not known yet: health reports
   * follow the device between the periodic seal checks (down while it is away, back when it returns).
   */
  deviceHealth?(): { up: boolean; error?: string } | undefined;
  /** Checks the device now (a cheap call), updating deviceHealth. Never throws. */
  probeDevice?(): Promise<void>;
  /** True for failures that only mean "the device is away": they clear once deviceHealth is up again. */
  isUnavailableError?(err: unknown): boolean;
  /** URIs of the HSM keys this seal uses: key custody keeps them out of every API. */
  readonly keyUris?: readonly string[];
  /** Releases sessions (server shutdown). */
  close?(): Promise<void>;
}

export const SHAMIR = "shamir";

/** One `seal` block of the server configuration: an auto seal, or Shamir (operator shares). */
export interface ConfiguredSeal {
  name: string;
  type: string;
  /** OpenBao's `disabled = "true"`: the old seal during a migration, used only to unwrap. */
  disabled: boolean;
  /** Absent for the Shamir seal. */
  auto?: AutoSeal;
}

export interface SealConfig {
  /** "shamir", or the type of the first auto seal (what seal-status reports). */
  type: string;
  /** Unseal-key shares (type shamir); 0 with auto seals. */
  secret_shares: number;
  secret_threshold: number;
  /** Recovery-key shares (auto seals). */
  recovery_shares?: number;
  recovery_threshold?: number;
}

/** Per-seal health as sys/seal-status and sys/health report it. */
export interface SealHealth {
  name: string;
  type: string;
  healthy: boolean;
  /** Why the last attempt failed (never key material or a PIN: HSM errors carry function + CKR only). */
  error?: string;
  /** The seal holds a wrapped copy of the root key. */
  hasCopy: boolean;
}

export const SEAL_CONFIG_PATH = "core/seal-config";
export const SEAL_PREFIX = "core/seal/";
export const RECOVERY_PREFIX = "core/seal/recovery/";
export const wrappedRootKeyPath = (sealName: string): string => `${SEAL_PREFIX}${sealName}`;
export const wrappedRecoveryKeyPath = (sealName: string): string => `${RECOVERY_PREFIX}${sealName}`;

/** Seal names become storage keys; "recovery" is the recovery-key folder. */
export function validSealName(name: string): boolean {
  return /^[A-Za-z0-9_.-]{1,64}$/.test(name) && name !== "recovery";
}

export function isAutoSealType(config: SealConfig): boolean {
  return config.type !== SHAMIR;
}

/** Shares and threshold of the key the operators hold (unseal key or recovery key). */
export function operatorShares(config: SealConfig): { shares: number; threshold: number } {
  return isAutoSealType(config)
    ? { shares: config.recovery_shares ?? 0, threshold: config.recovery_threshold ?? 0 }
    : { shares: config.secret_shares, threshold: config.secret_threshold };
}
