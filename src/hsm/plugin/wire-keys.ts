// KeyManager values on the wire (both directions): created keys, sign options and AEAD ciphertexts.
// Readers validate untrusted JSON field by field and throw WireShapeError.
import { createPublicKey, type KeyObject } from "node:crypto";
import { spkiDer } from "../key-encoding.js";
import { KEY_ALGORITHMS, type AeadCiphertext, type CreateKeyResponse, type SignOptions } from "../key-manager.js";
import { b64, optBool, optEnum, optInt, optString, wireBytes, wireEnum, wireString, WireShapeError, type WireObject } from "./protocol.js";

export const HASHES = ["sha256", "sha384", "sha512"] as const;
export const OAEP_HASHES = ["sha1", "sha256", "sha384", "sha512"] as const;
export const WRAP_MECHANISMS = ["aes-kw", "aes-kwp"] as const;

export function publicKeyToWire(k: KeyObject): string {
  return b64(spkiDer(k));
}

export function publicKeyFromWire(o: WireObject, key: string): KeyObject {
  const der = wireBytes(o, key);
  try {
    return createPublicKey({ key: der, format: "der", type: "spki" });
  } catch {
    throw new WireShapeError(`${key} is not a DER SubjectPublicKeyInfo`);
  }
}

export function createdKeyToWire(r: CreateKeyResponse): WireObject {
  return {
    uri: r.uri,
    public_uri: r.publicUri,
    algorithm: r.algorithm,
    id: b64(r.id),
    public_key: r.publicKey ? publicKeyToWire(r.publicKey) : undefined,
  };
}

export function createdKeyFromWire(o: WireObject): CreateKeyResponse {
  const algorithm = wireEnum(o, "algorithm", KEY_ALGORITHMS);
  const out: CreateKeyResponse = { uri: wireString(o, "uri"), algorithm, id: wireBytes(o, "id") };
  const publicUri = optString(o, "public_uri");
  if (publicUri !== undefined) out.publicUri = publicUri;
  if (o.public_key !== undefined && o.public_key !== null) out.publicKey = publicKeyFromWire(o, "public_key");
  if (algorithm !== "aes-256" && !out.publicKey) throw new WireShapeError("public_key is required for key pairs");
  return out;
}

export function signOptionsToWire(opts: SignOptions): WireObject {
  return { hash: opts.hash, prehashed: opts.prehashed, padding: opts.padding, salt_length: opts.saltLength, dsa_encoding: opts.dsaEncoding };
}

export function signOptionsFromWire(o: WireObject): SignOptions {
  const out: SignOptions = {};
  const hash = optEnum(o, "hash", HASHES);
  if (hash) out.hash = hash;
  const prehashed = optBool(o, "prehashed");
  if (prehashed !== undefined) out.prehashed = prehashed;
  const padding = optEnum(o, "padding", ["pkcs1", "pss"] as const);
  if (padding) out.padding = padding;
  const saltLength = optInt(o, "salt_length");
  if (saltLength !== undefined) out.saltLength = saltLength;
  const dsaEncoding = optEnum(o, "dsa_encoding", ["der", "ieee-p1363"] as const);
  if (dsaEncoding) out.dsaEncoding = dsaEncoding;
  return out;
}

export function aeadToWire(ct: AeadCiphertext): WireObject {
  return { iv: b64(ct.iv), ciphertext: b64(ct.ciphertext), tag: b64(ct.tag) };
}

export function aeadFromWire(o: WireObject): AeadCiphertext {
  return { iv: wireBytes(o, "iv"), ciphertext: wireBytes(o, "ciphertext"), tag: wireBytes(o, "tag") };
}
