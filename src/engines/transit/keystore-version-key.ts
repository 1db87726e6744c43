/**
 * A key version whose material lives in a key store behind the KeyManager seam (an HSM): the key never
 * leaves it. Encryption is AES-256-GCM inside the store, with the same envelope body as software AES-GCM
 * (nonce ‖ ciphertext ‖ tag); signing goes through the store's Signer; verification needs only the public
 * key, fetched once. Seam errors become API errors through the one mapping every engine uses.
 */
import type { KeyObject } from "node:crypto";
import { ArcaError, invalidRequest } from "../../common/errors.js";
import { keyErrorToArca } from "../../core/key-api-errors.js";
import { ecPublicPoint, parsePssSalt } from "./digest-sign.js";
import { isKeyEncrypter, type HashAlgorithm, type KeyEncrypter, type KeyManager, type SignOptions } from "../../hsm/key-manager.js";
import { DIGEST_BYTES } from "./transit-hash.js";
import { isEcdsa, isRsa, type KeyType } from "./transit-key.js";
import { verifyWithPublicKey } from "./verify-signature.js";
import type { CipherParams, Signature, SignRequest, VersionKey } from "./version-key.js";

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

function seamHash(hash: string | undefined): HashAlgorithm {
  if (hash === "sha256" || hash === "sha384" || hash === "sha512") return hash;
  throw invalidRequest(`hash algorithm ${hash ?? "none"} is not supported for HSM-backed keys (use sha2-256, sha2-384 or sha2-512)`);
}

/** The seam's hash for an ECDSA digest: any of its hashes of that length (the choice does not change the signature). */
function digestHash(digest: Buffer): HashAlgorithm {
  const h = ({ 32: "sha256", 48: "sha384", 64: "sha512" } as const)[digest.length as 32 | 48 | 64] as HashAlgorithm | undefined;
  if (!h) throw invalidRequest("prehashed input for HSM-backed ECDSA keys must be a 32, 48 or 64-byte digest");
  return h;
}

export class KeyStoreVersionKey implements VersionKey {
  private pub: KeyObject | undefined;
  private point: Uint8Array | undefined;

  constructor(
    private readonly type: KeyType,
    private readonly uri: string,
    private readonly keyManager: KeyManager | undefined,
  ) {}

  private km(): KeyManager {
    if (!this.keyManager) throw new ArcaError("unavailable", "this key lives in an HSM, but no HSM is configured on this server");
    return this.keyManager;
  }

  private encrypter(what: "encrypt" | "decrypt"): KeyEncrypter {
    const km = this.km();
    if (!isKeyEncrypter(km)) throw new ArcaError("unavailable", `the configured key manager cannot ${what}`);
    return km;
  }

  /** Runs one call into the key store, with its failures as API errors. */
  private async call<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      throw keyErrorToArca(err, "HSM operation failed");
    }
  }

  async encrypt(plaintext: Buffer, params: CipherParams): Promise<Buffer> {
    const km = this.encrypter("encrypt");
    const ct = await this.call(() => km.encrypt(this.uri, plaintext, params.aad));
    return Buffer.concat([ct.iv, ct.ciphertext, ct.tag]);
  }

  async decrypt(blob: Buffer, params: CipherParams): Promise<Buffer> {
    const km = this.encrypter("decrypt");
    if (blob.length < NONCE_BYTES + TAG_BYTES) throw invalidRequest("invalid ciphertext length");
    const ct = { iv: blob.subarray(0, NONCE_BYTES), ciphertext: blob.subarray(NONCE_BYTES, blob.length - TAG_BYTES), tag: blob.subarray(blob.length - TAG_BYTES) };
    return this.call(() => km.decrypt(this.uri, ct, params.aad));
  }

  async sign(input: Buffer, req: SignRequest): Promise<Signature> {
    const km = this.km();
    const opts: SignOptions = {
      hash: isEcdsa(this.type) && req.prehashed ? digestHash(input) : seamHash(req.hash),
      prehashed: req.prehashed,
      padding: req.signatureAlgorithm === "pss" ? "pss" : "pkcs1",
      dsaEncoding: req.dsaEncoding,
    };
    // The seam signs PSS with salt = digest length; refuse other requests rather than silently change them.
    if (isRsa(this.type) && req.signatureAlgorithm === "pss") {
      const salt = parsePssSalt(req.saltLength, DIGEST_BYTES[opts.hash!]);
      if (salt !== "auto" && salt !== DIGEST_BYTES[opts.hash!]) throw invalidRequest("HSM-backed RSA-PSS keys sign with a salt as long as the digest");
    }
    // A Signer per call (not cached): the mount's key manager checks custody when it is made.
    const signature = await this.call(async () => (await km.createSigner(this.uri)).sign(input, opts));
    return { signature };
  }

  async verify(input: Buffer, sig: Buffer, req: SignRequest): Promise<boolean> {
    const key = await this.publicKey();
    return verifyWithPublicKey(this.type, key, () => (this.point ??= ecPublicPoint(key)), input, sig, req);
  }

  hmac(): Buffer {
    throw invalidRequest("HMAC is not supported for HSM-backed keys");
  }

  /** Fetched through the key manager once per handle (a public key is not a secret, and it does not change). */
  async publicKey(): Promise<KeyObject> {
    if (!this.pub) {
      const km = this.km();
      this.pub = await this.call(() => km.getPublicKey(this.uri));
    }
    return this.pub;
  }
}
