/**
 * Init and unseal: produces the root key at initialisation and gets it back at unseal, from operator
 * shares (Shamir) or from an auto seal. It never stores the root key or the unseal key in plaintext.
 */
import { randomBytes } from "node:crypto";
import { AES256_KEY_BYTES, AuthenticationError, gcmOpen, gcmSeal, zero } from "../crypto/aead.js";
import { ArcaError } from "../core/errors.js";
import { combineShares, splitSecret } from "./shamir.js";
import { SEAL_CONFIG_PATH, wrappedRootKeyPath, type AutoSeal, type SealConfig } from "./seal.js";
import type { Storage } from "../storage/storage.js";

const SHAMIR = "shamir";

export interface InitParams {
  secretShares: number;
  secretThreshold: number;
}

export interface InitResult {
  rootKey: Buffer;
  keys: Buffer[];
}

function validateShares(shares: number, threshold: number): void {
  if (shares < 1) throw new ArcaError("invalid_request", "shares must be at least one");
  if (threshold < 1) throw new ArcaError("invalid_request", "threshold must be at least one");
  if (shares > 1 && threshold === 1) throw new ArcaError("invalid_request", "threshold must be greater than one for multiple shares");
  if (shares > 255) throw new ArcaError("invalid_request", "shares must be less than 256");
  if (threshold > shares) throw new ArcaError("invalid_request", "threshold cannot be larger than shares");
}

export class SealManager {
  private config: SealConfig | undefined;
  private pending: Buffer[] = [];
  private attemptNonce = "";

  constructor(
    private readonly storage: Storage,
    private readonly autoSeals: AutoSeal[] = [],
  ) {}

  get type(): string {
    return this.autoSeals[0]?.type ?? SHAMIR;
  }

  async loadConfig(): Promise<SealConfig | undefined> {
    const raw = await this.storage.get(SEAL_CONFIG_PATH);
    this.config = raw ? (JSON.parse(raw.toString("utf8")) as SealConfig) : undefined;
    return this.config;
  }

  get sealConfig(): SealConfig | undefined {
    return this.config;
  }

  get progress(): number {
    return this.pending.length;
  }

  get nonce(): string {
    return this.attemptNonce;
  }

  /** Generates the root key and the unseal key, stores the root key wrapped, returns the shares. */
  async initialize(p: InitParams): Promise<InitResult> {
    validateShares(p.secretShares, p.secretThreshold);
    if (await this.storage.get(SEAL_CONFIG_PATH)) throw new ArcaError("invalid_request", "Vault is already initialized");
    const rootKey = randomBytes(AES256_KEY_BYTES);
    const unsealKey = randomBytes(AES256_KEY_BYTES);
    try {
      const keys = await splitSecret(unsealKey, p.secretShares, p.secretThreshold);
      const config: SealConfig = { type: SHAMIR, secret_shares: p.secretShares, secret_threshold: p.secretThreshold };
      const path = wrappedRootKeyPath(SHAMIR);
      await this.storage.transaction(async (txn) => {
        await txn.put(path, gcmSeal(unsealKey, rootKey, Buffer.from(path)));
        await txn.put(SEAL_CONFIG_PATH, Buffer.from(JSON.stringify(config)));
      });
      this.config = config;
      return { rootKey, keys };
    } finally {
      zero(unsealKey);
    }
  }

  /**
   * Adds one operator share. Returns the root key once the threshold is reached and the combined key
   * opens the stored root key; a wrong combination resets progress and is a 400.
   */
  async submitShare(share: Buffer): Promise<Buffer | undefined> {
    const config = this.config ?? (await this.loadConfig());
    if (!config) throw new ArcaError("invalid_request", "Vault is not initialized");
    if (this.pending.length === 0) this.attemptNonce = randomBytes(16).toString("hex");
    if (this.pending.some((s) => s.equals(share))) return undefined; // the same share twice counts once
    this.pending.push(Buffer.from(share));
    if (this.pending.length < config.secret_threshold) return undefined;
    const shares = this.pending;
    this.pending = [];
    this.resetProgress();
    let unsealKey: Buffer | undefined;
    try {
      try {
        unsealKey = await combineShares(shares);
      } catch {
        // Malformed shares (duplicate x-coordinates, mixed lengths) are the caller's error.
        throw new AuthenticationError();
      }
      const path = wrappedRootKeyPath(SHAMIR);
      const wrapped = await this.storage.get(path);
      if (!wrapped) throw new ArcaError("internal", "no wrapped root key for the shamir seal");
      return gcmOpen(unsealKey, wrapped, Buffer.from(path));
    } catch (err) {
      if (err instanceof AuthenticationError || err instanceof RangeError || err instanceof TypeError) {
        throw new ArcaError("invalid_request", "invalid key: the unseal keys given do not open this server");
      }
      throw err;
    } finally {
      zero(unsealKey, ...shares);
    }
  }

  resetProgress(): void {
    zero(...this.pending);
    this.pending = [];
    this.attemptNonce = "";
  }
}
