/**
 * Transit through a real dev server over HTTP: what backend.test.ts cannot show — the core's routing,
 * the create-vs-update decision from the existence check, ACLs, and the JSON error envelope on the wire.
 */
import { createPublicKey, verify as cryptoVerify } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, devServer, type ApiResult } from "../../../test/servers.js";
import type { RunningServer } from "../../server/server.js";

const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");
const text = (b: unknown): string => Buffer.from(String(b), "base64").toString("utf8");

let s: RunningServer;
let root: string;

function call(method: string, path: string, body?: unknown, token = root): Promise<ApiResult> {
  return api(s.url, method, `transit/${path}`, { token, body });
}

/** Data of a 200 response; anything else fails the test with the body, so a failure says why. */
async function ok(method: string, path: string, body?: unknown, token = root): Promise<Record<string, unknown>> {
  const r = await call(method, path, body, token);
  expect(r.status, `${method} ${path}: ${JSON.stringify(r.body)}`).toBe(200);
  return (r.body?.data ?? {}) as Record<string, unknown>;
}

/** A 4xx with the Vault error envelope {errors: [string]}; returns the first error. */
async function clientError(method: string, path: string, body: unknown, status = 400): Promise<string> {
  const r = await call(method, path, body);
  expect(r.status, `${method} ${path}: ${JSON.stringify(r.body)}`).toBe(status);
  const errors = r.body?.errors;
  expect(Array.isArray(errors)).toBe(true);
  const first = (errors as unknown[])[0];
  return typeof first === "string" ? first : "";
}

const TYPES = ["aes128-gcm96", "aes256-gcm96", "chacha20-poly1305", "ed25519", "ecdsa-p256", "rsa-2048", "hmac"];

// vitest shuffles tests: the shared keys k-<type> exist before any test runs, and each test makes its own others.
beforeAll(async () => {
  s = await devServer();
  root = s.rootToken!;
  expect((await api(s.url, "POST", "sys/mounts/transit", { token: root, body: { type: "transit" } })).status).toBe(204);
  for (const type of TYPES) {
    const created = await call("POST", `keys/k-${type}`, { type });
    expect([200, 204], JSON.stringify(created.body)).toContain(created.status);
  }
});
afterAll(async () => s.stop());

describe("transit over HTTP", () => {
  it("creates keys of several types and reads them back in OpenBao's shape", async () => {
    for (const type of TYPES) {
      const key = await ok("GET", `keys/k-${type}`);
      expect(key).toMatchObject({ name: `k-${type}`, type, latest_version: 1, min_decryption_version: 1, min_encryption_version: 0, deletion_allowed: false, exportable: false });
      const v1 = (key.keys as Record<string, unknown>)["1"];
      if (["ed25519", "ecdsa-p256", "rsa-2048"].includes(type)) {
        expect(v1).toMatchObject({ public_key: expect.any(String), creation_time: expect.any(String) });
        expect(key.supports_signing).toBe(true);
      } else {
        expect(typeof v1).toBe("number");
      }
    }
    const list = await api(s.url, "LIST", "transit/keys", { token: root });
    expect(list.status).toBe(200);
    expect((list.body?.data as { keys: string[] }).keys).toEqual(expect.arrayContaining(["k-aes256-gcm96", "k-ed25519", "k-hmac"]));
    expect(await clientError("POST", "keys/bad-type", { type: "des" })).toContain("unknown key type");
  });

  it("encrypts and decrypts, singly and in batches with per-item errors", async () => {
    const enc = await ok("POST", "encrypt/k-aes256-gcm96", { plaintext: b64("hello") });
    expect(enc.ciphertext).toMatch(/^vault:v1:[A-Za-z0-9+/=]+$/);
    expect(enc.key_version).toBe(1);
    expect(text((await ok("POST", "decrypt/k-aes256-gcm96", { ciphertext: enc.ciphertext })).plaintext)).toBe("hello");

    for (const type of ["aes128-gcm96", "chacha20-poly1305", "rsa-2048"]) {
      const c = await ok("POST", `encrypt/k-${type}`, { plaintext: b64(type) });
      expect(text((await ok("POST", `decrypt/k-${type}`, { ciphertext: c.ciphertext })).plaintext)).toBe(type);
    }

    const batch = await ok("POST", "encrypt/k-aes256-gcm96", { batch_input: [{ plaintext: b64("a"), reference: "r1" }, { plaintext: b64("b"), reference: "r2" }] });
    const results = batch.batch_results as Array<{ ciphertext: string; reference: string }>;
    expect(results.map((r) => r.reference)).toEqual(["r1", "r2"]);

    // One bad item: that item carries the error, the good one still decrypts, and the status is 400…
    const mixed = await call("POST", "decrypt/k-aes256-gcm96", { batch_input: [{ ciphertext: results[0].ciphertext }, { ciphertext: "vault:v1:!!!" }] });
    expect(mixed.status).toBe(400);
    const items = (mixed.body?.data as { batch_results: Array<{ plaintext?: string; error?: string }> }).batch_results;
    expect(text(items[0].plaintext)).toBe("a");
    expect(items[0].error).toBeUndefined();
    expect(items[1].error).toBeTruthy();
    // …unless the caller asks for another status on partial failure.
    const partial = await call("POST", "decrypt/k-aes256-gcm96", {
      batch_input: [{ ciphertext: results[1].ciphertext }, { ciphertext: "nope" }],
      partial_failure_response_code: 207,
    });
    expect(partial.status).toBe(207);
  });

  it("rewraps, rotates and enforces min_decryption_version", async () => {
    await call("POST", "keys/rot", {});
    const old = await ok("POST", "encrypt/rot", { plaintext: b64("secret") });
    const rotated = await ok("POST", "keys/rot/rotate");
    expect(rotated.latest_version).toBe(2);
    const rewrapped = await ok("POST", "rewrap/rot", { ciphertext: old.ciphertext });
    expect(String(rewrapped.ciphertext)).toMatch(/^vault:v2:/);
    expect(text((await ok("POST", "decrypt/rot", { ciphertext: rewrapped.ciphertext })).plaintext)).toBe("secret");

    const cfg = await ok("POST", "keys/rot/config", { min_decryption_version: 2 });
    expect(cfg.min_decryption_version).toBe(2);
    expect(await clientError("POST", "decrypt/rot", { ciphertext: old.ciphertext })).toContain("disallowed by policy");
    expect(await clientError("POST", "decrypt/rot", { ciphertext: String(old.ciphertext).replace("vault:v1:", "vault:v9:") })).toContain("version");
  });

  it("generates data keys, plaintext and wrapped", async () => {
    const plain = await ok("POST", "datakey/plaintext/k-aes256-gcm96", { bits: 512 });
    expect(Buffer.from(String(plain.plaintext), "base64")).toHaveLength(64);
    const dec = await ok("POST", "decrypt/k-aes256-gcm96", { ciphertext: plain.ciphertext });
    expect(dec.plaintext).toBe(plain.plaintext);
    const wrapped = await ok("POST", "datakey/wrapped/k-aes256-gcm96", {});
    expect(wrapped.plaintext).toBeUndefined();
    expect(String(wrapped.ciphertext)).toMatch(/^vault:v1:/);
    expect(await clientError("POST", "datakey/plaintext/k-ed25519", {})).toContain("not supported");
  });

  it("signs and verifies with asymmetric keys; the public key verifies the signature outside", async () => {
    const input = b64("sign me");
    for (const type of ["ed25519", "ecdsa-p256", "rsa-2048"]) {
      const sig = await ok("POST", `sign/k-${type}`, { input });
      expect(String(sig.signature)).toMatch(/^vault:v1:/);
      expect((await ok("POST", `verify/k-${type}`, { input, signature: sig.signature })).valid).toBe(true);
      expect((await ok("POST", `verify/k-${type}`, { input: b64("other"), signature: sig.signature })).valid).toBe(false);
    }
    // ECDSA asn1: a DER signature over SHA-256 that node:crypto accepts with the published PEM.
    const sig = await ok("POST", "sign/k-ecdsa-p256/sha2-256", { input });
    const key = await ok("GET", "keys/k-ecdsa-p256");
    const pem = ((key.keys as Record<string, { public_key: string }>)["1"]).public_key;
    const der = Buffer.from(String(sig.signature).slice("vault:v1:".length), "base64");
    expect(cryptoVerify("sha256", Buffer.from("sign me"), createPublicKey(pem), der)).toBe(true);
    expect(await clientError("POST", "sign/k-aes256-gcm96", { input })).toContain("not supported");
  });

  it("HMACs and verifies the HMAC", async () => {
    const input = b64("mac me");
    const mac = await ok("POST", "hmac/k-hmac", { input });
    expect(String(mac.hmac)).toMatch(/^vault:v1:/);
    expect((await ok("POST", "verify/k-hmac", { input, hmac: mac.hmac })).valid).toBe(true);
    const mac512 = await ok("POST", "hmac/k-aes256-gcm96/sha2-512", { input });
    expect((await ok("POST", "verify/k-aes256-gcm96/sha2-512", { input, hmac: mac512.hmac })).valid).toBe(true);
    expect((await ok("POST", "verify/k-aes256-gcm96", { input, hmac: mac512.hmac })).valid).toBe(false);
  });

  it("refuses to export a non-exportable key and exports an exportable one", async () => {
    expect(await clientError("GET", "export/encryption-key/k-aes256-gcm96", undefined)).toContain("export");
    await call("POST", "keys/exp", { exportable: true });
    const exp = await ok("GET", "export/encryption-key/exp");
    expect(Buffer.from(String((exp.keys as Record<string, string>)["1"]), "base64")).toHaveLength(32);
  });

  it("answers bad input with a 4xx envelope and changes nothing", async () => {
    expect(await clientError("POST", "encrypt/k-aes256-gcm96", { plaintext: "not base64!!" })).toContain("base64");
    const enc = await ok("POST", "encrypt/k-aes256-gcm96", { plaintext: b64("x") });
    const body = Buffer.from(String(enc.ciphertext).slice("vault:v1:".length), "base64");
    body[body.length - 1] ^= 1;
    expect(await clientError("POST", "decrypt/k-aes256-gcm96", { ciphertext: `vault:v1:${body.toString("base64")}` })).toBeTruthy();
    expect(await clientError("POST", "decrypt/k-aes256-gcm96", { ciphertext: String(enc.ciphertext).replace("vault:v1:", "vault:v7:") })).toContain("version");
    expect(await clientError("POST", "decrypt/k-aes256-gcm96", { ciphertext: "garbage" })).toContain("ciphertext");
    expect(await clientError("POST", "decrypt/missing-key", { ciphertext: enc.ciphertext })).toContain("not found");
    expect((await ok("GET", "keys/k-aes256-gcm96")).latest_version).toBe(1);
  });

  it("upserting a key through encrypt needs the create capability", async () => {
    const policy = 'path "transit/encrypt/*" { capabilities = ["update"] }';
    expect((await api(s.url, "PUT", "sys/policies/acl/transit-update-only", { token: root, body: { policy } })).status).toBe(204);
    const created = await api(s.url, "POST", "auth/token/create", { token: root, body: { policies: ["transit-update-only"] } });
    const token = (created.body?.auth as { client_token: string }).client_token;

    const denied = await call("POST", "encrypt/upserted", { plaintext: b64("x") }, token);
    expect(denied.status).toBe(403);
    expect(denied.body?.errors).toEqual(["permission denied"]);
    expect((await call("GET", "keys/upserted")).status).toBe(404);

    // An existing key is an update: allowed.
    expect((await ok("POST", "encrypt/k-aes256-gcm96", { plaintext: b64("x") }, token)).ciphertext).toBeTruthy();
    // Root has create: the key is made on the fly.
    expect((await ok("POST", "encrypt/upserted", { plaintext: b64("x") })).key_version).toBe(1);
    expect((await ok("GET", "keys/upserted")).type).toBe("aes256-gcm96");
  });

  it("deletes a key only after deletion_allowed", async () => {
    await call("POST", "keys/doomed", {});
    expect(await clientError("DELETE", "keys/doomed", undefined)).toContain("deletion is not allowed");
    await ok("POST", "keys/doomed/config", { deletion_allowed: true });
    expect((await call("DELETE", "keys/doomed")).status).toBe(204);
    expect((await call("GET", "keys/doomed")).status).toBe(404);
  });
});
