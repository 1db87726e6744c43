/**
 * The barrier keyring: encryption keys by term. New data is written under the active term; older terms
 * stay for decryption. The keyring itself is stored encrypted by the root key (see barrier.ts).
 */
import { randomBytes } from "node:crypto";
import { AES256_KEY_BYTES, zero } from "../crypto/aead.js";

export interface KeyTerm {
  term: number;
  key: Buffer;
  installTime: Date;
}

interface KeyringJson {
  active_term: number;
  terms: Array<{ term: number; key: string; install_time: string }>;
  rotation: { max_operations: number; interval_seconds: number; enabled: boolean };
}

export interface RotationConfig {
  maxOperations: number;
  intervalSeconds: number;
  enabled: boolean;
}

/** OpenBao's default: rotate after 3,865,470,566 encryptions (well under the GCM random-nonce bound). */
export const DEFAULT_ROTATION: RotationConfig = { maxOperations: 3_865_470_566, intervalSeconds: 0, enabled: true };

export class Keyring {
  private readonly terms = new Map<number, KeyTerm>();
  private active: KeyTerm;
  rotation: RotationConfig;

  private constructor(terms: KeyTerm[], activeTerm: number, rotation: RotationConfig) {
    for (const t of terms) this.terms.set(t.term, t);
    const active = this.terms.get(activeTerm);
    if (!active) throw new Error("keyring has no active term");
    this.active = active;
    this.rotation = rotation;
  }

  static create(): Keyring {
    return new Keyring([{ term: 1, key: randomBytes(AES256_KEY_BYTES), installTime: new Date() }], 1, { ...DEFAULT_ROTATION });
  }

  static deserialize(bytes: Buffer): Keyring {
    const json = JSON.parse(bytes.toString("utf8")) as KeyringJson;
    const terms = json.terms.map((t) => ({ term: t.term, key: Buffer.from(t.key, "base64"), installTime: new Date(t.install_time) }));
    const r = json.rotation;
    return new Keyring(terms, json.active_term, {
      maxOperations: r.max_operations,
      intervalSeconds: r.interval_seconds,
      enabled: r.enabled,
    });
  }

  serialize(): Buffer {
    const json: KeyringJson = {
      active_term: this.active.term,
      terms: [...this.terms.values()].map((t) => ({ term: t.term, key: t.key.toString("base64"), install_time: t.installTime.toISOString() })),
      rotation: {
        max_operations: this.rotation.maxOperations,
        interval_seconds: this.rotation.intervalSeconds,
        enabled: this.rotation.enabled,
      },
    };
    return Buffer.from(JSON.stringify(json), "utf8");
  }

  get activeTerm(): KeyTerm {
    return this.active;
  }

  term(n: number): KeyTerm | undefined {
    return this.terms.get(n);
  }

  /** Returns a new keyring with one more term, made active; this one is left unchanged. */
  rotated(): Keyring {
    const next = this.active.term + 1;
    const terms = [...this.terms.values(), { term: next, key: randomBytes(AES256_KEY_BYTES), installTime: new Date() }];
    return new Keyring(terms, next, { ...this.rotation });
  }

  destroy(): void {
    for (const t of this.terms.values()) zero(t.key);
    this.terms.clear();
  }
}
