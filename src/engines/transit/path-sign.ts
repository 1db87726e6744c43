/**
 * `sign/:name[/:urlalgorithm]`, `verify/:name[/:urlalgorithm]`, `hmac/:name[/:urlalgorithm]`: signatures and
 * MACs, single or batch_input. Signatures are `vault:vN:` + base64 (asn1) or base64url (jws); with jws an
 * ECDSA signature is r‖s as JWS (RFC 7518 §3.4) wants it, so a JWS is `header.payload.` + that body.
 */
import { invalidRequest } from "../../common/errors.js";
import { definePath } from "../../core/framework/path.js";
import { hmacVersion, requireCapability, signVersion, verifyHmac, verifySignature, type SignParams } from "./transit-crypto.js";
import { loadOrFail, type TransitEnv } from "./transit-env.js";
import { batchResponse, decodeBase64, itemInt, itemString, optionalBase64, parseBatch, runBatch, type BatchItem } from "./transit-input.js";
import { encryptionVersion } from "./transit-key.js";

const SIGN_FIELDS = {
  name: { type: "string", required: true },
  urlalgorithm: { type: "string", description: "Hash algorithm (path form)." },
  input: { type: "string", description: "Base64 input." },
  key_version: { type: "int", description: "Key version to use (default: latest)." },
  hash_algorithm: { type: "string", default: "sha2-256", description: "sha1, sha2-224, sha2-256, sha2-384, sha2-512, sha3-224, sha3-256, sha3-384, sha3-512, none." },
  algorithm: { type: "string", deprecated: true, description: "Deprecated alias of hash_algorithm." },
  context: { type: "string", description: "Base64 context for derived (ed25519) keys." },
  prehashed: { type: "bool", default: false, description: "The input is already a digest of hash_algorithm." },
  signature_algorithm: { type: "string", default: "pss", allowed: ["pss", "pkcs1v15"], description: "RSA padding: pss or pkcs1v15." },
  marshaling_algorithm: { type: "string", default: "asn1", allowed: ["asn1", "jws"], description: "asn1 (DER ECDSA, base64) or jws (r‖s ECDSA, base64url)." },
  salt_length: { type: "string", default: "auto", description: 'RSA-PSS salt length: "auto", "hash" or a number of bytes.' },
  reference: { type: "string", description: "Echoed back in batch results." },
  batch_input: { type: "any", description: "A list of items, each with the single-request fields." },
  partial_failure_response_code: { type: "int", description: "HTTP status to use when some but not all batch items fail." },
} as const;

interface SignFieldValues {
  urlalgorithm?: string;
  hash_algorithm: string;
  algorithm?: string;
  prehashed: boolean;
  signature_algorithm: string;
  marshaling_algorithm: string;
  salt_length: string;
}

/** Request-wide signing parameters; a batch item may override context only (as OpenBao). */
function signParams(f: SignFieldValues, has: (n: string) => boolean): SignParams {
  const hash = f.urlalgorithm ?? (has("hash_algorithm") ? f.hash_algorithm : (f.algorithm ?? f.hash_algorithm));
  return {
    hashAlgorithm: hash,
    prehashed: f.prehashed,
    signatureAlgorithm: f.signature_algorithm as SignParams["signatureAlgorithm"],
    saltLength: f.salt_length,
    marshaling: f.marshaling_algorithm as SignParams["marshaling"],
  };
}

function inputOf(item: BatchItem): Buffer {
  if (item.input === undefined || item.input === null) throw invalidRequest("missing input");
  return decodeBase64("input", item.input);
}

function singleItem(data: Record<string, unknown>, names: string[]): BatchItem {
  const item: BatchItem = {};
  for (const n of names) if (data[n] !== undefined && data[n] !== null) item[n] = data[n];
  return item;
}

function signPathAt(env: TransitEnv, pattern: string) {
  return definePath({
    pattern,
    fields: SIGN_FIELDS,
    operations: {
      update: {
        summary: "Generate a signature for input data using the named key.",
        handler: async (ctx) => {
          const { req, fields, storage } = ctx;
          const batch = parseBatch(fields.batch_input);
          const cp = await loadOrFail(env, storage, fields.name, "signing key");
          requireCapability(cp.policy, "signing", "signing");
          const base = signParams(fields, (n) => ctx.has(n as keyof typeof SIGN_FIELDS));
          // A derived Ed25519 key answers with the public key the context selected: `public_key` for a single
          // request, `publickey` in batch results (OpenBao's two spellings).
          const one = async (item: BatchItem, publicKeyField: "public_key" | "publickey") => {
            const ver = encryptionVersion(cp.policy, itemInt(item, "key_version") ?? fields.key_version);
            const sp = { ...base, context: optionalBase64("context", item.context) };
            const r = await signVersion(cp, ver, inputOf(item), sp, env.deps);
            return { signature: r.signature, key_version: ver, ...(r.publicKey ? { [publicKeyField]: r.publicKey.toString("base64") } : {}) };
          };
          if (!batch) return { data: await one(singleItem(req.data, ["input", "context", "key_version"]), "public_key") };
          return batchResponse(await runBatch(batch, (item) => one(item, "publickey"), () => ({})), fields.partial_failure_response_code);
        },
      },
    },
    synopsis: "Generate a signature for input data using the named key",
  });
}

export function signPaths(env: TransitEnv) {
  return [signPathAt(env, "sign/:name"), signPathAt(env, "sign/:name/:urlalgorithm")];
}

function verifyPathAt(env: TransitEnv, pattern: string) {
  return definePath({
    pattern,
    fields: {
      ...SIGN_FIELDS,
      signature: { type: "string", description: "The signature (vault:vN:…)." },
      hmac: { type: "string", description: "The HMAC (vault:vN:…), instead of signature." },
    },
    operations: {
      update: {
        summary: "Verify a signature or HMAC for input data created using the named key.",
        handler: async (ctx) => {
          const { req, fields, storage } = ctx;
          const batch = parseBatch(fields.batch_input);
          const cp = await loadOrFail(env, storage, fields.name, "signature verification key");
          const base = signParams(fields, (n) => ctx.has(n as "hash_algorithm"));
          const one = async (item: BatchItem) => {
            const input = inputOf(item);
            const sig = itemString(item, "signature");
            const mac = itemString(item, "hmac");
            if (sig !== "" && mac !== "") throw invalidRequest("provide one of signature or hmac, not both");
            if (mac !== "") return { valid: verifyHmac(cp, mac, input, base.hashAlgorithm, env.deps) };
            if (sig === "") throw invalidRequest("missing signature or hmac to verify");
            return { valid: await verifySignature(cp, sig, input, { ...base, context: optionalBase64("context", item.context) }, env.deps) };
          };
          if (!batch) return { data: await one(singleItem(req.data, ["input", "context", "signature", "hmac"])) };
          return batchResponse(await runBatch(batch, one, () => ({})), fields.partial_failure_response_code);
        },
      },
    },
    synopsis: "Verify a signature or HMAC for input data created using the named key",
  });
}

export function verifyPaths(env: TransitEnv) {
  return [verifyPathAt(env, "verify/:name"), verifyPathAt(env, "verify/:name/:urlalgorithm")];
}

function hmacPathAt(env: TransitEnv, pattern: string) {
  return definePath({
    pattern,
    fields: {
      name: { type: "string", required: true },
      urlalgorithm: { type: "string", description: "Hash algorithm (path form)." },
      algorithm: { type: "string", default: "sha2-256", description: "Hash algorithm: sha2-224, sha2-256, sha2-384, sha2-512, sha3-*." },
      input: { type: "string", description: "Base64 input." },
      key_version: { type: "int", description: "Key version to use (default: latest)." },
      reference: { type: "string", description: "Echoed back in batch results." },
      batch_input: { type: "any", description: "A list of items with input (and reference)." },
      partial_failure_response_code: { type: "int", description: "HTTP status to use when some but not all batch items fail." },
    },
    operations: {
      update: {
        summary: "Generate an HMAC for input data using the named key.",
        handler: async ({ req, fields, storage }) => {
          const batch = parseBatch(fields.batch_input);
          const cp = await loadOrFail(env, storage, fields.name);
          const algorithm = fields.urlalgorithm ?? fields.algorithm;
          const one = async (item: BatchItem) => {
            const ver = encryptionVersion(cp.policy, itemInt(item, "key_version") ?? fields.key_version);
            return { hmac: hmacVersion(cp, ver, inputOf(item), algorithm, env.deps) };
          };
          if (!batch) return { data: await one(singleItem(req.data, ["input", "key_version"])) };
          return batchResponse(await runBatch(batch, one, () => ({})), fields.partial_failure_response_code);
        },
      },
    },
    synopsis: "Generate an HMAC for input data using the named key",
  });
}

export function hmacPaths(env: TransitEnv) {
  return [hmacPathAt(env, "hmac/:name"), hmacPathAt(env, "hmac/:name/:urlalgorithm")];
}
