/**
 * `seal "pkcs11"`: the root key is encrypted inside the HSM by a key that never leaves it.
 *
 * Accepts OpenBao's fields (lib, slot, token_label, pin — also `file://…` and `env://…` —, key_label,
 * key_id, mechanism, rsa_oaep_hash, generate_key) or one `key = "pkcs11:token=…;object=…"` URI resolved
 * against the declared `hsm` blocks. Mechanisms:
 *  - CKM_AES_GCM (default): C_Encrypt/C_Decrypt in the HSM, 96-bit IV, the storage path as AAD.
 *  - CKM_RSA_PKCS_OAEP: encrypted with the public key in software, decrypted in the HSM. SoftHSM rejects
 *    an OAEP label, so the path is bound by encrypting SHA-256(path) ‖ key and checking the prefix.
 *
 * Stored blob (JSON, on disk forever; docs/storage-layout.md):
 *   {"v":1,"mechanism":"CKM_AES_GCM","key":"<key URI, no PIN>","iv":"<b64>","ct":"<b64 ciphertext‖tag>"}
 *   {"v":1,"mechanism":"CKM_RSA_PKCS_OAEP","hash":"sha256","key":"…","ct":"<b64>"}
 * The PIN is read by the HSM token when it logs in; it is never part of a URI we format, log or store.
 */
import { constants, createHash, publicEncrypt, timingSafeEqual } from "node:crypto";
import { HsmPinError } from "../hsm/errors.js";
import { KeyNotFoundError, KeyUnavailableError } from "../hsm/key-errors.js";
import type { HsmDeclaration } from "../hsm/hsm-registry.js";
import { pinSourceOf } from "../hsm/hsm-config.js";
import type { KeyEncrypter, KeyManager, OaepHash } from "../hsm/key-manager.js";
import type { TokenHealth } from "../hsm/token.js";
import { formatPkcs11Uri, parsePkcs11Uri, type Pkcs11Uri } from "../hsm/uri.js";
import type { AutoSeal } from "./seal.js";

export type SealMechanism = "CKM_AES_GCM" | "CKM_RSA_PKCS_OAEP";
export type SealParam = string | number | boolean;

export interface Pkcs11SealSpec {
  name: string;
  /** Key URI (object and/or id), no PIN. */
  keyUri: string;
  /** CKA_LABEL for a generated key. */
  keyLabel: string;
  mechanism: SealMechanism;
  oaepHash: OaepHash;
  generateKey: boolean;
  /** Declared HSM the key lives on (where generate_key creates it). */
  hsm: string;
}

export class SealConfigError extends Error {
  override readonly name = "SealConfigError";
}

const MECHANISMS: Readonly<Record<string, SealMechanism>> = {
  ckm_aes_gcm: "CKM_AES_GCM",
  aes_gcm: "CKM_AES_GCM",
  "aes-gcm": "CKM_AES_GCM",
  "0x1087": "CKM_AES_GCM",
  "4231": "CKM_AES_GCM",
  ckm_rsa_pkcs_oaep: "CKM_RSA_PKCS_OAEP",
  rsa_pkcs_oaep: "CKM_RSA_PKCS_OAEP",
  "rsa-oaep": "CKM_RSA_PKCS_OAEP",
  "0x0009": "CKM_RSA_PKCS_OAEP",
  "0x9": "CKM_RSA_PKCS_OAEP",
  "9": "CKM_RSA_PKCS_OAEP",
};
const OAEP_HASHES: readonly OaepHash[] = ["sha1", "sha256", "sha384", "sha512"];
const KNOWN = new Set([
  "name",
  "lib",
  "module",
  "slot",
  "token_label",
  "token",
  "pin",
  "key_label",
  "label",
  "key",
  "key_id",
  "mechanism",
  "rsa_oaep_hash",
  "generate_key",
  "disable_software_encryption",
  "health_check_enabled",
  "health_check_interval",
  "health_check_timeout",
]);

function str(params: Readonly<Record<string, SealParam>>, ...keys: string[]): string | undefined {
  for (const k of keys) {
    const v = params[k];
    if (v !== undefined && v !== "") return String(v);
  }
  return undefined;
}

function bool(v: SealParam | undefined, field: string): boolean {
  if (v === undefined) return false;
  if (typeof v === "boolean") return v;
  const s = String(v).trim().toLowerCase();
  if (["true", "1", "t", "yes"].includes(s)) return true;
  if (["false", "0", "f", "no", ""].includes(s)) return false;
  throw new SealConfigError(`${field}: expected a boolean`);
}

function parseKeyId(raw: string, field: string): Buffer {
  const hex = raw.replace(/^0x/i, "");
  if (!/^([0-9a-fA-F]{2})+$/.test(hex)) throw new SealConfigError(`${field}: key_id must be hex (e.g. "0x3333")`);
  return Buffer.from(hex, "hex");
}

/**
 * Reads one `seal "pkcs11"` block. Returns the seal's spec and, when the block names its own library and
 * token (OpenBao style), the HSM declaration to add to the registry; with `key = "pkcs11:…"` the token must
 * be one of `declared`.
 */
export function parsePkcs11SealParams(
  name: string,
  params: Readonly<Record<string, SealParam>>,
  declared: readonly HsmDeclaration[],
  warn: (msg: string) => void = () => undefined,
): { spec: Pkcs11SealSpec; declaration?: HsmDeclaration } {
  const field = `seal.pkcs11(${name})`;
  for (const k of Object.keys(params)) if (!KNOWN.has(k)) warn(`${field}: unknown setting "${k}" ignored`);
  const mechRaw = str(params, "mechanism");
  let mechanism: SealMechanism = "CKM_AES_GCM";
  if (mechRaw !== undefined) {
    const m = MECHANISMS[mechRaw.trim().toLowerCase()];
    if (!m) throw new SealConfigError(`${field}.mechanism: unsupported mechanism "${mechRaw}" (CKM_AES_GCM or CKM_RSA_PKCS_OAEP)`);
    mechanism = m;
  }
  const hashRaw = (str(params, "rsa_oaep_hash") ?? "sha256").toLowerCase().replace("-", "") as OaepHash;
  if (!OAEP_HASHES.includes(hashRaw)) throw new SealConfigError(`${field}.rsa_oaep_hash: one of ${OAEP_HASHES.join(", ")}`);
  const generateKey = bool(params.generate_key, `${field}.generate_key`);

  // `key` is our URI form; OpenBao also used `key` as an old alias of key_label, so only "pkcs11:" means a URI.
  const keyParam = str(params, "key");
  const uriParam = keyParam?.startsWith("pkcs11:") ? keyParam : undefined;
  const keyLabel = str(params, "key_label", "label") ?? (uriParam ? undefined : keyParam);
  const keyIdRaw = str(params, "key_id");
  const lib = str(params, "lib", "module");
  const tokenLabel = str(params, "token_label", "token");
  const pin = str(params, "pin");
  if (str(params, "slot") !== undefined) {
    if (!tokenLabel && !uriParam) {
      throw new SealConfigError(`${field}.slot: select the token with token_label (slot numbers are reassigned by many HSMs, so Arca does not select by slot)`);
    }
    warn(`${field}.slot is ignored: the token is selected by token_label`);
  }

  let uri: Pkcs11Uri;
  let declaration: HsmDeclaration | undefined;
  let hsm: string;
  if (uriParam) {
    if (lib || tokenLabel || pin) throw new SealConfigError(`${field}: give either key = "pkcs11:…" (with an hsm block) or lib/token_label/pin, not both`);
    uri = parsePkcs11Uri(uriParam);
    if (uri.pinValue !== undefined || uri.pinSource !== undefined) {
      throw new SealConfigError(`${field}.key: the PIN belongs in the hsm block, not in the key URI`);
    }
    if (uri.object === undefined && uri.id === undefined) throw new SealConfigError(`${field}.key: the URI needs object= or id=`);
    const matches = declared.filter(
      (d) =>
        (uri.token === undefined || d.tokenLabel === undefined || d.tokenLabel === uri.token) &&
        (uri.serial === undefined || d.serial === undefined || d.serial === uri.serial) &&
        (uri.modulePath === undefined || d.lib === uri.modulePath),
    );
    if (matches.length === 0) throw new SealConfigError(`${field}.key: no declared hsm block holds the token this URI names`);
    if (matches.length > 1) throw new SealConfigError(`${field}.key: the URI matches several hsm blocks; add token= or serial=`);
    hsm = matches[0].name;
    // Always name the token, so the registry resolves the URI to this declaration.
    if (uri.token === undefined && uri.serial === undefined) {
      if (matches[0].tokenLabel !== undefined) uri.token = matches[0].tokenLabel;
      if (matches[0].serial !== undefined) uri.serial = matches[0].serial;
    }
  } else {
    if (!lib) throw new SealConfigError(`${field}: lib (the PKCS#11 library) or key = "pkcs11:…" is required`);
    if (!tokenLabel) throw new SealConfigError(`${field}: token_label is required`);
    if (!pin) throw new SealConfigError(`${field}: pin is required (a value, file://<path> or env://<VAR>)`);
    if (!keyLabel && !keyIdRaw) throw new SealConfigError(`${field}: key_label or key_id is required`);
    hsm = `seal-${name}`;
    declaration = { name: hsm, lib, tokenLabel, ...pinSourceOf(pin) };
    uri = { token: tokenLabel, modulePath: lib };
    if (keyLabel) uri.object = keyLabel;
    if (keyIdRaw) uri.id = parseKeyId(keyIdRaw, `${field}.key_id`);
  }
  // A generated key gets a CKA_ID the key manager chooses, so it can only be found again by label.
  if (generateKey && uri.id !== undefined) throw new SealConfigError(`${field}: generate_key needs key_label and no key_id (the HSM key manager assigns CKA_ID)`);
  if (generateKey && uri.object === undefined) throw new SealConfigError(`${field}: generate_key needs key_label (or object= in the key URI)`);
  const spec: Pkcs11SealSpec = {
    name,
    keyUri: formatPkcs11Uri({ token: uri.token, serial: uri.serial, object: uri.object, id: uri.id, modulePath: uri.modulePath }),
    keyLabel: uri.object ?? "arca-seal",
    mechanism,
    oaepHash: hashRaw,
    generateKey,
    hsm,
  };
  return declaration ? { spec, declaration } : { spec };
}

interface SealBlob {
  v: 1;
  mechanism: SealMechanism;
  key: string;
  hash?: OaepHash;
  iv?: string;
  ct: string;
}

/** The token the seal's key lives on, as far as health goes (HsmToken through the registry). */
export interface SealDevice {
  /** Undefined while the token was never opened. */
  health(): TokenHealth | undefined;
  probe(): Promise<boolean>;
}

/** The PKCS#11 auto seal over the HSM KeyManager seam. */
export class Pkcs11Seal implements AutoSeal {
  readonly type = "pkcs11";
  readonly name: string;
  private ensured: Promise<void> | undefined;

  constructor(
    private readonly spec: Pkcs11SealSpec,
    private readonly km: KeyManager & KeyEncrypter,
    private readonly device?: SealDevice,
  ) {
    this.name = spec.name;
  }

  deviceHealth(): { up: boolean; error?: string } | undefined {
    const h = this.device?.health();
    if (!h || h.state === "unknown") return undefined;
    return h.state === "up" ? { up: true } : { up: false, ...(h.error !== undefined ? { error: h.error } : {}) };
  }

  async probeDevice(): Promise<void> {
    await this.device?.probe();
  }

  isUnavailableError(err: unknown): boolean {
    return err instanceof KeyUnavailableError;
  }

  get keyUri(): string {
    return this.spec.keyUri;
  }

  get keyUris(): readonly string[] {
    return [this.spec.keyUri];
  }

  async wrap(plaintext: Buffer, aad: Buffer): Promise<Buffer> {
    await this.ensureKey();
    const blob: SealBlob = { v: 1, mechanism: this.spec.mechanism, key: this.spec.keyUri, ct: "" };
    if (this.spec.mechanism === "CKM_AES_GCM") {
      const out = await this.km.encrypt(this.spec.keyUri, plaintext, aad);
      blob.iv = out.iv.toString("base64");
      blob.ct = Buffer.concat([out.ciphertext, out.tag]).toString("base64");
    } else {
      const pub = await this.km.getPublicKey(this.spec.keyUri);
      const input = Buffer.concat([aadDigest(aad), plaintext]);
      try {
        blob.hash = this.spec.oaepHash;
        blob.ct = publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: this.spec.oaepHash }, input).toString("base64");
      } finally {
        input.fill(0);
      }
    }
    return Buffer.from(JSON.stringify(blob));
  }

  async unwrap(stored: Buffer, aad: Buffer): Promise<Buffer> {
    let blob: SealBlob;
    try {
      blob = JSON.parse(stored.toString("utf8")) as SealBlob;
    } catch {
      throw new Error("stored seal blob is not valid JSON");
    }
    if (blob.v !== 1) throw new Error(`unknown seal blob version ${String(blob.v)}`);
    const ct = Buffer.from(blob.ct, "base64");
    if (blob.mechanism === "CKM_AES_GCM") {
      if (ct.length < 16 || !blob.iv) throw new Error("stored seal blob is truncated");
      return this.km.decrypt(this.spec.keyUri, { iv: Buffer.from(blob.iv, "base64"), ciphertext: ct.subarray(0, ct.length - 16), tag: ct.subarray(ct.length - 16) }, aad);
    }
    if (blob.mechanism === "CKM_RSA_PKCS_OAEP") {
      const out = await this.km.decryptOaep(this.spec.keyUri, ct, { hash: blob.hash ?? "sha256" });
      try {
        const digest = aadDigest(aad);
        if (out.length < digest.length || !timingSafeEqual(out.subarray(0, digest.length), digest)) {
          throw new Error("stored seal blob belongs to another path");
        }
        return Buffer.from(out.subarray(digest.length));
      } finally {
        out.fill(0);
      }
    }
    throw new Error(`unknown seal mechanism ${String(blob.mechanism)}`);
  }

  isFinalError(err: unknown): boolean {
    return err instanceof HsmPinError;
  }

  async close(): Promise<void> {
    // Sessions belong to the registry, closed by whoever built it.
  }

  /** With generate_key, creates the key (sensitive, never extractable) when the token has none. */
  private ensureKey(): Promise<void> {
    if (!this.spec.generateKey) return Promise.resolve();
    this.ensured ??= this.findOrCreate().catch((err: unknown) => {
      this.ensured = undefined;
      throw err;
    });
    return this.ensured;
  }

  private async findOrCreate(): Promise<void> {
    const rsa = this.spec.mechanism === "CKM_RSA_PKCS_OAEP";
    try {
      if (rsa) await this.km.getPublicKey(this.spec.keyUri);
      else await this.km.encrypt(this.spec.keyUri, Buffer.alloc(16));
      return;
    } catch (err) {
      if (!(err instanceof KeyNotFoundError)) throw err;
    }
    await this.km.createKey({ algorithm: rsa ? "rsa-2048" : "aes-256", label: this.spec.keyLabel, hsm: this.spec.hsm, extractable: false, wrapping: false });
  }
}

function aadDigest(aad: Buffer): Buffer {
  return createHash("sha256").update(aad).digest();
}
