/**
 * `datakey/:plaintext/:name`: a fresh random data key, returned encrypted under the named key, and in the
 * clear too when `:plaintext` is "plaintext" ("wrapped" returns only the ciphertext).
 */
import { randomBytes } from "node:crypto";
import { invalidRequest } from "../../common/errors.js";
import { definePath } from "../../core/framework/path.js";
import { encryptVersion, requireCapability } from "./transit-crypto.js";
import { loadOrFail, type TransitEnv } from "./transit-env.js";
import { optionalBase64 } from "./transit-input.js";
import { encryptionVersion } from "./transit-key.js";

export function datakeyPath(env: TransitEnv) {
  return definePath({
    pattern: "datakey/:plaintext/:name",
    fields: {
      name: { type: "string", required: true },
      plaintext: { type: "string", required: true, description: '"plaintext" to also return the key in the clear, "wrapped" for the ciphertext only.' },
      context: { type: "string", description: "Base64 context for key derivation (derived keys)." },
      nonce: { type: "string", description: "Base64 nonce (not allowed for current key versions)." },
      bits: { type: "int", default: 256, description: "Number of bits of the data key: 128, 256 or 512." },
      key_version: { type: "int", description: "Key version to encrypt with (default: latest)." },
      associated_data: { type: "string", description: "Base64 associated data for AEAD key types." },
    },
    operations: {
      update: {
        summary: "Generate a data key.",
        handler: async ({ fields, storage }) => {
          if (fields.plaintext !== "plaintext" && fields.plaintext !== "wrapped") throw invalidRequest(`invalid path variable ${fields.plaintext.slice(0, 32)}`);
          if (fields.bits !== 128 && fields.bits !== 256 && fields.bits !== 512) throw invalidRequest("invalid bits length");
          const cp = await loadOrFail(env, storage, fields.name);
          requireCapability(cp.policy, "encryption", "data key generation");
          const ver = encryptionVersion(cp.policy, fields.key_version);
          const key = randomBytes(fields.bits / 8);
          try {
            const ciphertext = await encryptVersion(
              cp,
              ver,
              key,
              { context: optionalBase64("context", fields.context), nonce: optionalBase64("nonce", fields.nonce), aad: optionalBase64("associated_data", fields.associated_data) },
              env.deps,
            );
            const data: Record<string, unknown> = { ciphertext, key_version: ver };
            if (fields.plaintext === "plaintext") data.plaintext = key.toString("base64");
            return { data };
          } finally {
            key.fill(0);
          }
        },
      },
    },
    synopsis: "Generate a data key",
  });
}
