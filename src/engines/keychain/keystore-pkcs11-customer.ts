/**
 * The customer-material side of `type=pkcs11` keystores (keystore-pkcs11.ts delegates here):
 *
 * BYOK — import-params makes an RSA-3072/4096 pair in the keystore's token that may only decrypt/unwrap; the
 * customer wraps an AES-256 key for it (CKM_RSA_AES_KEY_WRAP: RSA-OAEP-SHA256(ephemeral AES-256) ‖ AES-KWP),
 * and import unwraps it inside the HSM into a sensitive, never-extractable token key (hsm/pkcs11-key-manager.ts
 * importWrappedKey: two steps, since SoftHSM lacks the mechanism).
 *
 * HYOK — `native_id` is the URI of an AES-256 key the customer keeps on their own token (declared as an hsm
 * block by the operator). A name never grants use: the mount's custody-scoped key manager refuses any object
 * this mount neither created nor was granted (sys/managed-keys + allowed_managed_keys), so the operator's grant
 * is what lets the keychain use a customer's key. Arca never destroys such a key.
 */
import { randomBytes } from "node:crypto";
import { ArcaError, invalidRequest } from "../../common/errors.js";
import { keyErrorToArca } from "../../core/key-api-errors.js";
import { KeyError, KeyUnavailableError } from "../../hsm/key-errors.js";
import { isKeyEncrypter, isLoginVerifier, isWrappedKeyImporter, type KeyManager } from "../../hsm/key-manager.js";
import { parsePkcs11Uri } from "../../hsm/uri.js";
import type { ImportParams, L1Algorithm, L1Ref, ProbeResult } from "./keystore.js";

function importer(km: KeyManager | undefined) {
  if (!km) throw new ArcaError("unavailable", "this keystore lives in an HSM, but no HSM is declared on this server");
  if (!isWrappedKeyImporter(km)) throw new ArcaError("unavailable", "the configured key manager cannot import wrapped key material");
  return km;
}

function encrypter(km: KeyManager | undefined) {
  if (!km) throw new ArcaError("unavailable", "this keystore lives in an HSM, but no HSM is declared on this server");
  if (!isKeyEncrypter(km)) throw new ArcaError("unavailable", "the configured key manager cannot encrypt");
  return km;
}

/** BYOK step 1: an unwrap-only RSA pair on the keystore's token; `algorithm` is its size (RSA3072 or RSA4096). */
export async function pkcs11ImportParams(km: KeyManager | undefined, tokenUri: string, req: { label: string; algorithm: L1Algorithm }): Promise<ImportParams> {
  const k = importer(km);
  if (req.algorithm === "AES256") throw invalidRequest("the import wrapping key is RSA3072 or RSA4096");
  try {
    const created = await k.createImportWrappingKey({ algorithm: req.algorithm === "RSA4096" ? "rsa-4096" : "rsa-3072", label: req.label, hsm: tokenUri });
    if (!created.publicKey) throw new ArcaError("internal", "the HSM returned no public key for the import key");
    return { publicKey: created.publicKey.export({ type: "spki", format: "pem" }).toString(), wrappingKey: { uri: created.uri, owned: true } };
  } catch (err) {
    throw keyErrorToArca(err, "making the import wrapping key in the HSM");
  }
}

/** BYOK step 2: the customer's material becomes a new L1 key on the wrapping key's token. */
export async function pkcs11ImportKey(km: KeyManager | undefined, req: { label: string; algorithm: L1Algorithm; wrappingKey: L1Ref; wrappedKeyMaterial: Buffer }): Promise<L1Ref> {
  const k = importer(km);
  if (req.algorithm !== "AES256") throw invalidRequest("pkcs11 keystores import AES256 L1 keys");
  try {
    const created = await k.importWrappedKey({
      wrappingUri: req.wrappingKey.uri,
      material: req.wrappedKeyMaterial,
      hash: "sha256",
      algorithm: "aes-256",
      label: req.label,
      wrapping: false,
    });
    return { uri: created.uri, owned: true };
  } catch (err) {
    if (err instanceof KeyError && !(err instanceof KeyUnavailableError) && /does not unwrap under this import key/.test(err.message)) {
      throw invalidRequest("wrapped_key_material does not unwrap under this key's import parameters (RSA-OAEP-SHA256 of an AES-256 key, then AES-KWP of the AES-256 key to import)");
    }
    throw keyErrorToArca(err, "importing the key material into the HSM");
  }
}

/** The token a URI names, for comparing a key's URI with its keystore's. */
function tokenOf(uri: string): { token?: string; serial?: string } {
  const u = parsePkcs11Uri(uri);
  return { token: u.token, serial: u.serial };
}

/** One encrypt/decrypt round trip with the key (what the chain will do), as the probe and attach check. */
async function roundTrip(km: KeyManager | undefined, uri: string): Promise<void> {
  const k = encrypter(km);
  const canary = randomBytes(16);
  const ct = await k.encrypt(uri, canary, Buffer.from("arca-keychain/probe"));
  const back = await k.decrypt(uri, ct, Buffer.from("arca-keychain/probe"));
  if (!back.equals(canary)) throw new ArcaError("upstream", "the HSM key did not decrypt what it encrypted");
}

/** HYOK: refer to the customer's AES-256 key `nativeId` (a PKCS#11 key URI on the keystore's token). */
export async function pkcs11Attach(km: KeyManager | undefined, tokenUri: string, nativeId: string, algorithm: L1Algorithm): Promise<L1Ref> {
  if (algorithm !== "AES256") throw invalidRequest("pkcs11 keystores hold AES256 L1 keys");
  let parsed;
  try {
    parsed = parsePkcs11Uri(nativeId);
  } catch {
    throw invalidRequest("native_id must be the PKCS#11 URI of the customer's key (pkcs11:token=…;object=…;type=secret-key)");
  }
  if (parsed.pinValue !== undefined || parsed.pinSource !== undefined) throw invalidRequest("native_id must not carry a PIN: the hsm block holds it");
  if (parsed.object === undefined && parsed.id === undefined) throw invalidRequest("native_id must name a key (object= or id=)");
  const own = tokenOf(tokenUri);
  if ((own.token !== undefined && parsed.token !== own.token) || (own.serial !== undefined && parsed.serial !== own.serial)) {
    throw invalidRequest("native_id must name a key on this keystore's token");
  }
  try {
    await roundTrip(km, nativeId);
  } catch (err) {
    throw keyErrorToArca(err, "using the customer's key (an operator must grant it to this mount: sys/managed-keys)");
  }
  return { uri: nativeId, owned: false };
}

/** HYOK probe: usable now (ENABLED), refused or gone (FORBIDDEN), or the token does not answer (UNKNOWN). */
export async function pkcs11ProbeCustomerKey(km: KeyManager | undefined, ref: L1Ref): Promise<ProbeResult> {
  if (!km) return "UNKNOWN";
  try {
    // A token keeps us logged in after the customer changed its PIN: log in again, so the change shows now.
    if (isLoginVerifier(km)) await km.verifyLogin(ref.uri);
    await roundTrip(km, ref.uri);
    return "ENABLED";
  } catch (err) {
    // Refused, gone, not granted or a PIN no longer accepted: access withdrawn. Device gone or library reset may
    // come back by itself, and anything else is not known to be the customer's doing: UNKNOWN.
    if (err instanceof KeyError && !(err instanceof KeyUnavailableError)) return "FORBIDDEN";
    return "UNKNOWN";
  }
}
