// Sealing a share with one RSA key in the token, for tokens without CKM_AES_GCM — a TPM through
// tpm2-pkcs11 offers AES-CBC/ECB/CTR only, and hardware TPMs often not even those (TPM2_EncryptDecrypt is
// optional), while RSA decryption and signing are in every TPM 2.0.
//
//   ciphertext = RSA-OAEP(SHA-256, MGF1-SHA-256, label = OAEP_LABEL)(public key, share)   — no token needed
//   signature  = RSA-PSS-SHA-256(private key in the token, SIGNED_PREFIX ‖ key_uri ‖ 0x00 ‖ ciphertext)
//
// OAEP alone keeps the share secret and rejects a modified ciphertext, but anyone with the public key
// (readable without the PIN) could seal a share of their own choosing. The signature, made in the token
// at seal time and checked before the token decrypts, makes the file authenticated as GCM's tag does: only
// someone who could log in to the token produced it. One key for both jobs is deliberate (a second key
// would be a second object to provision and lose); OAEP and PSS with one RSA key are jointly secure
// (Haber & Pinkas, CCS 2001), and the two inputs never overlap (the label and the prefix differ).
import { constants, publicEncrypt, verify, type KeyObject } from "node:crypto";
import type { KeyAlgorithm, KeyEncrypter, KeyManager } from "../hsm/key-manager.js";
import { SealedShareError } from "./sealed-share-error.js";

/** RSA-2048: the size every TPM 2.0 implements (3072 is optional in the PC Client profile). */
export const OAEP_KEY_ALGORITHM: KeyAlgorithm = "rsa-2048";
const MIN_MODULUS_BITS = 2048;

/**
 * The OAEP label binds the ciphertext to this purpose. A TPM takes a label of at most one digest (TPM2B_DATA,
 * 34 bytes on a SHA-256-only TPM) and requires it to end in a zero byte, so the key URI is not in it: the
 * signature binds the URI, and the file's key_uri is checked before the token is asked.
 */
const OAEP_LABEL = Buffer.from("arca-unsealer-share/v2\0", "utf8");
const SIGNED_PREFIX = "arca-unsealer-share/v2/signature\0";

export type OaepKeys = Pick<KeyEncrypter, "decryptOaep"> & Pick<KeyManager, "getPublicKey" | "createSigner">;

/** Refuses a key that is not RSA or shorter than 2048 bits (an operator-made key may be anything). */
export function requireOaepKey(publicKey: KeyObject): void {
  const bits = publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
  if (publicKey.asymmetricKeyType !== "rsa" || bits < MIN_MODULUS_BITS) {
    throw new SealedShareError(`algorithm rsa-oaep-sha256 needs an RSA key of at least ${MIN_MODULUS_BITS} bits`);
  }
}

function signedBytes(canonicalUri: string, ciphertext: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${SIGNED_PREFIX}${canonicalUri}\0`, "utf8"), ciphertext]);
}

export async function sealOaep(km: OaepKeys, keyUri: string, canonicalUri: string, share: Buffer): Promise<{ ciphertext: Buffer; signature: Buffer }> {
  const publicKey = await km.getPublicKey(keyUri);
  requireOaepKey(publicKey);
  const ciphertext = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256", oaepLabel: OAEP_LABEL }, share);
  const signer = await km.createSigner(keyUri);
  const signature = await signer.sign(signedBytes(canonicalUri, ciphertext), { hash: "sha256", padding: "pss" });
  return { ciphertext, signature };
}

/** Checks the signature in software (public key from the token), then decrypts in the token. */
export async function openOaep(km: OaepKeys, keyUri: string, canonicalUri: string, sealed: { ciphertext: Buffer; signature: Buffer }): Promise<Buffer> {
  const publicKey = await km.getPublicKey(keyUri);
  requireOaepKey(publicKey);
  // Any salt length: TPMs differ (the hash length, or the maximum in FIPS mode), and the salt adds nothing
  // to what the check proves.
  const ok = verify("sha256", signedBytes(canonicalUri, sealed.ciphertext), { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, sealed.signature);
  if (!ok) throw new SealedShareError("the sealed share's signature does not verify: the file was changed or not sealed with this key");
  return km.decryptOaep(keyUri, sealed.ciphertext, { hash: "sha256", label: OAEP_LABEL });
}
