/**
 * A key version whose material is in the policy record (inside the barrier): node:crypto does the work.
 * Decoded keys are kept on the handle, and the handle is kept per parsed policy (key-store.ts), so a request
 * pays for base64 and PKCS#8 decoding once per stored policy, not per operation.
 */
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  hkdfSync,
  privateDecrypt,
  privateEncrypt,
  publicEncrypt,
  randomFillSync,
  sign as cryptoSign,
  verify as cryptoVerify,
  type CipherChaCha20Poly1305,
  type CipherGCM,
  type DecipherChaCha20Poly1305,
  type DecipherGCM,
  type KeyObject,
} from "node:crypto";
import { ArcaError, invalidRequest } from "../../common/errors.js";
import { DECRYPT_FAILED } from "../../core/key-api-errors.js";
import { convergentNonce } from "./convergent-nonce.js";
import { ecdsaSignDigest, ecPrivateScalar, ecPublicPoint, modulusBits, parsePssSalt, pssSignSalt, rsaPssSignDigest } from "./digest-sign.js";
import { DIGEST_BYTES, DIGEST_INFO, requireHash } from "./transit-hash.js";
import { isEcdsa, isRsa, isSymmetricCipher, type KeyPolicy, type KeyVersion } from "./transit-key.js";
import { verifyWithPublicKey } from "./verify-signature.js";
import type { CipherParams, Signature, SignRequest, VersionKey } from "./version-key.js";

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** HKDF-SHA256(ikm = version key, salt = none, info = context), as OpenBao's derived keys. */
export function deriveKey(key: Buffer, context: Buffer, bytes: number): Buffer {
  return Buffer.from(hkdfSync("sha256", key, Buffer.alloc(0), context, bytes));
}

export function requireContext(context: Buffer | undefined): Buffer {
  if (!context || context.length === 0) {
    throw invalidRequest(
      "missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key",
    );
  }
  return context;
}

/**
 * Random nonces, cut from a pooled CSPRNG buffer: one randomFillSync per 512 nonces instead of one per
 * encryption (a call into OpenSSL costs more than the AES-GCM of a small plaintext). Every byte is handed out
 * once, and each nonce is a copy, so a refill never changes a nonce already given out.
 */
const NONCE_POOL = Buffer.alloc(NONCE_BYTES * 512);
let noncePos = NONCE_POOL.length;

function randomNonce(): Buffer {
  if (noncePos === NONCE_POOL.length) {
    randomFillSync(NONCE_POOL);
    noncePos = 0;
  }
  const nonce = Buffer.from(NONCE_POOL.subarray(noncePos, noncePos + NONCE_BYTES));
  noncePos += NONCE_BYTES;
  return nonce;
}

/** AEAD cipher/decipher objects (the branches only exist so the types pick the AEAD overloads). */
function aeadCipher(p: KeyPolicy, key: Buffer, nonce: Buffer): CipherGCM | CipherChaCha20Poly1305 {
  if (p.type === "chacha20-poly1305") return createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG_BYTES });
  return createCipheriv(p.type === "aes128-gcm96" ? "aes-128-gcm" : "aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
}

function aeadDecipher(p: KeyPolicy, key: Buffer, nonce: Buffer): DecipherGCM | DecipherChaCha20Poly1305 {
  if (p.type === "chacha20-poly1305") return createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG_BYTES });
  return createDecipheriv(p.type === "aes128-gcm96" ? "aes-128-gcm" : "aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
}

/** Ed25519 seed of a stored PKCS#8 key: the OCTET STRING after the fixed 16-byte prefix (RFC 8410). */
const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/** Raw 32-byte Ed25519 public key. */
function rawEd25519(pub: KeyObject): Buffer {
  return Buffer.from(pub.export({ format: "jwk" }).x ?? "", "base64url");
}

export class SoftwareVersionKey implements VersionKey {
  private secret: Buffer | undefined;
  private priv: KeyObject | undefined;
  private pub: KeyObject | undefined;
  /** Raw EC private scalar and public point for signing and verifying digests (digest-sign.ts). */
  private scalar: Uint8Array | undefined;
  private point: Uint8Array | undefined;

  constructor(
    private readonly policy: KeyPolicy,
    private readonly v: KeyVersion,
  ) {}

  /** The decoded symmetric key (AES, ChaCha20, HMAC key type). Never modify it. */
  private secretKey(): Buffer {
    if (!this.secret) {
      if (!this.v.key) throw new ArcaError("internal", "key version has no symmetric material");
      this.secret = Buffer.from(this.v.key, "base64");
    }
    return this.secret;
  }

  private privateKey(): KeyObject {
    if (!this.priv) {
      if (!this.v.privateKey) throw invalidRequest("no private key for this key version");
      this.priv = createPrivateKey({ key: Buffer.from(this.v.privateKey, "base64"), format: "der", type: "pkcs8" });
    }
    return this.priv;
  }

  private publicKeySync(): KeyObject {
    if (!this.pub) {
      if (!this.v.publicKey) throw invalidRequest("no public key for this key version");
      this.pub = createPublicKey({ key: Buffer.from(this.v.publicKey, "base64"), format: "der", type: "spki" });
    }
    return this.pub;
  }

  async publicKey(): Promise<KeyObject> {
    return this.publicKeySync();
  }

  private symmetricKey(context: Buffer | undefined): Buffer {
    const key = this.secretKey();
    return this.policy.derived ? deriveKey(key, requireContext(context), key.length) : key;
  }

  async encrypt(plaintext: Buffer, params: CipherParams): Promise<Buffer> {
    const p = this.policy;
    if (isRsa(p.type)) {
      if (params.aad && params.aad.length > 0) throw invalidRequest("associated_data is not supported for RSA keys");
      try {
        return publicEncrypt({ key: this.publicKeySync(), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, plaintext);
      } catch {
        throw invalidRequest("plaintext too long for RSA-OAEP with this key");
      }
    }
    if (!isSymmetricCipher(p.type)) throw invalidRequest(`encryption not supported for key type ${p.type}`);
    const key = this.symmetricKey(params.context);
    const nonce = p.convergentEncryption ? convergentNonce(this.v, { context: requireContext(params.context), aad: params.aad, plaintext }) : randomNonce();
    const c = aeadCipher(p, key, nonce);
    if (params.aad && params.aad.length > 0) c.setAAD(params.aad, { plaintextLength: plaintext.length });
    return Buffer.concat([nonce, c.update(plaintext), c.final(), c.getAuthTag()]);
  }

  async decrypt(blob: Buffer, params: CipherParams): Promise<Buffer> {
    const p = this.policy;
    if (isRsa(p.type)) {
      try {
        return privateDecrypt({ key: this.privateKey(), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, blob);
      } catch {
        throw invalidRequest("invalid ciphertext: RSA-OAEP decryption failed");
      }
    }
    if (!isSymmetricCipher(p.type)) throw invalidRequest(`decryption not supported for key type ${p.type}`);
    if (blob.length < NONCE_BYTES + TAG_BYTES) throw invalidRequest("invalid ciphertext length");
    const key = this.symmetricKey(params.context);
    const d = aeadDecipher(p, key, blob.subarray(0, NONCE_BYTES));
    const body = blob.subarray(NONCE_BYTES, blob.length - TAG_BYTES);
    d.setAuthTag(blob.subarray(blob.length - TAG_BYTES));
    if (params.aad && params.aad.length > 0) d.setAAD(params.aad, { plaintextLength: body.length });
    try {
      return Buffer.concat([d.update(body), d.final()]);
    } catch {
      throw invalidRequest(DECRYPT_FAILED);
    }
  }

  private derivedEd25519(context: Buffer | undefined): { priv: KeyObject; pub: KeyObject } {
    const seed = this.privateKey().export({ type: "pkcs8", format: "der" }).subarray(ED25519_PKCS8_PREFIX.length);
    const derived = deriveKey(seed, requireContext(context), 32);
    const priv = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, derived]), format: "der", type: "pkcs8" });
    return { priv, pub: createPublicKey(priv) };
  }

  private ecScalar(): Uint8Array {
    this.scalar ??= ecPrivateScalar(this.privateKey());
    return this.scalar;
  }

  private ecPoint(): Uint8Array {
    this.point ??= ecPublicPoint(this.publicKeySync());
    return this.point;
  }

  async sign(input: Buffer, req: SignRequest): Promise<Signature> {
    const p = this.policy;
    const { hash, prehashed } = req;
    if (p.type === "ed25519") {
      if (!p.derived) return { signature: cryptoSign(null, input, this.privateKey()) };
      const { priv, pub } = this.derivedEd25519(req.context);
      return { signature: cryptoSign(null, input, priv), publicKey: rawEd25519(pub) };
    }
    const key = this.privateKey();
    if (isEcdsa(p.type)) {
      return { signature: prehashed ? ecdsaSignDigest(p.type, this.ecScalar(), input, req.dsaEncoding) : cryptoSign(hash, input, { key, dsaEncoding: req.dsaEncoding }) };
    }
    if (req.signatureAlgorithm === "pkcs1v15") {
      if (prehashed) {
        const encoded = hash ? Buffer.concat([Buffer.from(DIGEST_INFO[hash], "hex"), input]) : input;
        return { signature: privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, encoded) };
      }
      return { signature: cryptoSign(hash, input, { key, padding: constants.RSA_PKCS1_PADDING }) };
    }
    const h = requireHash(hash);
    const salt = parsePssSalt(req.saltLength, DIGEST_BYTES[h]);
    const signature = prehashed
      ? rsaPssSignDigest(key, h, input, salt)
      : cryptoSign(h, input, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pssSignSalt(salt, modulusBits(key), DIGEST_BYTES[h]) });
    return { signature };
  }

  async verify(input: Buffer, sig: Buffer, req: SignRequest): Promise<boolean> {
    const p = this.policy;
    if (p.type === "ed25519") {
      const key = p.derived ? this.derivedEd25519(req.context).pub : this.publicKeySync();
      return cryptoVerify(null, input, key, sig);
    }
    return verifyWithPublicKey(p.type, this.publicKeySync(), () => this.ecPoint(), input, sig, req);
  }

  hmac(hash: string, input: Buffer): Buffer {
    const b64 = this.policy.type === "hmac" ? this.v.key : this.v.hmacKey;
    if (!b64) throw invalidRequest("no HMAC key for this key version");
    return createHmac(hash, Buffer.from(b64, "base64")).update(input).digest();
  }
}
