/**
 * The JWS rules of RFC 8555 §6.2–6.5, checked in this order so that a refused request changes nothing but
 * (once the signature is good) the nonce it used up:
 *   1. Content-Type application/jose+json (else 415 malformed);
 *   2. flattened JSON serialization with a protected header only (no `signatures`, no unprotected `header`);
 *   3. `alg` one of RS256, ES256, ES384, EdDSA (badSignatureAlgorithm);
 *   4. exactly one of `jwk` (new-account, revoke-cert by the certificate's key) and `kid` (an account URL);
 *   5. `url` equal to the URL the request was sent to (unauthorized);
 *   6. the signature, verified by `jose` with the key named in 4 (malformed);
 *   7. the nonce, used up atomically (badNonce: the client retries with the fresh Replay-Nonce).
 * Verification is the `jose` library's, never hand-written.
 */
import { calculateJwkThumbprint, decodeProtectedHeader, flattenedVerify, importJWK, type CryptoKey, type FlattenedJWSInput, type JWK, type ProtectedHeaderParameters } from "jose";
import type { RawBody } from "../../../core/framework/request.js";
import type { KeyValueStore } from "../../../storage/storage.js";
import { AK, getAcme, isAcmeId, type AccountRecord } from "./acme-store.js";
import { consumeNonce, type NonceKeys } from "./nonces.js";
import { problem } from "./problem.js";

export const ACCOUNT_ALGORITHMS = ["RS256", "ES256", "ES384", "EdDSA"] as const;

/** A JWS body capped well above anything an ACME client sends (a CSR of an 8192-bit key is ~2.5 KiB). */
const MAX_JWS_BYTES = 64 * 1024;

export interface VerifiedJws {
  /** The payload bytes; empty for POST-as-GET. */
  payload: Uint8Array;
  header: ProtectedHeaderParameters;
  /** The key that signed: the header's `jwk`, or the account's. */
  jwk: JWK;
  /** Set when the JWS named an account by `kid`. */
  account?: AccountRecord;
}

export interface JwsExpectations {
  /** The URL the request was sent to, as the directory names it. */
  url: string;
  /** Which key form the resource takes (RFC 8555 §6.2): "jwk" new-account, "kid" everything else, "either" revoke-cert. */
  key: "jwk" | "kid" | "either";
  /** Account URLs are `<accountUrlPrefix><id>`. */
  accountUrlPrefix: string;
  nonceKeys: NonceKeys;
}

/** Parses the flattened JWS without trusting any of it (steps 1–2). */
export function parseFlattenedJws(body: RawBody | undefined): FlattenedJWSInput & { protected: string; payload: string } {
  if (body?.mediaType !== "application/jose+json") throw problem("malformed", "ACME requests must be POSTed with Content-Type: application/jose+json", 415);
  if (body.bytes.length > MAX_JWS_BYTES) throw problem("malformed", "request body too large");
  let jws: unknown;
  try {
    jws = JSON.parse(body.bytes.toString("utf8"));
  } catch {
    throw problem("malformed", "request body is not JSON");
  }
  if (typeof jws !== "object" || jws === null || Array.isArray(jws)) throw problem("malformed", "request body is not a JWS object");
  const o = jws as Record<string, unknown>;
  if ("signatures" in o) throw problem("malformed", "JWS must use the flattened JSON serialization (no signatures array)");
  if ("header" in o) throw problem("malformed", "JWS must not carry an unprotected header");
  if (typeof o.protected !== "string" || typeof o.payload !== "string" || typeof o.signature !== "string") {
    throw problem("malformed", "JWS must have string protected, payload and signature members");
  }
  return { protected: o.protected, payload: o.payload, signature: o.signature };
}

export async function verifyJws(storage: KeyValueStore, body: RawBody | undefined, want: JwsExpectations): Promise<VerifiedJws> {
  const jws = parseFlattenedJws(body);
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    throw problem("malformed", "JWS protected header is not valid base64url JSON");
  }
  const alg = header.alg;
  if (typeof alg !== "string" || !(ACCOUNT_ALGORITHMS as readonly string[]).includes(alg)) {
    throw problem("badSignatureAlgorithm", `JWS alg must be one of ${ACCOUNT_ALGORITHMS.join(", ")}`);
  }
  const hasJwk = header.jwk !== undefined;
  const hasKid = header.kid !== undefined;
  if (hasJwk === hasKid) throw problem("malformed", "JWS protected header must have exactly one of jwk and kid");
  if (want.key === "jwk" && !hasJwk) throw problem("malformed", "this resource requires a jwk in the JWS protected header");
  if (want.key === "kid" && !hasKid) throw problem("malformed", "this resource requires a kid (account URL) in the JWS protected header");
  if (typeof header.url !== "string" || header.url !== want.url) throw problem("unauthorized", "JWS url does not match the request URL");
  if (typeof header.nonce !== "string" || header.nonce === "") throw problem("badNonce", "JWS protected header has no nonce");

  let jwk: JWK;
  let account: AccountRecord | undefined;
  if (hasJwk) {
    jwk = publicJwk(header.jwk);
  } else {
    account = await accountByKid(storage, header.kid, want.accountUrlPrefix);
    jwk = account.jwk;
  }
  let payload: Uint8Array;
  try {
    const key = account ? await accountKey(account, alg) : jwk;
    ({ payload } = await flattenedVerify(jws, key, { algorithms: [...ACCOUNT_ALGORITHMS] }));
  } catch {
    throw problem("malformed", "JWS signature verification failed");
  }
  if (!(await consumeNonce(storage, want.nonceKeys, header.nonce))) throw problem("badNonce", "JWS has an invalid anti-replay nonce");
  return { payload, header, jwk, ...(account ? { account } : {}) };
}

/**
 * Imported account keys, by thumbprint and algorithm: importing a JWK costs about as much as verifying with
 * it, and an account signs every request with the same key. The thumbprint is a hash of the public key, so an
 * entry can only ever serve that key. Bounded: emptied when full.
 */
const importedKeys = new Map<string, Promise<CryptoKey>>();
const MAX_IMPORTED_KEYS = 10_000;

function accountKey(account: AccountRecord, alg: string): Promise<CryptoKey> {
  const id = `${account.thumbprint}:${alg}`;
  let key = importedKeys.get(id);
  if (!key) {
    if (importedKeys.size >= MAX_IMPORTED_KEYS) importedKeys.clear();
    key = importJWK(account.jwk, alg) as Promise<CryptoKey>;
    importedKeys.set(id, key);
    key.catch(() => importedKeys.delete(id));
  }
  return key;
}

/** The header's jwk as a public key, refused when it carries private parts or is not an object. */
export function publicJwk(v: unknown): JWK {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw problem("malformed", "JWS jwk must be a JSON object");
  const jwk = v as JWK;
  if (jwk.d !== undefined || jwk.k !== undefined) throw problem("badPublicKey", "JWS jwk must be a public key");
  if (jwk.kty !== "RSA" && jwk.kty !== "EC" && jwk.kty !== "OKP") throw problem("badPublicKey", "JWS jwk must be an RSA, EC or OKP key");
  return jwk;
}

/** The valid account a `kid` names (accountDoesNotExist for any other kid). */
export async function accountByKid(storage: KeyValueStore, kid: unknown, prefix: string): Promise<AccountRecord> {
  const id = typeof kid === "string" && kid.startsWith(prefix) ? kid.slice(prefix.length) : "";
  const account = isAcmeId(id) ? await getAcme<AccountRecord>(storage, AK.account(id)) : undefined;
  if (!account) throw problem("accountDoesNotExist", "the account named by kid does not exist");
  if (account.status !== "valid") throw problem("unauthorized", `account is ${account.status}`);
  return account;
}

export const thumbprint = (jwk: JWK): Promise<string> => calculateJwkThumbprint(jwk, "sha256");

/** The payload as a JSON object; `{}`-only resources refuse anything else. POST-as-GET (empty) is undefined. */
export function jsonPayload(v: VerifiedJws): Record<string, unknown> | undefined {
  if (v.payload.length === 0) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(v.payload).toString("utf8"));
  } catch {
    throw problem("malformed", "JWS payload is not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw problem("malformed", "JWS payload must be a JSON object");
  return parsed as Record<string, unknown>;
}
