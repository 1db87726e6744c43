// What `arca kms-plugin` does for the Kubernetes API server (KMS v2: Status, Encrypt, Decrypt), apart from
// gRPC. It holds one current L4 data key from a keychain system (refreshed every `refreshMs`), seals each
// payload locally with it (envelope.ts) and keeps the unwrapped data keys it has seen in a bounded cache
// with a TTL, so Decrypt calls Arca once per data key rather than once per object.
//
// Revocation: Arca cannot reach into this process, so cached keys bound how long data stays readable after
// the keychain's kill switch: at most `cacheTtlMs` (default 5 min), and at once when Status or any call
// finds Arca refusing (every cached key is dropped and zeroed then). The API server polls Status about once a
// minute.
import { createHash } from "node:crypto";
import { DataKeyRefusedError, DataKeyUnavailableError, type DataKeySource } from "./data-key-source.js";
import { openEnvelope, sealEnvelope } from "./envelope.js";

export const KMS_API_VERSION = "v2";

export interface KmsServiceOptions {
  /** Age after which Encrypt uses a fresh data key (default 1 h). */
  refreshMs?: number;
  /** Unwrapped data keys kept for Decrypt (default 1000). */
  cacheSize?: number;
  /** How long an unwrapped data key stays cached (default 5 min). */
  cacheTtlMs?: number;
  now?: () => number;
}

export interface StatusResult {
  version: string;
  healthz: string;
  keyId: string;
}

interface CachedKey {
  key: Buffer;
  expiresAt: number;
}

interface CurrentKey {
  key: Buffer;
  wrapped: string;
  keyId: string;
  createdAt: number;
}

/** The key_id the API server sees: derived from the wrapped data key, so it names it without revealing it. */
export function keyIdOf(wrapped: string): string {
  return `arca-${createHash("sha256").update(wrapped, "utf8").digest("hex").slice(0, 32)}`;
}

export class KmsService {
  private readonly refreshMs: number;
  private readonly cacheSize: number;
  private readonly cacheTtlMs: number;
  private readonly now: () => number;
  private current?: CurrentKey;
  private generating?: Promise<CurrentKey>;
  /** Unwrapped keys by wrapped text, least recently used first (Map order). */
  private readonly cache = new Map<string, CachedKey>();
  private readonly unwrapping = new Map<string, Promise<Buffer>>();

  constructor(
    private readonly source: DataKeySource,
    opts: KmsServiceOptions = {},
  ) {
    this.refreshMs = opts.refreshMs ?? 3_600_000;
    this.cacheSize = opts.cacheSize ?? 1000;
    this.cacheTtlMs = opts.cacheTtlMs ?? 300_000;
    this.now = opts.now ?? Date.now;
  }

  /** Healthy only when Arca answers and still unwraps the current data key (a revoked chain is unhealthy). */
  async status(): Promise<StatusResult> {
    try {
      const current = await this.currentKey();
      const key = await this.guard(() => this.source.unwrap(current.wrapped));
      key.fill(0);
      return { version: KMS_API_VERSION, healthz: "ok", keyId: current.keyId };
    } catch (err) {
      return { version: KMS_API_VERSION, healthz: healthText(err), keyId: this.current?.keyId ?? "" };
    }
  }

  async encrypt(plaintext: Buffer): Promise<{ ciphertext: Buffer; keyId: string }> {
    const current = await this.currentKey();
    // A copy: between the await and here a refusal elsewhere may have zeroed the held key.
    const key = Buffer.from(current.key);
    try {
      return { ciphertext: sealEnvelope(key, current.wrapped, plaintext), keyId: current.keyId };
    } finally {
      key.fill(0);
    }
  }

  /** Throws EnvelopeError for a blob that is not ours or was altered. */
  async decrypt(ciphertext: Buffer): Promise<Buffer> {
    const env = openEnvelope(ciphertext);
    const key = await this.dataKey(env.wrapped);
    try {
      return env.decrypt(key);
    } finally {
      key.fill(0);
    }
  }

  /** Drops and zeroes every data key held (revocation seen, or shutdown). */
  forgetKeys(): void {
    for (const c of this.cache.values()) c.key.fill(0);
    this.cache.clear();
    this.current?.key.fill(0);
    this.current = undefined;
  }

  private async currentKey(): Promise<CurrentKey> {
    const c = this.current;
    if (c && this.now() - c.createdAt < this.refreshMs) return c;
    // Concurrent Encrypts share one request to Arca.
    this.generating ??= this.guard(() => this.source.generate())
      .then((dk) => {
        const next: CurrentKey = { key: dk.plaintext, wrapped: dk.wrapped, keyId: keyIdOf(dk.wrapped), createdAt: this.now() };
        // The old key stays readable through the cache, like any other data key.
        if (this.current) this.remember(this.current.wrapped, Buffer.from(this.current.key));
        this.current?.key.fill(0);
        this.current = next;
        return next;
      })
      .finally(() => {
        this.generating = undefined;
      });
    return this.generating;
  }

  /** A copy of the unwrapped data key (the caller zeroes it). */
  private async dataKey(wrapped: string): Promise<Buffer> {
    if (this.current?.wrapped === wrapped) return Buffer.from(this.current.key);
    const hit = this.cache.get(wrapped);
    if (hit && hit.expiresAt > this.now()) {
      this.cache.delete(wrapped);
      this.cache.set(wrapped, hit);
      return Buffer.from(hit.key);
    }
    if (hit) this.evict(wrapped);
    let pending = this.unwrapping.get(wrapped);
    if (!pending) {
      pending = this.guard(() => this.source.unwrap(wrapped))
        .then((key) => {
          this.remember(wrapped, key);
          return key;
        })
        .finally(() => this.unwrapping.delete(wrapped));
      this.unwrapping.set(wrapped, pending);
    }
    return Buffer.from(await pending);
  }

  private remember(wrapped: string, key: Buffer): void {
    this.evict(wrapped);
    this.cache.set(wrapped, { key, expiresAt: this.now() + this.cacheTtlMs });
    while (this.cache.size > this.cacheSize) this.evict(this.cache.keys().next().value as string);
  }

  private evict(wrapped: string): void {
    const c = this.cache.get(wrapped);
    if (!c) return;
    c.key.fill(0);
    this.cache.delete(wrapped);
  }

  /** Runs a call to Arca; when Arca refuses, nothing this process holds may keep decrypting. */
  private async guard<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof DataKeyRefusedError) this.forgetKeys();
      throw err;
    }
  }
}

function healthText(err: unknown): string {
  if (err instanceof DataKeyRefusedError || err instanceof DataKeyUnavailableError) return err.message;
  return "Arca KMS plugin error";
}
