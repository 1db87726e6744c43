// KeyManager over PKCS#11 (SoftHSM in tests, any HSM in production).
//
// Keys it creates are CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE and not CKA_EXTRACTABLE unless the request needs a
// wrappable key. CKA_ID is the stable reference (labels are not unique, G5): SHA-1(SPKI)[0:16] for pairs, 16
// random bytes for secret keys. Every call runs on a pooled session through the token's retry policy; the heavy
// part (sign, encrypt, keygen, wrap) uses pkcs11js's async calls so the event loop stays free (see module.ts).
//
// Mechanism choices, all measured on SoftHSM 2.6.1 (docs/reference hsm-toolchain.md):
//  - ECDSA: digest in Node + CKM_ECDSA (no CKM_ECDSA_SHA256 in SoftHSM, G1); raw r||s converted to DER.
//  - RSA PKCS#1 v1.5: digest in Node + CKM_RSA_PKCS over DigestInfo (works for data and for prehashed input).
//  - RSA-PSS: digest in Node + CKM_RSA_PKCS_PSS with MGF1 of the same hash.
//  - Ed25519: CKM_EDDSA over the message (pure EdDSA; no prehash).
//  - AES-256-GCM: 96-bit IV from node:crypto, 128-bit tag; output ct||tag split into {ciphertext, tag}.
//  - Wrap: CKM_AES_KEY_WRAP / CKM_AES_KEY_WRAP_PAD (SoftHSM's 0x210A, G4).
//  - BYOK import (CKM_RSA_AES_KEY_WRAP, which SoftHSM lacks): see importWrappedKey.
import { createHash, randomBytes, type KeyObject } from "node:crypto";
import type pkcs11js from "pkcs11js";
import { CKR, ckrOf, HsmConfigError, HsmKeyNotFoundError, HsmKeyUsageError, HsmUnsupportedError, mapPkcs11Error } from "./errors.js";
import {
  algorithmFromEcParams,
  DIGEST_LENGTH,
  digestInfo,
  EC_PARAMS,
  ecdsaRawToDer,
  ecPublicKey,
  ed25519PublicKey,
  keyIdFromPublicKey,
  rsaPublicKey,
} from "./key-encoding.js";
import {
  defaultHash,
  type AeadCiphertext,
  type CreateImportWrappingKeyRequest,
  type CreateKeyRequest,
  type CreateKeyResponse,
  type HashAlgorithm,
  type ImportKeyRequest,
  type KeyAlgorithm,
  type KeyDeleter,
  type KeyEncrypter,
  type KeyIdentity,
  type KeyImporter,
  type KeyManager,
  type KeyWrapper,
  type OaepHash,
  type SignOptions,
  type Signer,
  type UnwrapKeyRequest,
  type WrapMechanism,
  type WrappedImportRequest,
  type WrappedKeyImporter,
} from "./key-manager.js";
import { splitRsaAesMaterial } from "./rsa-aes-key-wrap.js";
import { OaepUnwrapSupport, unwrapCustomerKey } from "./pkcs11-byok-import.js";
import { CKZ_DATA_SPECIFIED, gcm, HASH_MECH, MGF, OAEP_HASH, OAEP_MGF } from "./pkcs11-mechanisms.js";
import { pk, type Handle } from "./module.js";
import type { HsmToken, ObjectQuery, SessionContext } from "./token.js";
import { formatPkcs11Uri, parsePkcs11Uri, type Pkcs11ObjectType, type Pkcs11Uri } from "./uri.js";

// Constants pkcs11js 2.1.7 does not export (PKCS#11 v3.0).
const CKK_EC_EDWARDS = 0x40;
const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
const CKM_EDDSA = 0x1057;
const WRAP_MECH: Record<WrapMechanism, number> = { "aes-kw": pk.CKM_AES_KEY_WRAP, "aes-kwp": pk.CKM_AES_KEY_WRAP_PAD };

/** Picks the token for a key URI or for a new key. HsmRegistry implements it; `singleToken` is the trivial one. */
export interface TokenResolver {
  /** The token a URI names (checks module-path etc.). Throws HsmConfigError when none may serve it. */
  tokenForUri(uri: Pkcs11Uri): HsmToken;
  /** The token new keys go to (`hsm` names a declaration; default: the only one). */
  tokenForCreate(hsm?: string): HsmToken;
}

export function singleToken(token: HsmToken): TokenResolver {
  return { tokenForUri: () => token, tokenForCreate: () => token };
}

interface ResolvedKey {
  token: HsmToken;
  /** Query for the object the operation uses (private or secret key). */
  query: ObjectQuery;
  algorithm: KeyAlgorithm;
  publicKey?: KeyObject;
  /** RSA modulus length in bytes (output buffer size). */
  modulusBytes?: number;
  extractable: boolean;
  name: string;
  /** CKA_ID of the object, hex ("" when it has none). */
  idHex: string;
}

type Template = Array<{ type: number; value?: number | boolean | string | Buffer }>;

export interface Pkcs11KeyManagerOptions {
  tokens: TokenResolver;
  /** Default wrap mechanism (real HSMs differ on KWP numbering, G4). Default "aes-kwp". */
  wrapMechanism?: WrapMechanism;
}

export class Pkcs11KeyManager implements KeyManager, KeyEncrypter, KeyWrapper, KeyDeleter, KeyImporter, WrappedKeyImporter {
  readonly isHardware = true;
  private readonly tokens: TokenResolver;
  private readonly wrapMechanism: WrapMechanism;
  /** Resolved metadata per URI (algorithm, public key): attributes that do not change for an object. */
  private readonly resolved = new Map<string, ResolvedKey>();
  /** Tokens that refused C_UnwrapKey with CKM_RSA_PKCS_OAEP and a given hash (SoftHSM 2.6.1: all but SHA-1). */
  private readonly oaepSupport = new OaepUnwrapSupport();

  constructor(opts: Pkcs11KeyManagerOptions) {
    this.tokens = opts.tokens;
    this.wrapMechanism = opts.wrapMechanism ?? "aes-kwp";
  }

  async createKey(req: CreateKeyRequest): Promise<CreateKeyResponse> {
    const token = this.tokens.tokenForCreate(req.hsm);
    if (req.algorithm === "aes-256") return this.createSecret(token, req);
    return this.createPair(token, req);
  }

  async identify(uri: string): Promise<KeyIdentity> {
    const k = await this.resolve(uri);
    if (k.idHex === "") throw new HsmKeyUsageError(`key ${k.name} has no CKA_ID: give it one to use it here`);
    // The serial is what the device reports, so two declarations of one token give one identity.
    const serial = k.token.info?.serial ?? k.token.selector.serial ?? "";
    return { store: `pkcs11:${serial.trim()}`, kind: k.algorithm === "aes-256" ? "secret" : "private", id: k.idHex };
  }

  async getPublicKey(uri: string): Promise<KeyObject> {
    const k = await this.resolve(uri);
    if (!k.publicKey) throw new HsmKeyUsageError(`key ${k.name} is a secret key: it has no public key`);
    return k.publicKey;
  }

  async createSigner(uri: string): Promise<Signer> {
    const k = await this.resolve(uri);
    const publicKey = k.publicKey;
    if (!publicKey) throw new HsmKeyUsageError(`key ${k.name} is a secret key: it cannot sign`);
    return {
      algorithm: k.algorithm,
      publicKey,
      sign: (data, opts) => this.sign(k, data, opts ?? {}),
    };
  }

  async encrypt(uri: string, plaintext: Buffer, aad?: Buffer): Promise<AeadCiphertext> {
    const k = await this.resolve(uri);
    requireAlgorithm(k, "aes-256");
    const iv = randomBytes(12);
    const mech = gcm(iv, aad);
    const out = await k.token.run((ctx) =>
      k.token.withKey(ctx, k.query, k.name, async (h) => {
        ctx.call("C_EncryptInit", () => ctx.p11.C_EncryptInit(ctx.session, mech, h));
        return ctx.callAsync("C_Encrypt", () => ctx.p11.C_EncryptAsync(ctx.session, plaintext, Buffer.alloc(plaintext.length + 16)));
      }),
    );
    return { iv, ciphertext: out.subarray(0, out.length - 16), tag: out.subarray(out.length - 16) };
  }

  async decrypt(uri: string, ct: AeadCiphertext, aad?: Buffer): Promise<Buffer> {
    const k = await this.resolve(uri);
    requireAlgorithm(k, "aes-256");
    const mech = gcm(ct.iv, aad);
    const input = Buffer.concat([ct.ciphertext, ct.tag]);
    return k.token.run((ctx) =>
      k.token.withKey(ctx, k.query, k.name, async (h) => {
        ctx.call("C_DecryptInit", () => ctx.p11.C_DecryptInit(ctx.session, mech, h));
        return ctx.callAsync("C_Decrypt", () => ctx.p11.C_DecryptAsync(ctx.session, input, Buffer.alloc(input.length)), {
          decrypt: true,
        });
      }),
    );
  }

  async decryptOaep(uri: string, ciphertext: Buffer, opts: { hash?: OaepHash; label?: Buffer } = {}): Promise<Buffer> {
    const k = await this.resolve(uri);
    if (!k.algorithm.startsWith("rsa-")) throw new HsmKeyUsageError(`key ${k.name} is not an RSA key`);
    const hash = opts.hash ?? "sha256";
    const mech = {
      mechanism: pk.CKM_RSA_PKCS_OAEP,
      parameter: { type: pk.CK_PARAMS_RSA_OAEP, hashAlg: OAEP_HASH[hash], mgf: OAEP_MGF[hash], source: CKZ_DATA_SPECIFIED, sourceData: opts.label },
    };
    return k.token.run((ctx) =>
      k.token.withKey(ctx, k.query, k.name, async (h) => {
        try {
          ctx.p11.C_DecryptInit(ctx.session, mech, h);
        } catch (e) {
          // SoftHSM 2.6.1 implements OAEP with SHA-1 only and answers CKR_ARGUMENTS_BAD for anything else.
          if (ckrOf(e) === CKR.ARGUMENTS_BAD) throw new HsmUnsupportedError(`RSA-OAEP with ${hash} is not supported by this token`, { ckr: CKR.ARGUMENTS_BAD, fn: "C_DecryptInit", cause: e });
          throw mapPkcs11Error(e, { fn: "C_DecryptInit", key: k.name });
        }
        return ctx.callAsync("C_Decrypt", () => ctx.p11.C_DecryptAsync(ctx.session, ciphertext, Buffer.alloc(k.modulusBytes ?? 512)), {
          decrypt: true,
        });
      }),
    );
  }

  async wrapKey(wrappingUri: string, targetUri: string, mechanism?: WrapMechanism): Promise<Buffer> {
    const w = await this.resolve(wrappingUri);
    const t = await this.resolve(targetUri);
    requireAlgorithm(w, "aes-256");
    if (w.token !== t.token) throw new HsmConfigError("wrapping key and target key must live on the same token");
    if (!t.extractable) throw new HsmKeyUsageError(`key ${t.name} is not extractable: it cannot be wrapped`);
    const mech = { mechanism: WRAP_MECH[mechanism ?? this.wrapMechanism] };
    return w.token.run((ctx) =>
      w.token.withKey(ctx, w.query, w.name, (wh) =>
        w.token.withKey(ctx, t.query, t.name, (th) =>
          ctx.callAsync("C_WrapKey", () => ctx.p11.C_WrapKeyAsync(ctx.session, mech, wh, th, Buffer.alloc(8192))),
        ),
      ),
    );
  }

  async unwrapKey(wrappingUri: string, req: UnwrapKeyRequest): Promise<CreateKeyResponse> {
    const w = await this.resolve(wrappingUri);
    requireAlgorithm(w, "aes-256");
    if (req.algorithm !== "aes-256") throw new HsmUnsupportedError("only AES-256 keys can be unwrapped portably (G4)");
    const id = randomBytes(16);
    const tpl = secretTemplate(req.label, id, req.extractable ?? false, true);
    const mech = { mechanism: WRAP_MECH[req.mechanism ?? this.wrapMechanism] };
    await w.token.run(
      (ctx) =>
        w.token.withKey(ctx, w.query, w.name, (wh) =>
          ctx.callAsync("C_UnwrapKey", () => ctx.p11.C_UnwrapKeyAsync(ctx.session, mech, wh, req.wrapped, tpl), { decrypt: true }),
        ),
      // An unwrap creates a token object: re-running it after a reconnect could leave a duplicate.
      { idempotent: false },
    );
    return { uri: this.uriFor(w.token, { object: req.label, id, type: "secret-key" }), algorithm: "aes-256", id };
  }

  async importKey(req: ImportKeyRequest): Promise<CreateKeyResponse> {
    if (req.algorithm !== "aes-256" || req.material.length !== 32) throw new HsmUnsupportedError("importKey takes 32-byte AES-256 keys");
    const token = this.tokens.tokenForCreate();
    const id = randomBytes(16);
    const tpl: Template = [...secretTemplate(req.label, id, req.extractable ?? false, true), { type: pk.CKA_VALUE, value: req.material }];
    await token.run((ctx) => Promise.resolve(ctx.call("C_CreateObject", () => ctx.p11.C_CreateObject(ctx.session, tpl))), {
      idempotent: false,
    });
    return { uri: this.uriFor(token, { object: req.label, id, type: "secret-key" }), algorithm: "aes-256", id };
  }

  async createImportWrappingKey(req: CreateImportWrappingKeyRequest): Promise<CreateKeyResponse> {
    return this.createPair(this.tokens.tokenForCreate(req.hsm), { algorithm: req.algorithm, label: req.label }, "unwrap");
  }

  /**
   * Two unwraps instead of CKM_RSA_AES_KEY_WRAP (softhsm/SoftHSMv2#424): the RSA part gives an ephemeral AES
   * session key (never a token object, destroyed before returning), which unwraps the target into a token key
   * that is sensitive and never extractable. The RSA step is C_UnwrapKey with CKM_RSA_PKCS_OAEP where the token
   * does OAEP with the asked hash, so the ephemeral key never leaves the HSM. SoftHSM 2.6.1 does OAEP with SHA-1
   * only: there the RSA step is raw RSA (CKM_RSA_X_509) in the HSM, OAEP is decoded here, and the ephemeral key
   * goes back in at once with C_CreateObject (session object) and is zeroed: it is in this process for one call,
   * protects nothing but this one material, and the target key itself still exists only inside the HSM.
   */
  async importWrappedKey(req: WrappedImportRequest): Promise<CreateKeyResponse> {
    if (req.algorithm !== "aes-256") throw new HsmUnsupportedError("only AES-256 keys can be imported portably (G4)");
    const w = await this.resolve(req.wrappingUri);
    if (!w.algorithm.startsWith("rsa-") || w.modulusBytes === undefined) throw new HsmKeyUsageError(`key ${w.name} is not an RSA key`);
    const key = { token: w.token, name: w.name, modulusBytes: w.modulusBytes };
    const { encryptedKey, wrappedKey } = splitRsaAesMaterial(req.material, key.modulusBytes, 32);
    const hash = req.hash ?? "sha256";
    const id = randomBytes(16);
    const target = secretTemplate(req.label, id, false, req.wrapping ?? true);
    await w.token.run(
      (ctx) =>
        w.token.withKey(ctx, w.query, w.name, (wh) => unwrapCustomerKey(ctx, key, wh, encryptedKey, wrappedKey, target, hash, this.oaepSupport)),
      // Creates a token object: not re-run after a reconnect.
      { idempotent: false },
    );
    return { uri: this.uriFor(w.token, { object: req.label, id, type: "secret-key" }), algorithm: "aes-256", id };
  }

  /** LoginVerifier: logs in again to the token holding `uri` (see HsmToken.verifyLogin). */
  async verifyLogin(uri: string): Promise<void> {
    await this.tokens.tokenForUri(parseKeyUri(uri)).verifyLogin();
  }

  async deleteKey(uri: string): Promise<void> {
    const parsed = parseKeyUri(uri);
    const token = this.tokens.tokenForUri(parsed);
    const name = keyName(parsed);
    const classes = parsed.type ? classesFor(parsed.type, true) : [pk.CKO_PRIVATE_KEY, pk.CKO_PUBLIC_KEY, pk.CKO_SECRET_KEY];
    await token.run(async (ctx) => {
      const victims: Array<{ q: ObjectQuery; h: Handle }> = [];
      for (const cls of classes) {
        const q: ObjectQuery = { cls, id: parsed.id, label: parsed.object };
        for (const h of token.findAll(ctx, q)) victims.push({ q, h });
      }
      if (victims.length === 0) {
        token.checkPresent();
        throw new HsmKeyNotFoundError(`key ${name} not found`);
      }
      for (const v of victims) {
        ctx.call("C_DestroyObject", () => ctx.p11.C_DestroyObject(ctx.session, v.h));
        token.forget(v.q);
      }
    });
    for (const k of [...this.resolved.keys()]) if (this.resolved.get(k)?.token === token && sameKey(k, parsed)) this.resolved.delete(k);
  }

  async close(): Promise<void> {
    this.resolved.clear();
  }

  // ---- internals

  private async createSecret(token: HsmToken, req: CreateKeyRequest): Promise<CreateKeyResponse> {
    const id = randomBytes(16);
    const tpl = secretTemplate(req.label, id, req.extractable ?? false, req.wrapping ?? true);
    tpl.push({ type: pk.CKA_VALUE_LEN, value: 32 });
    await token.run(
      (ctx) => ctx.callAsync("C_GenerateKey", () => ctx.p11.C_GenerateKeyAsync(ctx.session, { mechanism: pk.CKM_AES_KEY_GEN }, tpl)),
      { idempotent: false },
    );
    return { uri: this.uriFor(token, { object: req.label, id, type: "secret-key" }), algorithm: "aes-256", id };
  }

  /** `unwrap` pairs (BYOK import keys) may decrypt and unwrap only; `sign` pairs sign (and RSA ones decrypt). */
  private async createPair(token: HsmToken, req: CreateKeyRequest, purpose: "sign" | "unwrap" = "sign"): Promise<CreateKeyResponse> {
    const alg = req.algorithm;
    // Generated under a random temporary CKA_ID, then re-labelled with SHA-1(SPKI)[0:16] once the public key is known.
    const tmpId = randomBytes(16);
    const pub: Template = [
      { type: pk.CKA_TOKEN, value: true },
      { type: pk.CKA_PRIVATE, value: false },
      { type: pk.CKA_LABEL, value: req.label },
      { type: pk.CKA_ID, value: tmpId },
      { type: pk.CKA_VERIFY, value: purpose === "sign" },
    ];
    const priv: Template = [
      { type: pk.CKA_TOKEN, value: true },
      { type: pk.CKA_PRIVATE, value: true },
      { type: pk.CKA_SENSITIVE, value: true },
      { type: pk.CKA_EXTRACTABLE, value: req.extractable ?? false },
      { type: pk.CKA_LABEL, value: req.label },
      { type: pk.CKA_ID, value: tmpId },
      { type: pk.CKA_SIGN, value: purpose === "sign" },
    ];
    let mechanism: number;
    if (alg.startsWith("rsa-")) {
      mechanism = pk.CKM_RSA_PKCS_KEY_PAIR_GEN;
      pub.push(
        { type: pk.CKA_MODULUS_BITS, value: Number(alg.slice(4)) },
        { type: pk.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
        { type: pk.CKA_ENCRYPT, value: true },
      );
      priv.push({ type: pk.CKA_DECRYPT, value: true });
      if (purpose === "unwrap") {
        pub.push({ type: pk.CKA_WRAP, value: true });
        priv.push({ type: pk.CKA_UNWRAP, value: true });
      }
    } else if (purpose === "unwrap") {
      throw new HsmUnsupportedError("import keys are RSA keys");
    } else if (alg === "ec-p256" || alg === "ec-p384") {
      mechanism = pk.CKM_EC_KEY_PAIR_GEN;
      pub.push({ type: pk.CKA_EC_PARAMS, value: EC_PARAMS[alg] });
    } else if (alg === "ed25519") {
      mechanism = CKM_EC_EDWARDS_KEY_PAIR_GEN;
      pub.push({ type: pk.CKA_EC_PARAMS, value: EC_PARAMS.ed25519 });
    } else {
      throw new HsmUnsupportedError(`unknown key algorithm ${String(alg)}`);
    }
    const result = await token.run(
      async (ctx) => {
        const kp = await ctx.callAsync("C_GenerateKeyPair", () => ctx.p11.C_GenerateKeyPairAsync(ctx.session, { mechanism }, pub, priv));
        const publicKey = this.readPublicKey(ctx, alg, kp.publicKey);
        const id = keyIdFromPublicKey(publicKey);
        for (const h of [kp.publicKey, kp.privateKey]) {
          ctx.call("C_SetAttributeValue", () => ctx.p11.C_SetAttributeValue(ctx.session, h, [{ type: pk.CKA_ID, value: id }]));
        }
        return { publicKey, id };
      },
      { idempotent: false },
    );
    return {
      uri: this.uriFor(token, { object: req.label, id: result.id, type: "private" }),
      publicUri: this.uriFor(token, { object: req.label, id: result.id, type: "public" }),
      algorithm: alg,
      id: result.id,
      publicKey: result.publicKey,
    };
  }

  private readPublicKey(ctx: SessionContext, alg: KeyAlgorithm, h: Handle): KeyObject {
    if (alg.startsWith("rsa-")) {
      const [m, e] = ctx.call("C_GetAttributeValue", () =>
        ctx.p11.C_GetAttributeValue(ctx.session, h, [{ type: pk.CKA_MODULUS }, { type: pk.CKA_PUBLIC_EXPONENT }]),
      );
      return rsaPublicKey(m.value, e.value);
    }
    const [point] = ctx.call("C_GetAttributeValue", () => ctx.p11.C_GetAttributeValue(ctx.session, h, [{ type: pk.CKA_EC_POINT }]));
    return alg === "ed25519" ? ed25519PublicKey(point.value) : ecPublicKey(alg as "ec-p256" | "ec-p384", point.value);
  }

  private uriFor(token: HsmToken, obj: { object: string; id: Buffer; type: Pkcs11ObjectType }): string {
    const info = token.info;
    const u: Pkcs11Uri = { ...obj };
    if (token.selector.serial !== undefined) u.serial = token.selector.serial;
    u.token = token.selector.label ?? info?.label;
    return formatPkcs11Uri(u);
  }

  /** URI → token, object query, algorithm and public key (read once and cached per URI). */
  private async resolve(uri: string): Promise<ResolvedKey> {
    const hit = this.resolved.get(uri);
    if (hit) return hit;
    const parsed = parseKeyUri(uri);
    const token = this.tokens.tokenForUri(parsed);
    const name = keyName(parsed);
    const classes = parsed.type ? classesFor(parsed.type, false) : [pk.CKO_PRIVATE_KEY, pk.CKO_SECRET_KEY];
    const r = await token.run(async (ctx) => {
      let handle: Handle | undefined;
      let query: ObjectQuery | undefined;
      for (const cls of classes) {
        const q: ObjectQuery = { cls, id: parsed.id, label: parsed.object };
        const found = token.findAll(ctx, q, 2);
        if (found.length === 0) continue;
        // findOne raises the ambiguity error with the right message.
        handle = found.length === 1 ? found[0] : token.findOne(ctx, q, name);
        query = q;
        break;
      }
      if (!handle || !query) return token.findOne(ctx, { cls: classes[0], id: parsed.id, label: parsed.object }, name) as never;
      const [kt, ex] = ctx.call("C_GetAttributeValue", () =>
        ctx.p11.C_GetAttributeValue(ctx.session, handle, [{ type: pk.CKA_KEY_TYPE }, { type: pk.CKA_EXTRACTABLE }]),
      );
      const keyType = kt.value.readUIntLE(0, Math.min(kt.value.length, 6));
      const extractable = ex.value[0] === 1;
      // Always look the key up by CKA_ID once known: it is unique per key where labels are not (G5).
      const [idAttr] = ctx.call("C_GetAttributeValue", () => ctx.p11.C_GetAttributeValue(ctx.session, handle, [{ type: pk.CKA_ID }]));
      const stableQuery: ObjectQuery = idAttr.value.length > 0 ? { cls: query.cls, id: idAttr.value } : query;
      const idHex = idAttr.value.toString("hex");
      if (query.cls === pk.CKO_SECRET_KEY) {
        if (keyType !== pk.CKK_AES) throw new HsmUnsupportedError(`key ${name} is not an AES key`);
        return { query: stableQuery, algorithm: "aes-256" as KeyAlgorithm, extractable, idHex };
      }
      if (keyType === pk.CKK_RSA) {
        const [m, e] = ctx.call("C_GetAttributeValue", () =>
          ctx.p11.C_GetAttributeValue(ctx.session, handle, [{ type: pk.CKA_MODULUS }, { type: pk.CKA_PUBLIC_EXPONENT }]),
        );
        const publicKey = rsaPublicKey(m.value, e.value);
        const bits = publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
        const algorithm = (`rsa-${bits}` as KeyAlgorithm);
        if (![2048, 3072, 4096].includes(bits)) throw new HsmUnsupportedError(`RSA-${bits} keys are not supported`);
        return { query: stableQuery, algorithm, publicKey, modulusBytes: Math.ceil(bits / 8), extractable, idHex };
      }
      if (keyType === pk.CKK_EC || keyType === CKK_EC_EDWARDS) {
        const [params] = ctx.call("C_GetAttributeValue", () => ctx.p11.C_GetAttributeValue(ctx.session, handle, [{ type: pk.CKA_EC_PARAMS }]));
        const algorithm = algorithmFromEcParams(params.value);
        if (!algorithm) throw new HsmUnsupportedError(`key ${name} uses an EC curve we do not support`);
        // The private object has no CKA_EC_POINT: read the public half (same CKA_ID).
        const pubHandle = token.findOne(ctx, { cls: pk.CKO_PUBLIC_KEY, id: idAttr.value.length > 0 ? idAttr.value : parsed.id, label: idAttr.value.length > 0 ? undefined : parsed.object }, `${name} (public half)`);
        const publicKey = this.readPublicKey(ctx, algorithm, pubHandle);
        return { query: stableQuery, algorithm, publicKey, extractable, idHex };
      }
      throw new HsmUnsupportedError(`key ${name} has an unsupported key type 0x${keyType.toString(16)}`);
    });
    const resolved: ResolvedKey = { token, name, ...r };
    this.resolved.set(uri, resolved);
    return resolved;
  }

  private async sign(k: ResolvedKey, data: Buffer, opts: SignOptions): Promise<Buffer> {
    const { mech, input } = signInput(k, data, opts);
    const raw = await k.token.run((ctx) =>
      k.token.withKey(ctx, k.query, k.name, async (h) => {
        ctx.call("C_SignInit", () => ctx.p11.C_SignInit(ctx.session, mech, h));
        return ctx.callAsync("C_Sign", () => ctx.p11.C_SignAsync(ctx.session, input, Buffer.alloc(k.modulusBytes ?? 132)));
      }),
    );
    if (k.algorithm === "ec-p256" || k.algorithm === "ec-p384") {
      return opts.dsaEncoding === "ieee-p1363" ? raw : ecdsaRawToDer(raw);
    }
    return raw;
  }
}

function signInput(k: ResolvedKey, data: Buffer, opts: SignOptions): { mech: pkcs11js.Mechanism; input: Buffer } {
  if (k.algorithm === "ed25519") {
    if (opts.prehashed) throw new HsmUnsupportedError("Ed25519 signs the message itself (no prehash)");
    return { mech: { mechanism: CKM_EDDSA }, input: data };
  }
  const hash = opts.hash ?? defaultHash(k.algorithm);
  const digest = opts.prehashed ? data : createHash(hash).update(data).digest();
  if (digest.length !== DIGEST_LENGTH[hash]) throw new HsmConfigError(`prehashed input must be a ${hash} digest (${DIGEST_LENGTH[hash]} bytes)`);
  if (k.algorithm === "ec-p256" || k.algorithm === "ec-p384") return { mech: { mechanism: pk.CKM_ECDSA }, input: digest };
  if (opts.padding === "pss") {
    return {
      mech: {
        mechanism: pk.CKM_RSA_PKCS_PSS,
        parameter: pssParams(hash, opts.saltLength ?? DIGEST_LENGTH[hash]),
      },
      input: digest,
    };
  }
  return { mech: { mechanism: pk.CKM_RSA_PKCS }, input: digestInfo(hash, digest) };
}

function pssParams(hash: HashAlgorithm, saltLen: number): pkcs11js.RsaPSS {
  return { type: pk.CK_PARAMS_RSA_PSS, hashAlg: HASH_MECH[hash], mgf: MGF[hash], saltLen };
}


function secretTemplate(label: string, id: Buffer, extractable: boolean, wrapping: boolean): Template {
  return [
    { type: pk.CKA_CLASS, value: pk.CKO_SECRET_KEY },
    { type: pk.CKA_KEY_TYPE, value: pk.CKK_AES },
    { type: pk.CKA_TOKEN, value: true },
    { type: pk.CKA_PRIVATE, value: true },
    { type: pk.CKA_SENSITIVE, value: true },
    { type: pk.CKA_EXTRACTABLE, value: extractable },
    { type: pk.CKA_LABEL, value: label },
    { type: pk.CKA_ID, value: id },
    { type: pk.CKA_ENCRYPT, value: true },
    { type: pk.CKA_DECRYPT, value: true },
    { type: pk.CKA_WRAP, value: wrapping },
    { type: pk.CKA_UNWRAP, value: wrapping },
  ];
}





function requireAlgorithm(k: ResolvedKey, alg: KeyAlgorithm): void {
  if (k.algorithm !== alg) throw new HsmKeyUsageError(`key ${k.name} is ${k.algorithm}, ${alg} needed`);
}

/** Parses and checks a key URI: it must name an object by id and/or label, and no unknown attribute. */
function parseKeyUri(uri: string): Pkcs11Uri {
  const parsed = parsePkcs11Uri(uri);
  if (parsed.id === undefined && parsed.object === undefined) throw new HsmConfigError("a key URI needs id= or object=");
  if (parsed.vendor) throw new HsmConfigError(`key URI has attributes this server does not understand: ${Object.keys(parsed.vendor).join(", ")}`);
  return parsed;
}

function classesFor(type: Pkcs11ObjectType, forDelete: boolean): number[] {
  switch (type) {
    case "private":
      return forDelete ? [pk.CKO_PRIVATE_KEY, pk.CKO_PUBLIC_KEY] : [pk.CKO_PRIVATE_KEY];
    case "secret-key":
      return [pk.CKO_SECRET_KEY];
    case "public":
      return forDelete ? [pk.CKO_PUBLIC_KEY] : [pk.CKO_PRIVATE_KEY];
    default:
      throw new HsmConfigError(`key URI type=${type} does not name a key`);
  }
}

function keyName(u: Pkcs11Uri): string {
  return formatPkcs11Uri({ token: u.token, serial: u.serial, object: u.object, id: u.id, type: u.type });
}

function sameKey(uri: string, target: Pkcs11Uri): boolean {
  try {
    const u = parsePkcs11Uri(uri);
    return (target.id === undefined || (u.id?.equals(target.id) ?? false)) && (target.object === undefined || u.object === target.object);
  } catch {
    return false;
  }
}
