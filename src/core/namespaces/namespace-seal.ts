/**
 * A sealable namespace (beyond OpenBao's Shamir-sealed namespaces): the tenant's data sits behind its own
 * barrier, whose keyring is encrypted by a namespace root key, which is itself encrypted inside the
 * tenant's HSM key (named by a PKCS#11 URI). The HSM never lets the tenant key out; the namespace root
 * key is in memory only while unsealing.
 *
 * The tenant's key is checked on use: every request into the namespace waits for a probe (one at a time,
 * shared by the requests that arrive meanwhile) that decrypts the wrapped root key inside the HSM. When
 * the HSM refuses (key removed, usage denied, token gone) the namespace seals itself and says why; an
 * unseal after the key is back restores everything, since nothing was deleted.
 */
import { randomBytes } from "node:crypto";
import { Barrier } from "../barrier.js";
import { ArcaError } from "../../common/errors.js";
import { zero } from "../../crypto/aead.js";
import { isKeyEncrypter, type KeyEncrypter, type KeyManager } from "../../hsm/key-manager.js";
import type { KeyValueStore } from "../../storage/storage.js";
import type { NamespaceSealEntry } from "./namespace-entry.js";

export const namespaceSealedError = (reason?: string): ArcaError =>
  new ArcaError("sealed", "namespace is sealed", reason ? { details: [reason] } : {});

export const noHsmForSealableNamespaces = (): ArcaError =>
  new ArcaError("invalid_request", "sealable namespaces need an HSM: declare one in the server configuration (hsm block or -dev-hsm)");

function encrypterOf(km: KeyManager | undefined): KeyEncrypter {
  if (!km || !isKeyEncrypter(km)) throw noHsmForSealableNamespaces();
  return km;
}

function aadFor(uuid: string): Buffer {
  return Buffer.from(`arca-namespace-root-key:${uuid}`);
}

export class NamespaceSeal {
  readonly barrier: Barrier;
  /** Why the namespace is sealed, when it sealed itself or could not unseal. */
  reason: string | undefined;
  private probe: Promise<void> | undefined;

  private constructor(
    private readonly uuid: string,
    store: KeyValueStore,
    private readonly keyManager: KeyManager | undefined,
    public entry: NamespaceSealEntry,
  ) {
    this.barrier = new Barrier(store);
  }

  /** Creates the namespace's barrier: a fresh root key, wrapped by the tenant key, opening a new keyring. */
  static async create(uuid: string, store: KeyValueStore, keyManager: KeyManager | undefined, keyUri: string): Promise<NamespaceSeal> {
    const km = encrypterOf(keyManager);
    const rootKey = randomBytes(32);
    try {
      const wrapped = await km.encrypt(keyUri, rootKey, aadFor(uuid)).catch((err: unknown) => {
        throw new ArcaError("invalid_request", `the namespace key ${keyUri} cannot be used: ${err instanceof Error ? err.message : String(err)}`);
      });
      const entry: NamespaceSealEntry = {
        type: "pkcs11",
        keyUri,
        iv: wrapped.iv.toString("base64"),
        ciphertext: wrapped.ciphertext.toString("base64"),
        tag: wrapped.tag.toString("base64"),
      };
      const seal = new NamespaceSeal(uuid, store, keyManager, entry);
      await seal.barrier.initialize(rootKey);
      return seal;
    } finally {
      zero(rootKey);
    }
  }

  /** A sealed handle on an existing sealable namespace (after a restart). */
  static existing(uuid: string, store: KeyValueStore, keyManager: KeyManager | undefined, entry: NamespaceSealEntry): NamespaceSeal {
    return new NamespaceSeal(uuid, store, keyManager, entry);
  }

  get sealed(): boolean {
    return this.barrier.sealed;
  }

  /** Decrypts the root key inside the HSM (the caller must zero it). */
  private async rootKey(): Promise<Buffer> {
    const km = encrypterOf(this.keyManager);
    const ct = { iv: Buffer.from(this.entry.iv, "base64"), ciphertext: Buffer.from(this.entry.ciphertext, "base64"), tag: Buffer.from(this.entry.tag, "base64") };
    try {
      return await km.decrypt(this.entry.keyUri, ct, aadFor(this.uuid));
    } catch (err) {
      throw new ArcaError("sealed", "namespace is sealed", {
        details: [`the namespace key cannot be used: ${err instanceof Error ? err.message : String(err)}`],
        cause: err,
      });
    }
  }

  /** Opens the barrier with the root key from the HSM. Throws 503 with the reason when the HSM refuses. */
  async unseal(): Promise<void> {
    if (!this.sealed) return;
    let rootKey: Buffer;
    try {
      rootKey = await this.rootKey();
    } catch (err) {
      this.reason = err instanceof ArcaError ? err.details[0] : String(err);
      throw err;
    }
    try {
      await this.barrier.unseal(rootKey);
      this.reason = undefined;
    } catch (err) {
      this.reason = "the key in the HSM does not open this namespace's keyring";
      throw new ArcaError("sealed", "namespace is sealed", { details: [this.reason], cause: err });
    } finally {
      zero(rootKey);
    }
  }

  seal(reason?: string): void {
    this.barrier.seal();
    this.reason = reason;
  }

  /**
   * Proves the tenant key still works; concurrent callers share one probe. Rejects (after sealing) when
   * the HSM refuses, so the request that found out gets the 503 with the reason.
   */
  check(onSeal: (reason: string) => void): Promise<void> {
    this.probe ??= this.rootKey()
      .then((key) => zero(key))
      .catch((err: unknown) => {
        const reason = err instanceof ArcaError ? (err.details[0] ?? err.message) : String(err);
        if (!this.sealed) onSeal(reason);
        throw namespaceSealedError(reason);
      })
      .finally(() => {
        this.probe = undefined;
      });
    return this.probe;
  }
}
