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
 *
 * The tenant key may instead be a keychain L1 of a mount in the parent namespace (seal type "keychain",
 * namespace-key-source.ts): the root key is wrapped through that L1's keystore, and the L1's state decides
 * on every check, so revoking that one L1 seals the namespace and enabling it lets it unseal again.
 */
import { randomBytes } from "node:crypto";
import { Barrier } from "../barrier.js";
import { ArcaError } from "../../common/errors.js";
import { zero } from "../../crypto/aead.js";
import { isKeyEncrypter, type KeyEncrypter, type KeyManager } from "../../hsm/key-manager.js";
import type { KeyValueStore } from "../../storage/storage.js";
import type { MountedBackend } from "../router.js";
import type { NamespaceSealEntry } from "./namespace-entry.js";
import { namespaceKeySourceOf, type NamespaceKeySource } from "./namespace-key-source.js";

/** Which key a new sealable namespace is sealed by: an HSM key, or a keychain L1 in the parent namespace. */
export type SealSpec = { type: "pkcs11"; keyUri: string } | { type: "keychain"; mount: string; key: string };

/** What a seal needs of the server and the parent namespace. */
export interface SealDeps {
  keyManager: KeyManager | undefined;
  /** A mount of the parent namespace by route ("kc/"): where keychain seals find their L1. */
  parentMount(route: string): MountedBackend | undefined;
}

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

/** The keychain mount at `route` in the parent namespace and its key source, or a refusal saying why. */
function keySourceAt(deps: SealDeps, route: string): { source: NamespaceKeySource; storage: KeyValueStore } {
  const mounted = deps.parentMount(route);
  const source = mounted ? namespaceKeySourceOf(mounted.backend) : undefined;
  if (!mounted || !source) throw new ArcaError("invalid_request", `no keychain mount at ${route} in the parent namespace`);
  return { source, storage: mounted.storage };
}

const unusable = (what: string, err: unknown): ArcaError =>
  new ArcaError("invalid_request", `the namespace key ${what} cannot be used: ${err instanceof Error ? err.message : String(err)}`);

export class NamespaceSeal {
  readonly barrier: Barrier;
  /** Why the namespace is sealed, when it sealed itself or could not unseal. */
  reason: string | undefined;
  private probe: Promise<void> | undefined;

  private constructor(
    private readonly uuid: string,
    store: KeyValueStore,
    private readonly deps: SealDeps,
    public entry: NamespaceSealEntry,
  ) {
    this.barrier = new Barrier(store);
  }

  /** Creates the namespace's barrier: a fresh root key, wrapped by the tenant key, opening a new keyring. */
  static async create(uuid: string, store: KeyValueStore, deps: SealDeps, spec: SealSpec): Promise<NamespaceSeal> {
    const rootKey = randomBytes(32);
    try {
      const entry = await NamespaceSeal.wrap(uuid, deps, spec, rootKey);
      const seal = new NamespaceSeal(uuid, store, deps, entry);
      await seal.barrier.initialize(rootKey);
      return seal;
    } finally {
      zero(rootKey);
    }
  }

  private static async wrap(uuid: string, deps: SealDeps, spec: SealSpec, rootKey: Buffer): Promise<NamespaceSealEntry> {
    if (spec.type === "keychain") {
      const { source, storage } = keySourceAt(deps, spec.mount);
      const wrapped = await source.wrapRootKey(storage, spec.key, rootKey, aadFor(uuid)).catch((err: unknown) => {
        throw unusable(`${spec.mount}keys/${spec.key}`, err);
      });
      return { type: "keychain", mount: spec.mount, key: spec.key, ...wrapped };
    }
    const km = encrypterOf(deps.keyManager);
    const wrapped = await km.encrypt(spec.keyUri, rootKey, aadFor(uuid)).catch((err: unknown) => {
      throw unusable(spec.keyUri, err);
    });
    return {
      type: "pkcs11",
      keyUri: spec.keyUri,
      iv: wrapped.iv.toString("base64"),
      ciphertext: wrapped.ciphertext.toString("base64"),
      tag: wrapped.tag.toString("base64"),
    };
  }

  /** A sealed handle on an existing sealable namespace (after a restart). */
  static existing(uuid: string, store: KeyValueStore, deps: SealDeps, entry: NamespaceSealEntry): NamespaceSeal {
    return new NamespaceSeal(uuid, store, deps, entry);
  }

  get sealed(): boolean {
    return this.barrier.sealed;
  }

  /** Decrypts the root key inside the HSM, or through the keychain L1 (the caller must zero it). */
  private async rootKey(): Promise<Buffer> {
    try {
      return await this.unwrapRootKey(this.entry);
    } catch (err) {
      throw new ArcaError("sealed", "namespace is sealed", {
        details: [`the namespace key cannot be used: ${err instanceof Error ? err.message : String(err)}`],
        cause: err,
      });
    }
  }

  private async unwrapRootKey(entry: NamespaceSealEntry): Promise<Buffer> {
    if (entry.type === "keychain") {
      const { source, storage } = keySourceAt(this.deps, entry.mount);
      return source.unwrapRootKey(storage, entry.key, { keyId: entry.keyId, version: entry.version, blob: entry.blob }, aadFor(this.uuid));
    }
    const km = encrypterOf(this.deps.keyManager);
    const ct = { iv: Buffer.from(entry.iv, "base64"), ciphertext: Buffer.from(entry.ciphertext, "base64"), tag: Buffer.from(entry.tag, "base64") };
    return km.decrypt(entry.keyUri, ct, aadFor(this.uuid));
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
