/**
 * The keystore types the keychain engine knows. A new type (transit for HYOK, a plugin, …) is one file
 * implementing KeystoreType (keystore.ts) and one line here.
 */
import { KeystoreRegistry } from "./keystore.js";
import { pkcs11KeystoreType } from "./keystore-pkcs11.js";
import { softwareKeystoreType } from "./keystore-software.js";
import { transitKeystoreType } from "./keystore-transit.js";
import { STRICT_OUTBOUND, type OutboundPolicy } from "../../common/outbound-guard.js";

export function builtinKeystoreTypes(opts: { outbound?: () => OutboundPolicy } = {}): KeystoreRegistry {
  return new KeystoreRegistry([pkcs11KeystoreType, softwareKeystoreType, transitKeystoreType(opts.outbound ?? (() => STRICT_OUTBOUND))]);
}
