/**
 * Transit compatibility with hvac (Debian's python3-hvac 0.11.2): hvac_transit.py drives a dev server through
 * client.secrets.transit and prints what it saw; the assertions live here. Runner and skip rules:
 * hvac-runner.ts.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devServer } from "../servers.js";
import { hvac, hvacAvailable } from "./hvac-runner.js";
import type { RunningServer } from "../../src/server/server.js";

const available = hvacAvailable("the hvac transit compatibility suite");

describe.skipIf(!available)("hvac transit against a dev server", () => {
  let s: RunningServer;
  beforeAll(async () => {
    s = await devServer();
  });
  afterAll(async () => s.stop());

  it("runs every client.secrets.transit call unchanged", async () => {
    const r = await hvac("hvac_transit.py", { ARCA_URL: s.url, ARCA_TOKEN: s.rootToken! });
    const sha512 = createHash("sha512").update("abc").digest("base64");
    expect(r).toEqual({
      // Keys, rotate, config and trim answer with the key's data (OpenBao ≥ 1.12 behaviour); hvac passes JSON through.
      create_aes: "json",
      read_key: { name: "aes", type: "aes256-gcm96", versions: ["1"], latest_version: 1, min_decryption_version: 1, supports_encryption: true, deletion_allowed: false },
      read_ed_public_key_len: 32,
      list_keys: ["aes", "derived", "ec", "ed", "portable", "rsa"],
      read_missing: { exception: "InvalidPath", errors: [] },
      ciphertext_prefix: "vault:v1:",
      decrypted: "hello",
      convergent_equal: true,
      derived_decrypted: "same",
      batch_decrypted: ["a", "b"],
      decrypt_bad: { exception: "InvalidRequest", errors: [expect.any(String)] },
      rotate: "json",
      rewrapped_prefix: "vault:v2:",
      rewrapped_decrypted: "hello",
      update_config: "json",
      min_decryption_version: 2,
      decrypt_old: { exception: "InvalidRequest", errors: ["ciphertext or signature version is disallowed by policy (too old)"] },
      datakey_plaintext_len: 32,
      datakey_roundtrip: true,
      datakey_wrapped_has_plaintext: false,
      verify: { ed: ["vault:v1:", true, false], ec: ["vault:v1:", true, false], rsa: ["vault:v1:", true, false] },
      verify_rsa_pkcs1v15_sha512: true,
      verify_ec_jws: true,
      // [verify the digest, verify the message, verify a tampered digest]
      prehashed: { "ec-default": [true, true, false], "rsa-default": [true, true, false], "rsa-pkcs1v15": [true, true, false] },
      hmac_prefix: "vault:v2:",
      hmac_valid: true,
      hmac512_len: 64,
      hmac512_valid: true,
      random_len: 24,
      random_hex_len: 16,
      hash_sha256: createHash("sha256").update("abc").digest("hex"),
      hash_sha512_b64: sha512,
      backup_refused: { exception: "InvalidRequest", errors: ["exporting is disallowed on the policy"] },
      restore: 204,
      restored_decrypts: "kept",
      restore_existing: { exception: "InvalidRequest", errors: ['key "restored" already exists'] },
      restore_force: 204,
      trim: "json",
      after_trim_versions: ["2", "3"],
      delete_refused: { exception: "InvalidRequest", errors: ["deletion is not allowed for this key"] },
      delete: 204,
      read_deleted: { exception: "InvalidPath", errors: [] },
    });
  });
});
