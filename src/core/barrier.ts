/**
 * The storage barrier: everything the core and the engines store passes through here and is written as
 *
 *   term (4 bytes, big endian) ‖ format version (1 byte, 0x02) ‖ nonce (12) ‖ AES-256-GCM ciphertext ‖ tag (16)
 *
 * with the storage path as associated data, so a value copied to another key fails to decrypt.
 * The keyring is stored at `core/keyring`, encrypted by the root key; the root key itself is held only
 * by the seals (wrapped, outside the barrier). See docs/storage-layout.md.
 */
import { gcmOpen, gcmSeal, AuthenticationError } from "../crypto/aead.js";
import { ArcaError, sealedError } from "../common/errors.js";
import { Keyring, type RotationConfig } from "./keyring.js";
import { EntryCache } from "./entry-cache.js";
import type { KeyValueReader, KeyValueStore, KeyValueTxn, ListOptions } from "../storage/storage.js";

export const KEYRING_PATH = "core/keyring";
const FORMAT_PATH_AAD = 0x02;
const HEADER_BYTES = 5;

/** Raw-storage keys the barrier never writes through its encrypting interface. */
const RESERVED_PREFIXES = ["core/keyring", "core/seal-config", "core/seal/"];

export interface KeyStatus {
  term: number;
  installTime: Date;
  encryptions: number;
}

export class BarrierCorruptError extends ArcaError {
  constructor(path: string) {
    super("internal", `stored entry failed authentication: ${path}`);
  }
}

export class Barrier implements KeyValueStore {
  private keyring: Keyring | undefined;
  private encryptions = 0;
  /** Decrypted entries of hot paths; cleared (and zeroed) when sealed. */
  private readonly cache = new EntryCache();

  constructor(private readonly storage: KeyValueStore) {}

  get sealed(): boolean {
    return this.keyring === undefined;
  }

  async isInitialized(): Promise<boolean> {
    return (await this.storage.get(KEYRING_PATH)) !== undefined;
  }

  /** Creates the first keyring, protected by `rootKey`. The barrier is left unsealed. */
  async initialize(rootKey: Buffer): Promise<void> {
    if (await this.isInitialized()) throw new ArcaError("invalid_request", "Vault is already initialized");
    const keyring = Keyring.create();
    await this.storage.put(KEYRING_PATH, gcmSeal(rootKey, keyring.serialize(), Buffer.from(KEYRING_PATH)));
    this.keyring = keyring;
  }

  /** Opens the barrier with the root key; throws AuthenticationError for a wrong key. */
  async unseal(rootKey: Buffer): Promise<void> {
    const blob = await this.storage.get(KEYRING_PATH);
    if (!blob) throw new ArcaError("invalid_request", "Vault is not initialized");
    const plain = gcmOpen(rootKey, blob, Buffer.from(KEYRING_PATH));
    try {
      this.keyring = Keyring.deserialize(plain);
    } finally {
      plain.fill(0);
    }
  }

  /** Another server changed `path` (HA): the cached copy, if any, is stale. */
  invalidate(path: string): void {
    this.cache.invalidate(path);
  }

  /** Another server changed an unknown set of entries (HA, after a long disconnection). */
  invalidateAll(): void {
    this.cache.clear();
  }

  seal(): void {
    this.cache.clear();
    this.keyring?.destroy();
    this.keyring = undefined;
  }

  keyStatus(): KeyStatus {
    const t = this.requireKeyring().activeTerm;
    return { term: t.term, installTime: t.installTime, encryptions: this.encryptions };
  }

  rotationConfig(): RotationConfig {
    return { ...this.requireKeyring().rotation };
  }

  /** Installs a new term; needs the root key to re-protect the keyring. */
  async rotate(rootKey: Buffer): Promise<KeyStatus> {
    const next = this.requireKeyring().rotated();
    await this.storage.put(KEYRING_PATH, gcmSeal(rootKey, next.serialize(), Buffer.from(KEYRING_PATH)));
    this.keyring = next;
    this.encryptions = 0;
    return this.keyStatus();
  }

  async setRotationConfig(rootKey: Buffer, config: RotationConfig): Promise<void> {
    const keyring = this.requireKeyring();
    keyring.rotation = { ...config };
    await this.storage.put(KEYRING_PATH, gcmSeal(rootKey, keyring.serialize(), Buffer.from(KEYRING_PATH)));
  }

  async get(path: string): Promise<Buffer | undefined> {
    const hit = this.cache.get(path);
    if (hit) {
      this.requireKeyring();
      return hit;
    }
    const since = this.cache.begin();
    const value = await this.getFrom(this.storage, path);
    if (value !== undefined) this.cache.fill(path, value, since);
    return value;
  }

  async list(prefix: string, opts?: ListOptions): Promise<string[]> {
    this.requireKeyring();
    return this.storage.list(prefix, opts);
  }

  async put(path: string, value: Buffer): Promise<void> {
    const blob = this.encrypt(path, value);
    this.cache.invalidate(path);
    try {
      await this.storage.put(path, blob);
    } finally {
      this.cache.invalidate(path);
    }
  }

  async delete(path: string): Promise<void> {
    this.requireKeyring();
    assertWritable(path);
    this.cache.invalidate(path);
    try {
      await this.storage.delete(path);
    } finally {
      this.cache.invalidate(path);
    }
  }

  async transaction<T>(fn: (txn: KeyValueTxn) => Promise<T>): Promise<T> {
    this.requireKeyring();
    const written = new Set<string>();
    const touch = (path: string): void => {
      written.add(path);
      this.cache.invalidate(path);
    };
    try {
      return await this.storage.transaction((raw) =>
        fn({
          get: (path) => this.getFrom(raw, path),
          list: (prefix, opts) => raw.list(prefix, opts),
          put: async (path, value) => {
            const blob = this.encrypt(path, value);
            touch(path);
            await raw.put(path, blob);
          },
          delete: async (path) => {
            assertWritable(path);
            touch(path);
            await raw.delete(path);
          },
        }),
      );
    } finally {
      // Again once committed (or rolled back): no read that began before this point may be cached.
      for (const path of written) this.cache.invalidate(path);
    }
  }

  private requireKeyring(): Keyring {
    if (!this.keyring) throw sealedError();
    return this.keyring;
  }

  private encrypt(path: string, value: Buffer): Buffer {
    assertWritable(path);
    const term = this.requireKeyring().activeTerm;
    const header = Buffer.alloc(HEADER_BYTES);
    header.writeUInt32BE(term.term, 0);
    header[4] = FORMAT_PATH_AAD;
    this.encryptions++;
    return Buffer.concat([header, gcmSeal(term.key, value, Buffer.from(path, "utf8"))]);
  }

  private async getFrom(source: KeyValueReader, path: string): Promise<Buffer | undefined> {
    const keyring = this.requireKeyring();
    const blob = await source.get(path);
    if (blob === undefined) return undefined;
    if (blob.length < HEADER_BYTES || blob[4] !== FORMAT_PATH_AAD) throw new BarrierCorruptError(path);
    const term = keyring.term(blob.readUInt32BE(0));
    if (!term) throw new BarrierCorruptError(path);
    try {
      return gcmOpen(term.key, blob.subarray(HEADER_BYTES), Buffer.from(path, "utf8"));
    } catch (err) {
      if (err instanceof AuthenticationError) throw new BarrierCorruptError(path);
      throw err;
    }
  }
}

function assertWritable(path: string): void {
  for (const p of RESERVED_PREFIXES) {
    if (path === p || (p.endsWith("/") && path.startsWith(p))) throw new Error(`barrier refuses reserved path ${path}`);
  }
}
