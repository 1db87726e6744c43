/**
 * What a mount-scoped key manager is checked against, and what it needs of KeyCustody: kept apart from
 * key-custody.ts so that the scoped manager and custody do not import each other.
 */
import { KeyError, KeyNotFoundError, KeyReferenceError, KeyUnavailableError } from "../../hsm/key-errors.js";
import type { KeyIdentity, KeyManager } from "../../hsm/key-manager.js";
import type { KeyValueStore } from "../../storage/storage.js";
import type { MountEntry } from "../mounts.js";

/**
 * Same class as a missing key, so engines that already answer "not found" for a missing HSM key answer the
 * same for a key they may not use; the message is one for every case.
 */
export class KeyNotUsableError extends KeyNotFoundError {
  constructor() {
    super("no key that this mount may use is at that reference");
  }
}

/** The namespace a mount lives in, as custody sees it: its uuid, its store (grants live there), its mounts. */
export interface CustodyNamespace {
  entry: { uuid: string };
  store: KeyValueStore;
  mountByUuid(uuid: string): MountEntry | undefined;
}

/** What a use is checked against: the mount asking, and the namespace it lives in. */
export interface KeyScope {
  ns: CustodyNamespace;
  mountUuid: string;
  /** The mount's current entry (tune replaces it), or undefined once unmounted. */
  mount(): MountEntry | undefined;
}

/** The custody calls a mount's key manager makes (KeyCustody implements them). */
export interface ScopedCustody {
  readonly keyManager: KeyManager;
  /** Bumped whenever a permission may have been withdrawn. */
  readonly generation: number;
  identify(uri: string): Promise<KeyIdentity>;
  authorize(scope: KeyScope, identity: KeyIdentity): Promise<void>;
  isOwner(scope: KeyScope, identity: KeyIdentity): Promise<boolean>;
  managedKeyUri(scope: KeyScope, name: string): Promise<string>;
  recordMountOwner(scope: KeyScope, identity: KeyIdentity): Promise<void>;
  forgetOwner(identity: KeyIdentity): Promise<void>;
}

/**
 * An unavailable HSM stays what it is (502, retried) and a malformed URI keeps its syntax message (it says
 * nothing about what exists); anything else about the reference reads as "not usable".
 */
export function asNotUsable(err: unknown): Error {
  if (err instanceof KeyUnavailableError || err instanceof KeyReferenceError) return err;
  if (err instanceof KeyError) return new KeyNotUsableError();
  return err instanceof Error ? err : new Error(String(err));
}
