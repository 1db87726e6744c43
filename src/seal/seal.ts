/**
 * The seal seam. The root key (which protects the barrier keyring) is stored only wrapped, once per
 * configured seal, outside the barrier:
 *
 *   core/seal-config          { type, secret_shares, secret_threshold, recovery_* }   (plain JSON)
 *   core/seal/<seal name>     the root key wrapped by that seal
 *
 * Any one seal that can unwrap its copy unseals. A Shamir seal wraps with an unseal key that exists
 * only as operator shares; an auto seal (PKCS#11 HSM, issue 3) wraps with a key it holds itself.
 */
export interface AutoSeal {
  /** e.g. "pkcs11" */
  readonly type: string;
  /** Unique per configuration, used as the storage name of its wrapped copy. */
  readonly name: string;
  wrap(plaintext: Buffer, aad: Buffer): Promise<Buffer>;
  unwrap(blob: Buffer, aad: Buffer): Promise<Buffer>;
}

export interface SealConfig {
  type: string;
  secret_shares: number;
  secret_threshold: number;
  recovery_shares?: number;
  recovery_threshold?: number;
}

export const SEAL_CONFIG_PATH = "core/seal-config";
export const wrappedRootKeyPath = (sealName: string): string => `core/seal/${sealName}`;
