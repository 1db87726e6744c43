/**
 * Convergent (deterministic) nonces for transit's AEAD keys: equal inputs give equal ciphertexts, so clients
 * can compare or index ciphertexts. The nonce must commit to every input of the AEAD call (context, which
 * selects the derived key; associated data; plaintext): two calls that share key and nonce but differ in any
 * input reuse a GCM/Poly1305 nonce, which gives away the keystream XOR and the authentication key (so
 * forgeries). An on-disk format (ciphertexts live in clients' databases): see backend.ts and
 * docs/storage-layout.md.
 *
 * Scheme 2 (versions made since; marked `convergentNonce: 2` on the version):
 *   HMAC-SHA256(K, u64be(len ctx) ‖ ctx ‖ u64be(len aad) ‖ aad ‖ u64be(len pt) ‖ pt)[:12],
 *   K = HKDF-SHA256(ikm = the version's hmacKey, salt = none, info = NONCE_KEY_INFO, 32 bytes).
 * K is derived for this purpose only, so hmac/:name (which MACs caller-chosen input under hmacKey itself)
 * cannot be used to compute nonces and so test guesses of a plaintext without the encrypt capability.
 *
 * Scheme 1 (versions made before scheme 2; no marker): HMAC-SHA256(hmacKey, u32be(len ctx) ‖ ctx ‖ pt)[:12],
 * which leaves AAD out. Those versions keep it for an empty AAD only, so ciphertexts already stored by clients
 * still compare equal to new ones; with a non-empty AAD they use scheme 2 (those ciphertexts were the unsafe
 * ones, and they still decrypt: decryption reads the nonce from the ciphertext). Keyed differently, the two
 * schemes collide only by chance (2^-96 per pair), as random nonces do. Rotating the key moves to scheme 2.
 */
import { createHmac, hkdfSync } from "node:crypto";
import { ArcaError } from "../../common/errors.js";
import type { KeyVersion } from "./transit-key.js";

/** The scheme new versions are made with (stored as KeyVersion.convergentNonce). */
export const CONVERGENT_NONCE_SCHEME = 2;

const NONCE_BYTES = 12;
const NONCE_KEY_INFO = Buffer.from("arca transit convergent nonce v2", "utf8");
const EMPTY = Buffer.alloc(0);

export interface ConvergentInputs {
  context: Buffer;
  /** Associated data; absent and empty are the same AEAD input and give the same nonce. */
  aad?: Buffer;
  plaintext: Buffer;
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

function hmacKeyOf(v: Pick<KeyVersion, "hmacKey">): Buffer {
  if (!v.hmacKey) throw new ArcaError("internal", "key version has no HMAC key");
  return Buffer.from(v.hmacKey, "base64");
}

function schemeTwo(hmacKey: Buffer, { context, aad = EMPTY, plaintext }: ConvergentInputs): Buffer {
  const key = Buffer.from(hkdfSync("sha256", hmacKey, EMPTY, NONCE_KEY_INFO, 32));
  const mac = createHmac("sha256", key);
  for (const part of [context, aad, plaintext]) mac.update(u64(part.length)).update(part);
  return mac.digest().subarray(0, NONCE_BYTES);
}

function schemeOne(hmacKey: Buffer, { context, plaintext }: ConvergentInputs): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(context.length);
  return createHmac("sha256", hmacKey).update(len).update(context).update(plaintext).digest().subarray(0, NONCE_BYTES);
}

/** The nonce of a convergent encryption with version `v` (see the header for the schemes). */
export function convergentNonce(v: Pick<KeyVersion, "hmacKey" | "convergentNonce">, inputs: ConvergentInputs): Buffer {
  if (v.convergentNonce !== undefined && v.convergentNonce !== CONVERGENT_NONCE_SCHEME) {
    // A record from a newer Arca: guessing would silently change its ciphertexts.
    throw new ArcaError("internal", `key version uses convergent nonce scheme ${String(v.convergentNonce)}, which this server does not know`);
  }
  const hmacKey = hmacKeyOf(v);
  const legacy = v.convergentNonce === undefined && (inputs.aad === undefined || inputs.aad.length === 0);
  return legacy ? schemeOne(hmacKey, inputs) : schemeTwo(hmacKey, inputs);
}
