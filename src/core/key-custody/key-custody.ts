/**
 * Who may use a key in the HSM (DESIGN §7). A URI, label or name a caller sends is an address, never an
 * authority: every use is decided on the object's identity (token serial, class, CKA_ID), and allowed only
 *
 *  - to the mount that created the object (its owner, recorded here when the mount creates it), or
 *  - through an operator's grant: a managed key registered in the namespace (`sys/managed-keys/pkcs11/:name`)
 *    and allowed on the mount (`allowed_managed_keys` on tune, or the key's `any_mount`).
 *
 * Seal keys (the server's, and every sealable namespace's root-wrapping key) are never usable through the
 * API: they carry an owner record that no mount matches, and the configured seals' keys are also held in
 * memory as reserved, so a grant naming one is refused when it is made and when it is used.
 *
 * Storage (root barrier): `core/key-owners/<sha256(identity)>` → OwnerRecord. A guess, a missing key, a key
 * of another owner and a seal key all get the same answer (KeyNotUsableError).
 */
import { createHash } from "node:crypto";
import { ArcaError } from "../../common/errors.js";
import { keyErrorToArca } from "../key-api-errors.js";
import { KeyUnavailableError } from "../../hsm/key-errors.js";
import { getJson, putJson } from "../view.js";
import { identityKey, type KeyIdentity, type KeyManager, type Signer } from "../../hsm/key-manager.js";
import type { KeyValueStore } from "../../storage/storage.js";
import type { MountEntry } from "../mounts.js";
import { findGrantByIdentity, loadManagedKey, type ManagedKeyEntry } from "./managed-keys.js";
import { MountKeyManager } from "./mount-key-manager.js";
import { asNotUsable, KeyNotUsableError, type CustodyNamespace, type KeyScope, type ScopedCustody } from "./key-scope.js";

export { asNotUsable, KeyNotUsableError, type CustodyNamespace, type KeyScope } from "./key-scope.js";

export type OwnerRecord =
  | { kind: "mount"; identity: KeyIdentity; namespace: string; mount: string; createdAt: string }
  | { kind: "namespace-seal"; identity: KeyIdentity; namespace: string; createdAt: string }
  | { kind: "system"; identity: KeyIdentity; purpose: string; createdAt: string };

const OWNERS_PREFIX = "core/key-owners/";
/** `core/system-keys/<purpose>` → {uri}: keys the server itself uses (audit checkpoint signing). */
const SYSTEM_KEYS_PREFIX = "core/system-keys/";

export class KeyCustody implements ScopedCustody {
  /** Identity keys of the configured seals' keys: refused whatever a record or grant says. */
  private readonly reserved = new Set<string>();
  /** Seal key URIs not identified yet (their HSM was away): grants are refused until they are. */
  private pendingSealUris: string[] = [];
  /** Bumped by every change that can withdraw a permission; scoped managers drop what they cached. */
  private gen = 0;
  private readonly systemSigners = new Map<string, Promise<Signer>>();

  constructor(
    readonly keyManager: KeyManager,
    /** The root barrier (owner records live there), available while unsealed. */
    private readonly rootStore: () => KeyValueStore,
  ) {}

  get generation(): number {
    return this.gen;
  }

  /** Withdraws every cached permission (a grant, a tune or an owner record changed). */
  invalidate(): void {
    this.gen++;
  }

  /** The key manager a mount's engine gets: every call checked against this mount's rights. */
  forMount(ns: CustodyNamespace, mount: MountEntry): MountKeyManager {
    const uuid = mount.uuid;
    return new MountKeyManager(this, { ns, mountUuid: uuid, mount: () => ns.mountByUuid(uuid) });
  }

  /** Records the configured seals' key URIs; identified now and whenever a grant is about to be made. */
  async reserveSealKeys(uris: readonly string[]): Promise<void> {
    this.pendingSealUris = [...new Set([...this.pendingSealUris, ...uris])];
    await this.identifyPendingSealKeys();
  }

  private async identifyPendingSealKeys(): Promise<boolean> {
    const still: string[] = [];
    for (const uri of this.pendingSealUris) {
      try {
        this.reserved.add(identityKey(await this.keyManager.identify(uri)));
      } catch (err) {
        // HSM away: try again before the next grant. A key that is absent or has no CKA_ID cannot be
        // granted either, so it needs no reservation.
        if (err instanceof KeyUnavailableError) still.push(uri);
      }
    }
    this.pendingSealUris = still;
    if (still.length === 0) this.invalidate();
    return still.length === 0;
  }

  /** The identity of the key at `uri`; every failure but an unavailable HSM is KeyNotUsableError. */
  async identify(uri: string): Promise<KeyIdentity> {
    try {
      return await this.keyManager.identify(uri);
    } catch (err) {
      throw asNotUsable(err);
    }
  }

  /** Throws KeyNotUsableError unless `scope` may use the key with this identity. */
  async authorize(scope: KeyScope, identity: KeyIdentity): Promise<void> {
    if (this.reserved.has(identityKey(identity))) throw new KeyNotUsableError();
    const owner = await this.ownerOf(identity);
    if (owner) {
      if (owner.kind === "mount" && owner.namespace === scope.ns.entry.uuid && owner.mount === scope.mountUuid) return;
      throw new KeyNotUsableError();
    }
    const mount = scope.mount();
    const grant = await findGrantByIdentity(scope.ns.store, identity);
    if (!mount || !grant || !grantAllows(grant, mount)) throw new KeyNotUsableError();
  }

  /** True when `scope`'s mount created the key (grants do not count: a granted key is the operator's). */
  async isOwner(scope: KeyScope, identity: KeyIdentity): Promise<boolean> {
    const owner = await this.ownerOf(identity);
    return owner?.kind === "mount" && owner.namespace === scope.ns.entry.uuid && owner.mount === scope.mountUuid;
  }

  /** The canonical URI of the managed key `name` of the scope's namespace, if this mount may use it. */
  async managedKeyUri(scope: KeyScope, name: string): Promise<string> {
    const grant = await loadManagedKey(scope.ns.store, name);
    const mount = scope.mount();
    if (!grant || !mount || !grantAllows(grant, mount)) throw new ArcaError("invalid_request", `no managed key named "${name.slice(0, 128)}" may be used by this mount`);
    return grant.uri;
  }

  /** Makes `scope`'s mount the owner of a key it just created. */
  async recordMountOwner(scope: KeyScope, identity: KeyIdentity): Promise<void> {
    const record: OwnerRecord = { kind: "mount", identity, namespace: scope.ns.entry.uuid, mount: scope.mountUuid, createdAt: new Date().toISOString() };
    // A fresh object has a fresh CKA_ID, so a record already there means the token re-used an id: never take it over.
    if (!(await this.claim(record))) throw new ArcaError("internal", "a new HSM key has the identity of a key that is already owned");
  }

  /** Forgets the owner of a key that was deleted from the HSM. */
  async forgetOwner(identity: KeyIdentity): Promise<void> {
    await this.rootStore().delete(ownerKey(identity));
    this.invalidate();
  }

  /**
   * Checks that an operator may grant the key at `uri` (no owner, not a seal key) and returns its identity.
   * Refused while a configured seal key cannot be identified: it might be this very key.
   */
  async checkGrantable(uri: string): Promise<KeyIdentity> {
    if (!(await this.identifyPendingSealKeys())) {
      throw new ArcaError("unavailable", "a seal key's HSM cannot be reached, so no key can be granted now; retry when it is back");
    }
    const identity = await this.identify(uri).catch((err: unknown) => {
      throw keyErrorToArca(err);
    });
    if (this.reserved.has(identityKey(identity)) || (await this.ownerOf(identity))) {
      throw new ArcaError("invalid_request", "this key is owned by a mount or a seal and cannot be granted");
    }
    return identity;
  }

  /**
   * A sealable namespace's root-wrapping key: it must be granted to the parent namespace (a managed key there)
   * and owned by no mount; from then on it belongs to namespace seals (one tenant key may seal several of the
   * tenant's namespaces: the wrapped root keys are bound to each namespace's uuid) and no mount may use it.
   * Returns the identity when this call made the record (so a failed create can take it back).
   */
  async claimNamespaceSealKey(parent: CustodyNamespace, uri: string, namespaceUuid: string): Promise<{ identity: KeyIdentity; fresh: boolean }> {
    const refused = (): ArcaError =>
      new ArcaError("invalid_request", "the namespace key must be a managed key granted to the parent namespace and used by no mount (sys/managed-keys/pkcs11/:name)");
    const identity = await this.identify(uri).catch((err: unknown) => {
      throw err instanceof KeyNotUsableError ? refused() : keyErrorToArca(err);
    });
    if (this.reserved.has(identityKey(identity)) || !(await findGrantByIdentity(parent.store, identity))) throw refused();
    if (await this.claim({ kind: "namespace-seal", identity, namespace: namespaceUuid, createdAt: new Date().toISOString() })) return { identity, fresh: true };
    if ((await this.ownerOf(identity))?.kind !== "namespace-seal") throw refused();
    return { identity, fresh: false };
  }

  /**
   * A signing key the server itself uses for `purpose` (created in the HSM on first use, owned by the
   * system, so no mount can ever use it). Concurrent first uses create one key.
   */
  systemSigner(purpose: string): Promise<Signer> {
    let pending = this.systemSigners.get(purpose);
    if (!pending) {
      pending = this.loadOrCreateSystemKey(purpose);
      this.systemSigners.set(purpose, pending);
      pending.catch(() => this.systemSigners.delete(purpose)); // retried on the next use
    }
    return pending;
  }

  private async loadOrCreateSystemKey(purpose: string): Promise<Signer> {
    const stored = await getJson<{ uri: string }>(this.rootStore(), SYSTEM_KEYS_PREFIX + purpose);
    if (stored) return this.keyManager.createSigner(stored.uri);
    const created = await this.keyManager.createKey({ algorithm: "ec-p256", label: `arca-${purpose}` });
    const identity = await this.keyManager.identify(created.uri);
    await this.claim({ kind: "system", identity, purpose, createdAt: new Date().toISOString() });
    await putJson(this.rootStore(), SYSTEM_KEYS_PREFIX + purpose, { uri: created.uri });
    return this.keyManager.createSigner(created.uri);
  }

  /** Forgets cached system signers (seal: the next unseal may find another storage). */
  reset(): void {
    this.systemSigners.clear();
  }

  private async ownerOf(identity: KeyIdentity): Promise<OwnerRecord | undefined> {
    return getJson<OwnerRecord>(this.rootStore(), ownerKey(identity));
  }

  /** Writes the owner record unless the key already has one (atomically: two claims, one winner). */
  private async claim(record: OwnerRecord): Promise<boolean> {
    const key = ownerKey(record.identity);
    const won = await this.rootStore().transaction(async (txn) => {
      if ((await txn.get(key)) !== undefined) return false;
      await putJson(txn, key, record);
      return true;
    });
    // A namespace seal taking a granted key withdraws the grant from every mount; a mount's fresh key
    // withdraws nothing, so the cached checks of other mounts stay.
    if (won && record.kind === "namespace-seal") this.invalidate();
    return won;
  }
}

function grantAllows(grant: ManagedKeyEntry, mount: MountEntry): boolean {
  return grant.anyMount || (mount.config.allowedManagedKeys ?? []).includes(grant.name);
}

function ownerKey(identity: KeyIdentity): string {
  return OWNERS_PREFIX + createHash("sha256").update(identityKey(identity)).digest("hex");
}
