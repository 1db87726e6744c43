/** Chooses, once per version, which VersionKey serves it: the key store's when its material lives there. */
import type { KeyManager } from "../../hsm/key-manager.js";
import { KeyStoreVersionKey } from "./keystore-version-key.js";
import { SoftwareVersionKey } from "./software-version-key.js";
import type { KeyPolicy, KeyVersion } from "./transit-key.js";
import type { VersionKey } from "./version-key.js";

export function openVersionKey(p: KeyPolicy, v: KeyVersion, keyManager: KeyManager | undefined): VersionKey {
  return v.hsm ? new KeyStoreVersionKey(p.type, v.hsm.uri, keyManager) : new SoftwareVersionKey(p, v);
}
