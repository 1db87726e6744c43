// The sealed share file: one unseal share encrypted by a key inside a PKCS#11 token.
//
// On-disk format (JSON, mode 0600) — a format forever, documented in docs/unsealer.md. Two versions, one
// per sealing scheme; the share block's `algorithm` says which one the daemon accepts:
//   version 1, AES-256-GCM in the token (HSMs, SoftHSM):
//   { "format": "arca-unsealer-share", "version": 1, "key_uri": "pkcs11:token=…;object=…",
//     "algorithm": "aes-256-gcm", "iv": b64(12), "ciphertext": b64, "tag": b64(16), "created": RFC 3339 }
//   version 2, RSA-OAEP-SHA256 + RSA-PSS-SHA256 with one RSA key in the token (TPMs, see oaep-seal.ts):
//   { "format": "arca-unsealer-share", "version": 2, "key_uri": "…", "algorithm": "rsa-oaep-sha256",
//     "ciphertext": b64, "signature": b64, "created": RFC 3339 }
// key_uri is the canonical form of the configured key URI, never with a PIN or module. The AES-GCM
// associated data binds the ciphertext to its purpose and to that key URI, so a ciphertext produced by
// the same HSM key for another purpose (or moved to another share block) does not open here.
import { open, readFile, rename, stat, unlink } from "node:fs/promises";
import { KeyNotFoundError } from "../hsm/key-errors.js";
import type { HsmRegistry } from "../hsm/hsm-registry.js";
import type { KeyEncrypter, KeyManager } from "../hsm/key-manager.js";
import { formatPkcs11Uri, parsePkcs11Uri } from "../hsm/uri.js";
import type { ShareAlgorithm, ShareConfig } from "./config.js";
import { SealedShareError } from "./sealed-share-error.js";
import { OAEP_KEY_ALGORITHM, openOaep, requireOaepKey, sealOaep } from "./oaep-seal.js";

export const SEALED_SHARE_FORMAT = "arca-unsealer-share";
/** The file version of each scheme: a reader that knows only version 1 refuses an RSA file outright. */
const VERSION_OF: Record<ShareAlgorithm, number> = { "aes-256-gcm": 1, "rsa-oaep-sha256": 2 };
const AAD_PREFIX = "arca-unsealer-share/v1\0";

/** Bounds for an unseal share: OpenBao/Arca Shamir shares are 33 bytes; anything far off is a paste error. */
const MIN_SHARE_BYTES = 16;
const MAX_SHARE_BYTES = 1024;

interface SealedShareBase {
  keyUri: string;
  ciphertext: Buffer;
  created: string;
}

export interface GcmSealedShare extends SealedShareBase {
  algorithm: "aes-256-gcm";
  iv: Buffer;
  tag: Buffer;
}

export interface OaepSealedShare extends SealedShareBase {
  algorithm: "rsa-oaep-sha256";
  signature: Buffer;
}

export type SealedShare = GcmSealedShare | OaepSealedShare;

/** What sealing and opening need from the token: AES-GCM, RSA-OAEP decryption, a public key and a signer. */
export type ShareKeys = KeyEncrypter & Pick<KeyManager, "getPublicKey" | "createSigner">;

/** The share block's key and scheme. */
export type ShareKeyRef = Pick<ShareConfig, "key" | "algorithm">;

export { SealedShareError };

/** The URI as recorded in the file and bound into the AAD: canonical order, no PIN, no module. */
export function canonicalKeyUri(uri: string): string {
  const u = parsePkcs11Uri(uri);
  return formatPkcs11Uri({ token: u.token, serial: u.serial, object: u.object, id: u.id, type: u.type });
}

export function shareAad(canonicalUri: string): Buffer {
  return Buffer.from(AAD_PREFIX + canonicalUri, "utf8");
}

/**
 * Decodes an operator-supplied share (hex first, then base64, as the server's sys/unseal does). The
 * input string itself cannot be wiped (JS strings are immutable); the caller should drop it quickly.
 */
export function parseShareInput(text: string): Buffer {
  const s = text.trim();
  let out: Buffer | undefined;
  if (/^[0-9a-fA-F]+$/.test(s) && s.length % 2 === 0) out = Buffer.from(s, "hex");
  else if (/^[A-Za-z0-9+/]+={0,2}$/.test(s) && s.length % 4 === 0) out = Buffer.from(s, "base64");
  if (!out) throw new SealedShareError("the share must be hex or base64 (as printed by operator init)");
  if (out.length < MIN_SHARE_BYTES || out.length > MAX_SHARE_BYTES) {
    out.fill(0);
    throw new SealedShareError(`the share decodes to an implausible length (expected ${MIN_SHARE_BYTES}–${MAX_SHARE_BYTES} bytes)`);
  }
  return out;
}

/**
 * Makes sure the sealing key exists, creating it on the token the URI names when it does not: AES-256
 * (sensitive, never extractable, no wrap usage) for GCM, an RSA key pair for OAEP. Returns true when it
 * created the key.
 */
export async function ensureShareKey(km: KeyManager & KeyEncrypter, registry: HsmRegistry, target: ShareKeyRef): Promise<boolean> {
  try {
    if (target.algorithm === "rsa-oaep-sha256") requireOaepKey(await km.getPublicKey(target.key));
    // A throwaway encryption is the cheapest existence check the KeyManager seam offers, and it also
    // proves the key can encrypt (right type and usage) before anything is written.
    else await km.encrypt(target.key, Buffer.alloc(1), shareAad("probe"));
    return false;
  } catch (err) {
    if (!(err instanceof KeyNotFoundError)) throw err;
  }
  const u = parsePkcs11Uri(target.key);
  // createKey picks a random (AES) or SPKI-derived (RSA) CKA_ID; a URI that pins an id could then never
  // find the key it created.
  if (u.id !== undefined) throw new SealedShareError("the share key does not exist and its URI names an id=: create it yourself or name it by object= only");
  if (u.object === undefined) throw new SealedShareError("the share key URI needs object=");
  const hsm = registry.declarationFor(u).name;
  if (target.algorithm === "rsa-oaep-sha256") await km.createKey({ algorithm: OAEP_KEY_ALGORITHM, label: u.object, hsm, extractable: false });
  else await km.createKey({ algorithm: "aes-256", label: u.object, hsm, extractable: false, wrapping: false });
  return true;
}

export async function sealShare(km: ShareKeys, target: ShareKeyRef, share: Buffer, now: Date = new Date()): Promise<SealedShare> {
  const canonical = canonicalKeyUri(target.key);
  const created = now.toISOString();
  if (target.algorithm === "rsa-oaep-sha256") {
    const { ciphertext, signature } = await sealOaep(km, target.key, canonical, share);
    return { algorithm: target.algorithm, keyUri: canonical, ciphertext, signature, created };
  }
  const ct = await km.encrypt(target.key, share, shareAad(canonical));
  return { algorithm: "aes-256-gcm", keyUri: canonical, iv: ct.iv, ciphertext: ct.ciphertext, tag: ct.tag, created };
}

/**
 * Decrypts a sealed share inside the HSM. `configured` is the share block: a file sealed under another key
 * or with another scheme than the block names is refused before the HSM is asked (a TPM-era RSA file
 * cannot stand in for an HSM's AES-GCM one, nor the reverse). The caller zeroes the result.
 */
export async function openSealedShare(km: ShareKeys, sealed: SealedShare, configured: ShareKeyRef): Promise<Buffer> {
  if (sealed.algorithm !== configured.algorithm) {
    throw new SealedShareError(`the sealed share is ${sealed.algorithm} but the share block says ${configured.algorithm}: refused (set algorithm in the share block)`);
  }
  const canonical = canonicalKeyUri(configured.key);
  if (canonical !== sealed.keyUri) throw new SealedShareError(`the sealed share was sealed under ${sealed.keyUri}, not ${canonical}`);
  if (sealed.algorithm === "rsa-oaep-sha256") return openOaep(km, configured.key, canonical, sealed);
  return km.decrypt(configured.key, { iv: sealed.iv, ciphertext: sealed.ciphertext, tag: sealed.tag }, shareAad(canonical));
}

export function encodeSealedShare(s: SealedShare): string {
  const head = { format: SEALED_SHARE_FORMAT, version: VERSION_OF[s.algorithm], key_uri: s.keyUri, algorithm: s.algorithm };
  const body =
    s.algorithm === "rsa-oaep-sha256"
      ? { ciphertext: s.ciphertext.toString("base64"), signature: s.signature.toString("base64") }
      : { iv: s.iv.toString("base64"), ciphertext: s.ciphertext.toString("base64"), tag: s.tag.toString("base64") };
  return JSON.stringify({ ...head, ...body, created: s.created }, null, 2) + "\n";
}

export function decodeSealedShare(text: string, source = "sealed share"): SealedShare {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new SealedShareError(`${source}: not a sealed share file (invalid JSON)`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new SealedShareError(`${source}: not a sealed share file`);
  const o = raw as Record<string, unknown>;
  if (o.format !== SEALED_SHARE_FORMAT) throw new SealedShareError(`${source}: not a sealed share file (format)`);
  if (!Object.values(VERSION_OF).includes(o.version as number)) throw new SealedShareError(`${source}: unsupported sealed share version ${String(o.version)}`);
  const algorithm = (Object.keys(VERSION_OF) as ShareAlgorithm[]).find((a) => VERSION_OF[a] === o.version && a === o.algorithm);
  if (!algorithm) throw new SealedShareError(`${source}: unsupported algorithm for version ${String(o.version)}`);
  const str = (k: string): string => {
    const v = o[k];
    if (typeof v !== "string" || v === "") throw new SealedShareError(`${source}: missing or invalid "${k}"`);
    return v;
  };
  const b64 = (k: string, len?: number): Buffer => {
    const v = str(k);
    const b = Buffer.from(v, "base64");
    if (b.toString("base64") !== v || (len !== undefined && b.length !== len)) throw new SealedShareError(`${source}: invalid "${k}"`);
    return b;
  };
  const keyUri = str("key_uri");
  let canonical: string;
  try {
    canonical = canonicalKeyUri(keyUri);
  } catch {
    throw new SealedShareError(`${source}: invalid "key_uri"`);
  }
  if (canonical !== keyUri) throw new SealedShareError(`${source}: "key_uri" is not in canonical form`);
  if (algorithm === "rsa-oaep-sha256") return { algorithm, keyUri, ciphertext: b64("ciphertext"), signature: b64("signature"), created: str("created") };
  return { algorithm, keyUri, iv: b64("iv", 12), ciphertext: b64("ciphertext"), tag: b64("tag", 16), created: str("created") };
}

/**
 * Writes the file with mode 0600 through a temporary file and a rename, so a crash never leaves a
 * half-written share; refuses to replace an existing file unless `force` (it may be the only copy).
 */
export async function writeSealedShareFile(path: string, s: SealedShare, opts: { force?: boolean } = {}): Promise<void> {
  if (!opts.force) {
    try {
      await stat(path);
      throw new SealedShareError(`${path} exists already (use -force to replace it)`);
    } catch (err) {
      if (err instanceof SealedShareError) throw err;
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, "wx", 0o600);
  try {
    await fh.writeFile(encodeSealedShare(s));
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  await rename(tmp, path);
}

export async function readSealedShareFile(path: string): Promise<SealedShare> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new SealedShareError(`${path}: cannot read the sealed share (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
  return decodeSealedShare(text, path);
}
