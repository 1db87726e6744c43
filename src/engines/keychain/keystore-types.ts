/**
 * The keystore types the keychain engine knows. A new type (transit for HYOK, a plugin, …) is one file
 * implementing KeystoreType (keystore.ts) and one line here.
 */
import { KeystoreRegistry } from "./keystore.js";
import { pkcs11KeystoreType } from "./keystore-pkcs11.js";
import { softwareKeystoreType } from "./keystore-software.js";

export function builtinKeystoreTypes(): KeystoreRegistry {
  return new KeystoreRegistry([pkcs11KeystoreType, softwareKeystoreType]);
}
