/**
 * The seam through which a sealable namespace's root key can be wrapped by a key held by a mount of the
 * parent namespace (a keychain L1) instead of a raw HSM key. The core knows nothing of the keychain: a
 * backend that can hold namespace root keys implements NamespaceKeySource, and the namespace seal finds it
 * through the parent's router on every use (so an unmounted source seals the namespace, never crashes it).
 *
 * A source refuses (throws) whenever its key may not be used: that refusal is what seals the namespace.
 */
import type { LogicalBackend } from "../framework/backend.js";
import type { KeyValueStore } from "../../storage/storage.js";

/** What a source returns for a wrapped root key, stored in the namespace's seal entry. */
export interface WrappedRootKey {
  /** The source key's random id at wrap time: a re-created key of the same name opens nothing. */
  keyId: string;
  /** The key version that wrapped it. */
  version: number;
  /** base64 of the wrapped root key (opaque to the core). */
  blob: string;
}

export interface NamespaceKeySource {
  /** Wraps `rootKey` under the key `name`, bound to `aad`; refuses unless the key may make new wrappings. */
  wrapRootKey(storage: KeyValueStore, name: string, rootKey: Buffer, aad: Buffer): Promise<WrappedRootKey>;
  /** The root key back (a fresh buffer the caller zeroes); refuses unless the key may be used now. */
  unwrapRootKey(storage: KeyValueStore, name: string, wrapped: WrappedRootKey, aad: Buffer): Promise<Buffer>;
  /**
   * Calls `listener` with a key's name whenever that key may be used again (a namespace it sealed can then
   * reopen on its own), and waits for it; returns the unsubscribe.
   */
  onKeyUsable?(listener: (name: string) => Promise<void>): () => void;
}

/** The backend's namespace key source, when it offers one (duck-typed: the core never imports engines). */
export function namespaceKeySourceOf(backend: LogicalBackend): NamespaceKeySource | undefined {
  const candidate = backend as Partial<NamespaceKeySource>;
  return typeof candidate.wrapRootKey === "function" && typeof candidate.unwrapRootKey === "function" ? (backend as unknown as NamespaceKeySource) : undefined;
}
