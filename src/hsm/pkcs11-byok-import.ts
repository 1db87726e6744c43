// BYOK import over PKCS#11: CKM_RSA_AES_KEY_WRAP material (RSA-OAEP(ephemeral AES-256) || AES-KWP(key)) unwrapped
// in two steps inside the HSM, since SoftHSM lacks the combined mechanism (softhsm/SoftHSMv2#424). The key
// manager's importWrappedKey resolves the keys and runs this in a session; see its comment for the SHA-1 /
// raw-RSA fallback and why it is safe.
import { randomBytes } from "node:crypto";
import type pkcs11js from "pkcs11js";
import { CKR, ckrOf, mapPkcs11Error } from "./errors.js";
import { KeyDecryptError } from "./key-errors.js";
import { pk, type Handle } from "./module.js";
import { CKZ_DATA_SPECIFIED, gcm, OAEP_HASH, OAEP_MGF } from "./pkcs11-mechanisms.js";
import { EPHEMERAL_KEY_BYTES, importFailed } from "./rsa-aes-key-wrap.js";
import { oaepDecode, OaepDecodeError } from "./rsa-oaep.js";
import type { HsmToken, SessionContext } from "./token.js";

type Template = pkcs11js.Template;

/** The RSA key the customer wrapped for: its token, a name for errors, and its modulus length in bytes. */
export interface WrappingKey {
  token: HsmToken;
  name: string;
  modulusBytes: number;
}

/** Which OAEP hashes a token refused to unwrap with (remembered per token for the process's life). */
export class OaepUnwrapSupport {
  private readonly refused = new WeakMap<HsmToken, Set<string>>();

  refuses(token: HsmToken, hash: string): boolean {
    return this.refused.get(token)?.has(hash) ?? false;
  }

  remember(token: HsmToken, hash: string): void {
    const set = this.refused.get(token) ?? new Set<string>();
    set.add(hash);
    this.refused.set(token, set);
  }
}

/**
 * Inside one session on the token holding the wrapping key `wh`: the ephemeral AES key out of `encryptedKey`
 * (a session object, destroyed before returning), then `wrappedKey` (RFC 5649) unwrapped with it into a token key
 * made from `target` (sensitive, never extractable), which must be AES-256. Material errors are one import error.
 */
export async function unwrapCustomerKey(
  ctx: SessionContext,
  w: WrappingKey,
  wh: Handle,
  encryptedKey: Buffer,
  wrappedKey: Buffer,
  target: Template,
  hash: "sha1" | "sha256",
  support: OaepUnwrapSupport,
): Promise<void> {
const ephemeral = await unwrapEphemeral(ctx, w, wh, encryptedKey, hash, support);
try {
  const h = await ctx.callAsync("C_UnwrapKey", () => ctx.p11.C_UnwrapKeyAsync(ctx.session, { mechanism: pk.CKM_AES_KEY_WRAP_PAD }, ephemeral, wrappedKey, target), {
    decrypt: true,
  });
  if (!(await isAes256(ctx, h))) {
    ctx.call("C_DestroyObject", () => ctx.p11.C_DestroyObject(ctx.session, h));
    throw importFailed();
  }
} catch (err) {
  throw asImportFailure(err);
} finally {
  ctx.call("C_DestroyObject", () => ctx.p11.C_DestroyObject(ctx.session, ephemeral));
}
}

/** The ephemeral AES key of RSA-AES-KEY-WRAP material as a session object that may only unwrap. */
async function unwrapEphemeral(ctx: SessionContext, w: WrappingKey, wh: Handle, encryptedKey: Buffer, hash: "sha1" | "sha256", support: OaepUnwrapSupport): Promise<Handle> {
  const tpl: Template = [
    { type: pk.CKA_CLASS, value: pk.CKO_SECRET_KEY },
    { type: pk.CKA_KEY_TYPE, value: pk.CKK_AES },
    { type: pk.CKA_TOKEN, value: false },
    { type: pk.CKA_PRIVATE, value: true },
    { type: pk.CKA_SENSITIVE, value: true },
    { type: pk.CKA_EXTRACTABLE, value: false },
    { type: pk.CKA_UNWRAP, value: true },
  ];
  if (!support.refuses(w.token, hash)) {
    const mech = {
      mechanism: pk.CKM_RSA_PKCS_OAEP,
      parameter: { type: pk.CK_PARAMS_RSA_OAEP, hashAlg: OAEP_HASH[hash], mgf: OAEP_MGF[hash], source: CKZ_DATA_SPECIFIED },
    };
    try {
      const h = await ctx.p11.C_UnwrapKeyAsync(ctx.session, mech, wh, encryptedKey, tpl);
      // SoftHSM reports 0 for unwrapped keys (and refuses CKA_VALUE_LEN in the template): checked where known.
      const len = valueLength(ctx, h);
      if (len === 0 || len === EPHEMERAL_KEY_BYTES) return h;
      ctx.call("C_DestroyObject", () => ctx.p11.C_DestroyObject(ctx.session, h));
      throw importFailed();
    } catch (e) {
      const code = ckrOf(e);
      // SoftHSM answers CKR_ARGUMENTS_BAD for a hash it does not do; others say the parameter is invalid.
      if (code !== CKR.ARGUMENTS_BAD && code !== CKR.MECHANISM_PARAM_INVALID && code !== CKR.MECHANISM_INVALID) throw asImportFailure(mapPkcs11Error(e, { fn: "C_UnwrapKey", decrypt: true, key: w.name }));
      support.remember(w.token, hash);
    }
  }
  const em = await ctx.callAsync("C_Decrypt", async () => {
    ctx.p11.C_DecryptInit(ctx.session, { mechanism: pk.CKM_RSA_X_509 }, wh);
    return ctx.p11.C_DecryptAsync(ctx.session, encryptedKey, Buffer.alloc(w.modulusBytes));
  }, { decrypt: true }).catch((e: unknown) => {
    throw asImportFailure(e);
  });
  let ephemeral: Buffer | undefined;
  try {
    // Raw RSA drops leading zero bytes on some tokens: the encoded block is exactly modulus-length.
    const block = Buffer.alloc(w.modulusBytes);
    em.copy(block, block.length - em.length);
    em.fill(0);
    try {
      ephemeral = oaepDecode(block, hash);
    } finally {
      block.fill(0);
    }
    if (ephemeral.length !== EPHEMERAL_KEY_BYTES) throw importFailed();
    const value = ephemeral;
    return ctx.call("C_CreateObject", () => ctx.p11.C_CreateObject(ctx.session, [...tpl, { type: pk.CKA_VALUE, value }]));
  } catch (err) {
    throw asImportFailure(err);
  } finally {
    ephemeral?.fill(0);
  }
}

function valueLength(ctx: SessionContext, h: Handle): number {
  const [len] = ctx.call("C_GetAttributeValue", () => ctx.p11.C_GetAttributeValue(ctx.session, h, [{ type: pk.CKA_VALUE_LEN }]));
  return len.value.readUIntLE(0, Math.min(len.value.length, 6));
}

/**
 * An unwrapped AES key is 256 bits: by CKA_VALUE_LEN where the token reports it, else (SoftHSM says 0) by one
 * AES-256-GCM encryption, which fails for a key of any other length that a 40-byte KWP blob can hold (25–31).
 */
async function isAes256(ctx: SessionContext, h: Handle): Promise<boolean> {
  const len = valueLength(ctx, h);
  if (len !== 0) return len === 32;
  try {
    ctx.p11.C_EncryptInit(ctx.session, gcm(randomBytes(12), undefined), h);
    await ctx.p11.C_EncryptAsync(ctx.session, Buffer.alloc(16), Buffer.alloc(32));
    return true;
  } catch {
    return false;
  }
}

/** Failures that say something about the material become the one import error; the store's own (unavailable, PIN) pass. */
function asImportFailure(e: unknown): unknown {
  if (e instanceof KeyDecryptError || e instanceof OaepDecodeError) return importFailed(e);
  const code = ckrOf(e);
  if (code !== undefined && IMPORT_MATERIAL_CODES.has(code)) return importFailed(e);
  return e;
}

const IMPORT_MATERIAL_CODES = new Set<number>([
  CKR.ENCRYPTED_DATA_INVALID,
  CKR.ENCRYPTED_DATA_LEN_RANGE,
  CKR.WRAPPED_KEY_INVALID,
  CKR.WRAPPED_KEY_LEN_RANGE,
  CKR.GENERAL_ERROR,
  CKR.DATA_LEN_RANGE,
  CKR.DATA_INVALID,
]);
