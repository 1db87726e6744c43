/**
 * CA keys as Signers. A software key (PKCS#8 in the mount's barrier-encrypted storage) and an HSM key (a
 * PKCS#11 URI resolved by the KeyManager) look the same to the CA code: a `Signer` plus the signature
 * algorithm chosen for it. The X.509 AlgorithmIdentifier and the Signer options are derived together here
 * so the two can never disagree.
 */
import { createPrivateKey, generateKeyPair, sign as signSync, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import { invalidRequest } from "../../common/errors.js";
import type { HashAlgorithm, KeyAlgorithm, SignOptions, Signer } from "../../hsm/key-manager.js";
import { explicit, int, nullValue, oid, seq } from "./der.js";

const generateKeyPairAsync = promisify(generateKeyPair);

export type PkiKeyType = "rsa" | "ec" | "ed25519";

export const OID = {
  rsaEncryption: "1.2.840.113549.1.1.1",
  rsassaPss: "1.2.840.113549.1.1.10",
  mgf1: "1.2.840.113549.1.1.8",
  sha256WithRSA: "1.2.840.113549.1.1.11",
  sha384WithRSA: "1.2.840.113549.1.1.12",
  sha512WithRSA: "1.2.840.113549.1.1.13",
  ecPublicKey: "1.2.840.10045.2.1",
  ecdsaSha256: "1.2.840.10045.4.3.2",
  ecdsaSha384: "1.2.840.10045.4.3.3",
  ecdsaSha512: "1.2.840.10045.4.3.4",
  ed25519: "1.3.101.112",
  sha1: "1.3.14.3.2.26",
  sha256: "2.16.840.1.101.3.4.2.1",
  sha384: "2.16.840.1.101.3.4.2.2",
  sha512: "2.16.840.1.101.3.4.2.3",
} as const;

const HASH_OID: Record<HashAlgorithm, string> = { sha256: OID.sha256, sha384: OID.sha384, sha512: OID.sha512 };
const HASH_BYTES: Record<HashAlgorithm, number> = { sha256: 32, sha384: 48, sha512: 64 };

/** The PKI engine's (key_type, key_bits) → the key manager's algorithm name; refuses what we cannot make. */
export function keyAlgorithmFor(keyType: string, keyBits: number): KeyAlgorithm {
  if (keyType === "rsa") {
    const bits = keyBits === 0 ? 2048 : keyBits;
    if (bits === 2048 || bits === 3072 || bits === 4096) return `rsa-${bits}`;
    throw invalidRequest(`unsupported key_bits ${keyBits} for key_type rsa (allowed: 2048, 3072, 4096)`);
  }
  if (keyType === "ec") {
    const bits = keyBits === 0 ? 256 : keyBits;
    if (bits === 256) return "ec-p256";
    if (bits === 384) return "ec-p384";
    throw invalidRequest(`unsupported key_bits ${keyBits} for key_type ec (allowed: 256, 384)`);
  }
  if (keyType === "ed25519") return "ed25519";
  throw invalidRequest(`unsupported key_type "${keyType}" (allowed: rsa, ec, ed25519)`);
}

export function keyTypeOf(alg: KeyAlgorithm): PkiKeyType {
  if (alg.startsWith("rsa-")) return "rsa";
  if (alg.startsWith("ec-")) return "ec";
  return "ed25519";
}

export function keyBitsOf(alg: KeyAlgorithm): number {
  switch (alg) {
    case "rsa-2048":
      return 2048;
    case "rsa-3072":
      return 3072;
    case "rsa-4096":
      return 4096;
    case "ec-p256":
      return 256;
    case "ec-p384":
      return 384;
    default:
      return 0;
  }
}

/** The algorithm of a public (or private) key object, or undefined when the PKI engine does not sign with it. */
export function algorithmOfKey(key: KeyObject): KeyAlgorithm | undefined {
  const d = key.asymmetricKeyDetails;
  switch (key.asymmetricKeyType) {
    case "rsa": {
      const bits = d?.modulusLength;
      return bits === 2048 || bits === 3072 || bits === 4096 ? `rsa-${bits}` : undefined;
    }
    case "ec":
      return d?.namedCurve === "prime256v1" ? "ec-p256" : d?.namedCurve === "secp384r1" ? "ec-p384" : undefined;
    case "ed25519":
      return "ed25519";
    default:
      return undefined;
  }
}

export async function generateSoftwareKey(alg: KeyAlgorithm): Promise<KeyObject> {
  switch (alg) {
    case "rsa-2048":
    case "rsa-3072":
    case "rsa-4096":
      return (await generateKeyPairAsync("rsa", { modulusLength: keyBitsOf(alg), publicExponent: 0x10001 })).privateKey;
    case "ec-p256":
    case "ec-p384":
      return (await generateKeyPairAsync("ec", { namedCurve: alg === "ec-p256" ? "P-256" : "P-384" })).privateKey;
    case "ed25519":
      return (await generateKeyPairAsync("ed25519")).privateKey;
    default:
      throw invalidRequest(`unsupported key algorithm ${alg}`);
  }
}

/**
 * A Signer over a node:crypto private key. It signs synchronously inside the promise: ECDSA P-256 takes
 * ~35 µs, less than a threadpool hop, and issuance throughput depends on it.
 */
export function softwareSigner(privateKey: KeyObject, publicKey: KeyObject): Signer {
  const algorithm = algorithmOfKey(privateKey);
  if (!algorithm) throw invalidRequest("unsupported private key type (allowed: RSA 2048/3072/4096, EC P-256/P-384, Ed25519)");
  return {
    algorithm,
    publicKey,
    sign: async (data: Buffer, opts: SignOptions = {}) => {
      if (algorithm === "ed25519") return signSync(null, data, privateKey);
      const hash = opts.hash ?? "sha256";
      if (algorithm.startsWith("rsa-")) {
        const pss = opts.padding === "pss";
        return signSync(hash, data, {
          key: privateKey,
          padding: pss ? 6 /* RSA_PKCS1_PSS_PADDING */ : 1 /* RSA_PKCS1_PADDING */,
          ...(pss ? { saltLength: opts.saltLength ?? HASH_BYTES[hash] } : {}),
        });
      }
      return signSync(hash, data, { key: privateKey, dsaEncoding: opts.dsaEncoding ?? "der" });
    },
  };
}

export function loadSoftwareKey(pkcs8Pem: string): KeyObject {
  return createPrivateKey({ key: pkcs8Pem, format: "pem" });
}

/** How one issuer signs: the DER AlgorithmIdentifier written into TBS structures and the matching Signer options. */
export interface SignatureAlgorithm {
  algId: Buffer;
  opts: SignOptions;
  /** Human-readable, for responses ("SHA256WithRSA", "ECDSAWithSHA256", "SHA256WithRSAPSS", "PureEd25519"). */
  name: string;
}

export function signatureAlgorithm(alg: KeyAlgorithm, signatureBits: number, usePss: boolean): SignatureAlgorithm {
  if (alg === "ed25519") return { algId: seq(oid(OID.ed25519)), opts: {}, name: "PureEd25519" };
  let bits = signatureBits;
  if (bits === 0) bits = alg === "ec-p384" ? 384 : 256;
  if (bits !== 256 && bits !== 384 && bits !== 512) throw invalidRequest(`unsupported signature_bits ${signatureBits} (allowed: 256, 384, 512)`);
  const hash: HashAlgorithm = `sha${bits}`;
  if (alg === "ec-p256" || alg === "ec-p384") {
    const o = bits === 256 ? OID.ecdsaSha256 : bits === 384 ? OID.ecdsaSha384 : OID.ecdsaSha512;
    return { algId: seq(oid(o)), opts: { hash, dsaEncoding: "der" }, name: `ECDSAWithSHA${bits}` };
  }
  if (usePss) {
    // RSASSA-PSS-params (RFC 4055): hash, MGF1 with the same hash, salt = digest length; trailerField default.
    const hashAlg = seq(oid(HASH_OID[hash]), nullValue());
    const params = seq(explicit(0, hashAlg), explicit(1, seq(oid(OID.mgf1), hashAlg)), explicit(2, int(HASH_BYTES[hash])));
    return { algId: seq(oid(OID.rsassaPss), params), opts: { hash, padding: "pss", saltLength: HASH_BYTES[hash] }, name: `SHA${bits}WithRSAPSS` };
  }
  const o = bits === 256 ? OID.sha256WithRSA : bits === 384 ? OID.sha384WithRSA : OID.sha512WithRSA;
  return { algId: seq(oid(o), nullValue()), opts: { hash, padding: "pkcs1" }, name: `SHA${bits}WithRSA` };
}
