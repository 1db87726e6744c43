// NOT AN HSM. A KeyManager on node:crypto for development and tests: keys live in this process's memory
// (optionally mirrored through a persistence callback the caller must protect, e.g. inside the barrier).
// It exists so engines can run without a token; `isHardware` is false and the class name says so, and callers
// that need hardware guarantees must check. Keys are named `software:object=<label>;id=%..;type=private|secret-key`
// (RFC 7512 grammar under our own scheme), so URIs never collide with real pkcs11: ones.
import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  generateKeyPair,
  privateDecrypt,
  privateEncrypt,
  randomBytes,
  sign as signCb,
  constants,
  type KeyObject,
} from "node:crypto";
import { promisify } from "node:util";
import { KeyConfigError, KeyDecryptError, KeyNotFoundError, KeyUsageError, KeyUnsupportedError } from "./key-errors.js";
import { DIGEST_LENGTH, digestInfo, keyIdFromPublicKey } from "./key-encoding.js";
import {
  defaultHash,
  type AeadCiphertext,
  type CreateKeyRequest,
  type CreateKeyResponse,
  type CreateImportWrappingKeyRequest,
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
import { EPHEMERAL_KEY_BYTES, importFailed, splitRsaAesMaterial } from "./rsa-aes-key-wrap.js";
import { formatPkcs11Uri, parseWithScheme, type Pkcs11ObjectType } from "./uri.js";

const SCHEME = "software";
const generateKeyPairAsync = promisify(generateKeyPair);
const signAsync = promisify(signCb);

/** What the persistence callback receives: PKCS#8 DER for private keys, raw bytes for secret keys. */
export interface SoftwareKeyRecord {
  id: string;
  label: string;
  algorithm: KeyAlgorithm;
  extractable: boolean;
  /** Key material. Plaintext: store it only where secrets belong. */
  material: Buffer;
}

export interface SoftwareKeyManagerOptions {
  /** Called after every change, awaited before the call returns. `record` is undefined on delete. */
  persist?: (id: string, record: SoftwareKeyRecord | undefined) => Promise<void>;
  /** Keys to start with (from an earlier persist). */
  records?: SoftwareKeyRecord[];
}

interface Entry {
  label: string;
  algorithm: KeyAlgorithm;
  extractable: boolean;
  /** Private key (pairs) or secret key (AES). */
  key: KeyObject;
  publicKey?: KeyObject;
}

export class SoftwareKeyManagerNotHsm implements KeyManager, KeyEncrypter, KeyWrapper, KeyDeleter, KeyImporter, WrappedKeyImporter {
  readonly isHardware = false as const;
  private readonly keys = new Map<string, Entry>();
  private readonly persist?: SoftwareKeyManagerOptions["persist"];

  constructor(opts: SoftwareKeyManagerOptions = {}) {
    this.persist = opts.persist;
    for (const r of opts.records ?? []) this.keys.set(r.id, fromRecord(r));
  }

  async createKey(req: CreateKeyRequest): Promise<CreateKeyResponse> {
    if (req.algorithm === "aes-256") return this.addSecret(randomBytes(32), req.label, req.extractable ?? false);
    const pair = await generate(req.algorithm);
    const id = keyIdFromPublicKey(pair.publicKey);
    const entry: Entry = { label: req.label, algorithm: req.algorithm, extractable: req.extractable ?? false, key: pair.privateKey, publicKey: pair.publicKey };
    await this.store(id, entry);
    return {
      uri: uriOf(req.label, id, "private"),
      publicUri: uriOf(req.label, id, "public"),
      algorithm: req.algorithm,
      id,
      publicKey: pair.publicKey,
    };
  }

  async getPublicKey(uri: string): Promise<KeyObject> {
    const e = this.lookup(uri);
    if (!e.publicKey) throw new KeyUsageError("a secret key has no public key");
    return e.publicKey;
  }

  async createSigner(uri: string): Promise<Signer> {
    const e = this.lookup(uri);
    const publicKey = e.publicKey;
    if (!publicKey) throw new KeyUsageError("a secret key cannot sign");
    // Looked up per call, so a deleted key stops signing like an HSM key does.
    return { algorithm: e.algorithm, publicKey, sign: async (data, opts) => softwareSign(this.lookup(uri), data, opts ?? {}) };
  }

  async encrypt(uri: string, plaintext: Buffer, aad?: Buffer): Promise<AeadCiphertext> {
    const e = this.secret(uri);
    const iv = randomBytes(12);
    const c = createCipheriv("aes-256-gcm", e.key, iv);
    if (aad) c.setAAD(aad);
    const ciphertext = Buffer.concat([c.update(plaintext), c.final()]);
    return { iv, ciphertext, tag: c.getAuthTag() };
  }

  async decrypt(uri: string, ct: AeadCiphertext, aad?: Buffer): Promise<Buffer> {
    const e = this.secret(uri);
    try {
      const d = createDecipheriv("aes-256-gcm", e.key, ct.iv);
      if (aad) d.setAAD(aad);
      d.setAuthTag(ct.tag);
      return Buffer.concat([d.update(ct.ciphertext), d.final()]);
    } catch (err) {
      throw new KeyDecryptError("authentication failed", { cause: err });
    }
  }

  async decryptOaep(uri: string, ciphertext: Buffer, opts: { hash?: OaepHash; label?: Buffer } = {}): Promise<Buffer> {
    const e = this.lookup(uri);
    if (!e.algorithm.startsWith("rsa-")) throw new KeyUsageError("not an RSA key");
    try {
      return privateDecrypt({ key: e.key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: opts.hash ?? "sha256", oaepLabel: opts.label }, ciphertext);
    } catch (err) {
      throw new KeyDecryptError("RSA-OAEP decryption failed", { cause: err });
    }
  }

  async wrapKey(wrappingUri: string, targetUri: string, mechanism: WrapMechanism = "aes-kwp"): Promise<Buffer> {
    const w = this.secret(wrappingUri);
    const t = this.lookup(targetUri);
    if (!t.extractable) throw new KeyUsageError("key is not extractable: it cannot be wrapped");
    const material = t.algorithm === "aes-256" ? t.key.export() : t.key.export({ type: "pkcs8", format: "der" });
    const [cipher, iv] = wrapCipher(mechanism);
    const c = createCipheriv(cipher, w.key, iv);
    return Buffer.concat([c.update(material), c.final()]);
  }

  async unwrapKey(wrappingUri: string, req: UnwrapKeyRequest): Promise<CreateKeyResponse> {
    const w = this.secret(wrappingUri);
    if (req.algorithm !== "aes-256") throw new KeyUnsupportedError("only AES-256 keys can be unwrapped portably");
    const [cipher, iv] = wrapCipher(req.mechanism ?? "aes-kwp");
    let material: Buffer;
    try {
      const d = createDecipheriv(cipher, w.key, iv);
      material = Buffer.concat([d.update(req.wrapped), d.final()]);
    } catch (err) {
      throw new KeyDecryptError("unwrap failed (integrity check)", { cause: err });
    }
    if (material.length !== 32) throw new KeyDecryptError("unwrapped key is not 32 bytes");
    return this.addSecret(material, req.label, req.extractable ?? false);
  }

  async importKey(req: ImportKeyRequest): Promise<CreateKeyResponse> {
    if (req.algorithm !== "aes-256" || req.material.length !== 32) throw new KeyUnsupportedError("importKey takes 32-byte AES-256 keys");
    return this.addSecret(Buffer.from(req.material), req.label, req.extractable ?? false);
  }

  createImportWrappingKey(req: CreateImportWrappingKeyRequest): Promise<CreateKeyResponse> {
    return this.createKey({ algorithm: req.algorithm, label: req.label });
  }

  async importWrappedKey(req: WrappedImportRequest): Promise<CreateKeyResponse> {
    if (req.algorithm !== "aes-256") throw new KeyUnsupportedError("only AES-256 keys can be imported portably");
    const e = this.lookup(req.wrappingUri);
    const bits = e.publicKey?.asymmetricKeyDetails?.modulusLength;
    if (!e.algorithm.startsWith("rsa-") || bits === undefined) throw new KeyUsageError("the import key must be an RSA key");
    const { encryptedKey, wrappedKey } = splitRsaAesMaterial(req.material, bits / 8, 32);
    let ephemeral: Buffer | undefined;
    let material: Buffer | undefined;
    try {
      ephemeral = privateDecrypt({ key: e.key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: req.hash ?? "sha256" }, encryptedKey);
      if (ephemeral.length !== EPHEMERAL_KEY_BYTES) throw importFailed();
      const d = createDecipheriv("id-aes256-wrap-pad", ephemeral, Buffer.from("A65959A6", "hex"));
      material = Buffer.concat([d.update(wrappedKey), d.final()]);
    } catch (err) {
      throw importFailed(err);
    } finally {
      ephemeral?.fill(0);
    }
    try {
      if (material.length !== 32) throw importFailed();
      return await this.addSecret(material, req.label, false);
    } finally {
      material.fill(0);
    }
  }

  async deleteKey(uri: string): Promise<void> {
    const id = this.idOf(uri);
    if (!this.keys.delete(id)) throw new KeyNotFoundError("key not found");
    await this.persist?.(id, undefined);
  }

  async close(): Promise<void> {
    this.keys.clear();
  }

  private async addSecret(material: Buffer, label: string, extractable: boolean): Promise<CreateKeyResponse> {
    const id = randomBytes(16);
    await this.store(id, { label, algorithm: "aes-256", extractable, key: createSecretKey(material) });
    return { uri: uriOf(label, id, "secret-key"), algorithm: "aes-256", id };
  }

  private async store(id: Buffer, e: Entry): Promise<void> {
    const hex = id.toString("hex");
    this.keys.set(hex, e);
    await this.persist?.(hex, toRecord(hex, e));
  }

  async identify(uri: string): Promise<KeyIdentity> {
    const id = this.idOf(uri);
    const e = this.lookup(uri);
    return { store: SCHEME, kind: e.algorithm === "aes-256" ? "secret" : "private", id };
  }

  private idOf(uri: string): string {
    const u = parseWithScheme(uri, SCHEME);
    if (u.id === undefined) {
      if (u.object === undefined) throw new KeyConfigError("a key URI needs id= or object=");
      const matches = [...this.keys].filter(([, e]) => e.label === u.object);
      if (matches.length === 0) throw new KeyNotFoundError("key not found");
      if (matches.length > 1) throw new KeyConfigError("several keys have this label; use id=");
      return matches[0][0];
    }
    return u.id.toString("hex");
  }

  private lookup(uri: string): Entry {
    const e = this.keys.get(this.idOf(uri));
    if (!e) throw new KeyNotFoundError("key not found");
    return e;
  }

  private secret(uri: string): Entry {
    const e = this.lookup(uri);
    if (e.algorithm !== "aes-256") throw new KeyUsageError(`key is ${e.algorithm}, aes-256 needed`);
    return e;
  }
}

function uriOf(label: string, id: Buffer, type: Pkcs11ObjectType): string {
  return formatPkcs11Uri({ object: label, id, type }, { scheme: SCHEME });
}

function wrapCipher(m: WrapMechanism): [string, Buffer] {
  // RFC 3394 default IV / RFC 5649 alternative IV prefix.
  return m === "aes-kw" ? ["id-aes256-wrap", Buffer.from("A6A6A6A6A6A6A6A6", "hex")] : ["id-aes256-wrap-pad", Buffer.from("A65959A6", "hex")];
}

async function generate(alg: KeyAlgorithm): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  switch (alg) {
    case "rsa-2048":
    case "rsa-3072":
    case "rsa-4096":
      return generateKeyPairAsync("rsa", { modulusLength: Number(alg.slice(4)), publicExponent: 0x10001 });
    case "ec-p256":
      return generateKeyPairAsync("ec", { namedCurve: "P-256" });
    case "ec-p384":
      return generateKeyPairAsync("ec", { namedCurve: "P-384" });
    case "ed25519":
      return generateKeyPairAsync("ed25519");
    default:
      throw new KeyUnsupportedError(`unknown key algorithm ${String(alg)}`);
  }
}

async function softwareSign(e: Entry, data: Buffer, opts: SignOptions): Promise<Buffer> {
  if (e.algorithm === "ed25519") {
    if (opts.prehashed) throw new KeyUnsupportedError("Ed25519 signs the message itself (no prehash)");
    return signAsync(null, data, e.key);
  }
  const hash = opts.hash ?? defaultHash(e.algorithm);
  if (opts.prehashed) {
    if (data.length !== DIGEST_LENGTH[hash]) throw new KeyConfigError(`prehashed input must be a ${hash} digest`);
    // node:crypto has no "sign this digest" for ECDSA/PSS; PKCS#1 v1.5 is a raw RSA operation over DigestInfo.
    if (e.algorithm.startsWith("rsa-") && opts.padding !== "pss") {
      return privateEncrypt({ key: e.key, padding: constants.RSA_PKCS1_PADDING }, digestInfo(hash, data));
    }
    throw new KeyUnsupportedError("the software key manager signs prehashed input only for RSA PKCS#1 v1.5");
  }
  if (e.algorithm.startsWith("rsa-")) {
    const padding = opts.padding === "pss" ? constants.RSA_PKCS1_PSS_PADDING : constants.RSA_PKCS1_PADDING;
    return signAsync(hash, data, { key: e.key, padding, saltLength: opts.saltLength ?? DIGEST_LENGTH[hash] });
  }
  return signAsync(hash, data, { key: e.key, dsaEncoding: opts.dsaEncoding ?? "der" });
}

function toRecord(id: string, e: Entry): SoftwareKeyRecord {
  const material = e.algorithm === "aes-256" ? e.key.export() : e.key.export({ type: "pkcs8", format: "der" });
  return { id, label: e.label, algorithm: e.algorithm, extractable: e.extractable, material };
}

function fromRecord(r: SoftwareKeyRecord): Entry {
  if (r.algorithm === "aes-256") return { label: r.label, algorithm: r.algorithm, extractable: r.extractable, key: createSecretKey(r.material) };
  const key = createPrivateKey({ key: r.material, format: "der", type: "pkcs8" });
  return { label: r.label, algorithm: r.algorithm, extractable: r.extractable, key, publicKey: createPublicKey(key) };
}
