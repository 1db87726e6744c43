/**
 * `export/:type/:name[/:version]`: key material for exportable keys (never for HSM keys), and public keys for
 * any asymmetric key. Formats as OpenBao: raw symmetric keys in base64; ECDSA private keys as SEC1 PEM; RSA
 * private keys as PKCS#1 PEM; Ed25519 private keys as base64(seed ‖ public); public keys as SPKI PEM (Ed25519:
 * base64 of the raw 32 bytes).
 */
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { ArcaError, invalidRequest, notFound } from "../../common/errors.js";
import { definePath } from "../../core/framework/path.js";
import type { TransitDeps } from "./transit-crypto.js";
import { loadOrFail, type TransitEnv } from "./transit-env.js";
import { openVersionKey } from "./open-version-key.js";
import { renderPublicKey } from "./path-keys.js";
import { capabilities, isEcdsa, isRsa, isSymmetricCipher, type KeyPolicy, type KeyVersion } from "./transit-key.js";

const EXPORT_TYPES = ["encryption-key", "signing-key", "hmac-key", "public-key"] as const;
type ExportType = (typeof EXPORT_TYPES)[number];

function privateKeyOf(v: KeyVersion): KeyObject {
  if (!v.privateKey) throw new ArcaError("internal", "key version has no private key");
  return createPrivateKey({ key: Buffer.from(v.privateKey, "base64"), format: "der", type: "pkcs8" });
}

function exportPrivate(p: KeyPolicy, v: KeyVersion): string {
  const key = privateKeyOf(v);
  if (isRsa(p.type)) return key.export({ type: "pkcs1", format: "pem" }).toString();
  if (isEcdsa(p.type)) return key.export({ type: "sec1", format: "pem" }).toString();
  // Ed25519: Go's ed25519.PrivateKey is seed ‖ public key.
  const seed = key.export({ type: "pkcs8", format: "der" }).subarray(-32);
  const pub = createPublicKey(key).export({ type: "spki", format: "der" }).subarray(-32);
  return Buffer.concat([seed, pub]).toString("base64");
}

async function exportOne(p: KeyPolicy, v: KeyVersion, type: ExportType, deps: TransitDeps): Promise<string> {
  switch (type) {
    case "encryption-key":
      if (isSymmetricCipher(p.type)) return v.key!;
      return exportPrivate(p, v);
    case "signing-key":
      return exportPrivate(p, v);
    case "hmac-key": {
      const k = p.type === "hmac" ? v.key : v.hmacKey;
      if (!k) throw invalidRequest("no HMAC key for this key version");
      return k;
    }
    case "public-key": {
      return renderPublicKey(p.type, await openVersionKey(p, v, deps.keyManager).publicKey());
    }
  }
}

function checkExport(p: KeyPolicy, type: ExportType): void {
  const caps = capabilities(p.type, p.hsm);
  if (type === "public-key") {
    if (!caps.signing) throw invalidRequest(`public key export is not supported for key type ${p.type}`);
    if (p.derived) throw invalidRequest("public keys of derived keys depend on the context and cannot be exported");
    return;
  }
  if (p.hsm) throw invalidRequest("HSM-backed keys are never exportable");
  if (!p.exportable) throw invalidRequest("private key material is not exportable");
  if (type === "encryption-key" && !caps.encryption) throw invalidRequest(`encryption key export is not supported for key type ${p.type}`);
  if (type === "signing-key" && !caps.signing) throw invalidRequest(`signing key export is not supported for key type ${p.type}`);
}

function exportPath(env: TransitEnv, pattern: string) {
  return definePath({
    pattern,
    fields: {
      type: { type: "string", required: true, description: `Type of key to export: ${EXPORT_TYPES.join(", ")}` },
      name: { type: "string", required: true },
      version: { type: "string", description: 'Version of the key ("latest" or a number); all versions when absent.' },
    },
    operations: {
      read: {
        summary: "Export named key material.",
        handler: async ({ fields, storage }) => {
          const type = fields.type;
          if (!(EXPORT_TYPES as readonly string[]).includes(type)) throw invalidRequest("invalid export type");
          const cp = await loadOrFail(env, storage, fields.name);
          const p = cp.policy;
          checkExport(p, type as ExportType);
          const keys: Record<string, string> = {};
          // Versions below min_decryption_version are retired: OpenBao archives them out of the policy, so
          // they are neither listed nor exportable one by one (its 400 and message).
          if (fields.version === undefined || fields.version === "") {
            for (const [ver, v] of Object.entries(p.keys)) {
              if (Number(ver) >= p.minDecryptionVersion) keys[ver] = await exportOne(p, v, type as ExportType, env.deps);
            }
          } else {
            const ver = fields.version === "latest" ? p.latestVersion : /^\d+$/.test(fields.version) ? Number(fields.version) : NaN;
            if (ver < p.minDecryptionVersion) throw invalidRequest("version for export is below minimum decryption version");
            const v = p.keys[String(ver)];
            if (!v) throw notFound("version not found");
            keys[String(ver)] = await exportOne(p, v, type as ExportType, env.deps);
          }
          return { data: { name: p.name, type: p.type, keys } };
        },
      },
    },
    synopsis: "Export named encryption or signing key",
  });
}

export function exportPaths(env: TransitEnv) {
  return [exportPath(env, "export/:type/:name"), exportPath(env, "export/:type/:name/:version")];
}
