/**
 * An L1 as a sealable namespace's tenant key (the core's NamespaceKeySource seam): the namespace root key
 * is wrapped through the L1's keystore like an L2, bound to the L1's id and version and the namespace's
 * own associated data (its uuid), and every unwrap checks the L1's state first. So the L1's state drives the
 * namespace's seal: what refuses decryption beneath an L1 (REVOKED, PENDING_DELETION, DELETED, FORBIDDEN,
 * UNKNOWN, PENDING_IMPORT) seals the namespace at its next request.
 *
 * DISABLED does not seal: disabling is OpenKCM's "no new keys or encryption, decryption continues", and
 * opening a namespace only unwraps its existing root key — as a system beneath a disabled L1 still decrypts.
 * Revoke is the kill switch. A new sealable namespace, though, is a new wrapping and needs an ENABLED L1.
 */
import { invalidRequest } from "../../common/errors.js";
import type { NamespaceKeySource, WrappedRootKey } from "../../core/namespaces/namespace-key-source.js";
import type { KeyValueStore } from "../../storage/storage.js";
import { checkUsable } from "./chain.js";
import { openKeystore, type KeychainEnv } from "./keychain-env.js";
import { mustGet, records, type KeyRecord } from "./records.js";

/** "arca-keychain/namespace" ‖ L1 id ‖ L1 version ‖ the namespace's associated data. */
function rootKeyAad(key: KeyRecord, version: number, namespaceAad: Buffer): Buffer {
  return Buffer.concat([Buffer.from(["arca-keychain/namespace", key.id, String(version), ""].join("\u0000"), "utf8"), namespaceAad]);
}

export function keychainNamespaceKeys(env: KeychainEnv): NamespaceKeySource {
  return {
    async wrapRootKey(storage: KeyValueStore, name: string, rootKey: Buffer, aad: Buffer): Promise<WrappedRootKey> {
      const key = await mustGet(`L1 key ${name}`, records.key(storage, name));
      checkUsable(key, "encrypt");
      const version = key.versions[String(key.primary_version)];
      if (!version) throw invalidRequest(`L1 key ${name} has no key material yet`);
      const provider = await openKeystore(env, storage, key.keystore);
      const blob = await provider.wrap(version.ref, rootKey, rootKeyAad(key, key.primary_version, aad));
      return { keyId: key.id, version: key.primary_version, blob: blob.toString("base64") };
    },

    async unwrapRootKey(storage: KeyValueStore, name: string, wrapped: WrappedRootKey, aad: Buffer): Promise<Buffer> {
      // The same record cache the chain reads: a revoke (a mutating handler) drops it before it answers.
      const key = await env.records.get(`keys/${name}`, () => records.key(storage, name));
      if (!key || key.id !== wrapped.keyId) throw invalidRequest(`the L1 key ${name} that sealed this namespace no longer exists`);
      checkUsable(key, "decrypt");
      const version = key.versions[String(wrapped.version)];
      if (!version || version.destroyed_at) throw invalidRequest(`the L1 key version that sealed this namespace was destroyed`);
      const provider = await openKeystore(env, storage, key.keystore);
      const rootKey = await provider.unwrap(version.ref, Buffer.from(wrapped.blob, "base64"), rootKeyAad(key, wrapped.version, aad));
      // Checked again after the keystore call: requests that share this probe may have arrived after a
      // revoke returned, and must not be let in by a state read before it.
      const now = await env.records.get(`keys/${name}`, () => records.key(storage, name));
      try {
        if (!now || now.id !== key.id) throw invalidRequest(`the L1 key ${name} that sealed this namespace no longer exists`);
        checkUsable(now, "decrypt");
      } catch (err) {
        rootKey.fill(0);
        throw err;
      }
      return rootKey;
    },

    onKeyUsable(listener: (name: string) => Promise<void>): () => void {
      env.usableListeners.add(listener);
      return () => env.usableListeners.delete(listener);
    },
  };
}
