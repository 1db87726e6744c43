// PKCS#11 mechanism parameters shared by the key manager and the BYOK import (one definition of each).
import { pk } from "./module.js";
import type { HashAlgorithm, OaepHash } from "./key-manager.js";

/** CKZ_DATA_SPECIFIED: the OAEP label source (pkcs11js 2.1.7 does not export it). */
export const CKZ_DATA_SPECIFIED = 0x1;

export const HASH_MECH: Record<HashAlgorithm, number> = { sha256: pk.CKM_SHA256, sha384: pk.CKM_SHA384, sha512: pk.CKM_SHA512 };
export const MGF: Record<HashAlgorithm, number> = { sha256: pk.CKG_MGF1_SHA256, sha384: pk.CKG_MGF1_SHA384, sha512: pk.CKG_MGF1_SHA512 };
export const OAEP_HASH: Record<OaepHash, number> = { sha1: pk.CKM_SHA_1, ...HASH_MECH };
export const OAEP_MGF: Record<OaepHash, number> = { sha1: pk.CKG_MGF1_SHA1, ...MGF };

/** AES-256-GCM with a 96-bit IV and a 128-bit tag. */
export function gcm(iv: Buffer, aad: Buffer | undefined): { mechanism: number; parameter: { type: number; iv: Buffer; ivBits: number; aad?: Buffer; tagBits: number } } {
  // ivBits is the v2.40 field SoftHSM reads next to ulIvLen; 96 bits is the only IV size GCM should use.
  return { mechanism: pk.CKM_AES_GCM, parameter: { type: pk.CK_PARAMS_GCM, iv, ivBits: 96, aad, tagBits: 128 } };
}
