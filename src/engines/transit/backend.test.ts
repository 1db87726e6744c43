import { execFileSync } from "node:child_process";
import { constants, createCipheriv, createHash, createPublicKey, generateKeyPairSync, publicDecrypt, publicEncrypt, randomBytes, verify as cryptoVerify } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import type { Response } from "../../core/framework/request.js";
import { createTransitBackendWith, rotateDueKeys } from "./backend.js";
import { backendHarness } from "../../../test/backend-harness.js";
import { pkeyutlVerify } from "./openssl.test-util.js";

/** The shared backend harness, plus a snapshot of everything stored (to prove a failed request changed nothing). */
function harness() {
  const h = backendHarness(createTransitBackendWith({}), { point: "transit/", type: "transit" });
  const snapshot = async (): Promise<string> => [...(await h.dump())].map(([k, v]) => `${k}=${v.toString("base64")}`).join("\n");
  return { ...h, snapshot };
}

type Harness = ReturnType<typeof harness>;
const open: Harness[] = [];
function transit(): Harness {
  const h = harness();
  open.push(h);
  return h;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((h) => h.close()));
});

function data(r: Response | undefined): Record<string, unknown> {
  if (!r?.data) throw new Error("no data in response");
  return r.data;
}

const b64 = (s: string | Buffer): string => Buffer.from(s).toString("base64");
const CT = /^vault:v\d+:[A-Za-z0-9+/]+={0,2}$/;

describe("transit: keys", () => {
  it("creates, reads and lists keys with OpenBao's response shapes", async () => {
    const { call, fails } = transit();
    await call("write", "keys/k1");
    const k = data(await call("read", "keys/k1"));
    expect(k).toMatchObject({
      name: "k1",
      type: "aes256-gcm96",
      latest_version: 1,
      min_decryption_version: 1,
      min_encryption_version: 0,
      min_available_version: 0,
      deletion_allowed: false,
      derived: false,
      exportable: false,
      allow_plaintext_backup: false,
      supports_encryption: true,
      supports_decryption: true,
      supports_derivation: true,
      supports_signing: false,
      imported_key: false,
      auto_rotate_period: 0,
    });
    expect(typeof (k.keys as Record<string, unknown>)["1"]).toBe("number");
    await call("write", "keys/sig", { type: "ecdsa-p256" });
    const s = data(await call("read", "keys/sig"));
    const v1 = (s.keys as Record<string, Record<string, string>>)["1"];
    expect(v1.name).toBe("P-256");
    expect(v1.public_key).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(data(await call("list", "keys/")).keys).toEqual(["k1", "sig"]);
    expect((await fails("read", "keys/none")).status).toBe(404);
    expect((await fails("write", "keys/bad", { type: "aes512" })).status).toBe(400);
    // an existing key is left alone, with a warning
    const again = await call("write", "keys/k1", { type: "ed25519" });
    expect(again?.warnings?.[0]).toMatch(/already existed/);
    expect(data(await call("read", "keys/k1")).type).toBe("aes256-gcm96");
  });

  it("gives every key type its capabilities", async () => {
    const { call } = transit();
    const types = ["aes128-gcm96", "aes256-gcm96", "chacha20-poly1305", "ed25519", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "rsa-2048", "hmac"];
    for (const type of types) {
      await call("write", `keys/${type}`, { type });
      const k = data(await call("read", `keys/${type}`));
      expect(k.type).toBe(type);
      const asym = type.startsWith("ec") || type.startsWith("rsa") || type === "ed25519";
      expect(k.supports_signing).toBe(asym);
      expect(k.supports_encryption).toBe(!asym || type.startsWith("rsa") ? type !== "hmac" : false);
    }
    const ed = (data(await call("read", "keys/ed25519")).keys as Record<string, Record<string, string>>)["1"];
    expect(Buffer.from(ed.public_key, "base64")).toHaveLength(32);
  });

  it("deletes only when deletion_allowed, and validates config", async () => {
    const { call, fails, snapshot } = transit();
    await call("write", "keys/k");
    const before = await snapshot();
    expect((await fails("delete", "keys/k")).message).toBe("deletion is not allowed for this key");
    expect((await fails("write", "keys/k/config", { min_decryption_version: 5 })).status).toBe(400);
    expect((await fails("write", "keys/k/config", { auto_rotate_period: "10m" })).status).toBe(400);
    expect(await snapshot()).toBe(before);
    await call("write", "keys/k/config", { exportable: true, auto_rotate_period: "24h" });
    expect((await fails("write", "keys/k/config", { exportable: false })).status).toBe(400);
    expect(data(await call("read", "keys/k")).auto_rotate_period).toBe(86400);
    await call("write", "keys/k/config", { deletion_allowed: true });
    expect(await call("delete", "keys/k")).toBeUndefined();
    expect((await fails("read", "keys/k")).status).toBe(404);
  });

  it("rotates, enforces min_decryption_version, trims and rewraps", async () => {
    const { call, fails, snapshot } = transit();
    await call("write", "keys/k");
    const c1 = data(await call("write", "encrypt/k", { plaintext: b64("one") })).ciphertext as string;
    expect(c1).toMatch(/^vault:v1:/);
    expect(data(await call("write", "keys/k/rotate")).latest_version).toBe(2);
    const c2 = data(await call("write", "encrypt/k", { plaintext: b64("two") }));
    expect(c2).toMatchObject({ key_version: 2 });
    expect(data(await call("write", "encrypt/k", { plaintext: b64("x"), key_version: 1 })).ciphertext).toMatch(/^vault:v1:/);
    const re = data(await call("write", "rewrap/k", { ciphertext: c1 }));
    expect(re.ciphertext).toMatch(/^vault:v2:/);
    expect(data(await call("write", "decrypt/k", { ciphertext: re.ciphertext })).plaintext).toBe(b64("one"));

    await call("write", "keys/k/config", { min_decryption_version: 2 });
    expect((await fails("write", "decrypt/k", { ciphertext: c1 })).message).toBe("ciphertext or signature version is disallowed by policy (too old)");
    expect((await fails("write", "decrypt/k", { ciphertext: c1.replace("vault:v1:", "vault:v9:") })).status).toBe(400);
    expect((await fails("write", "keys/k/trim", { min_available_version: 3 })).status).toBe(400);
    const t = data(await call("write", "keys/k/trim", { min_available_version: 2 }));
    expect(Object.keys(t.keys as object)).toEqual(["2"]);
    expect(t.min_available_version).toBe(2);
    const snap = await snapshot();
    expect((await fails("write", "keys/k/config", { min_decryption_version: 1 })).status).toBe(400);
    expect(await snapshot()).toBe(snap);
  });

  it("rotates due keys from the job", async () => {
    const { call, view } = transit();
    await call("write", "keys/due", { auto_rotate_period: "1h" });
    await call("write", "keys/never");
    expect(await rotateDueKeys(view, new Date())).toEqual([]);
    expect(await rotateDueKeys(view, new Date(Date.now() + 3601_000))).toEqual(["due"]);
    expect(data(await call("read", "keys/due")).latest_version).toBe(2);
    expect(data(await call("read", "keys/never")).latest_version).toBe(1);
  });
});

describe("transit: encrypt and decrypt", () => {
  it("never repeats a nonce, across refills of the nonce pool, and every ciphertext decrypts", async () => {
    const { call } = transit();
    await call("write", "keys/n", { type: "aes256-gcm96" });
    const pt = b64("same plaintext every time");
    const out = data(await call("write", "encrypt/n", { batch_input: Array.from({ length: 1500 }, () => ({ plaintext: pt })) })).batch_results as Array<{ ciphertext: string }>;
    const nonces = new Set(out.map((r) => Buffer.from(r.ciphertext.split(":")[2], "base64").subarray(0, 12).toString("hex")));
    expect(nonces.size).toBe(1500);
    const dec = data(await call("write", "decrypt/n", { batch_input: out.map((r) => ({ ciphertext: r.ciphertext })) })).batch_results as Array<{ plaintext: string }>;
    expect(dec.every((d) => d.plaintext === pt)).toBe(true);
  });

  it("round-trips every cipher, with associated data, in vault:vN: format", async () => {
    const { call, fails } = transit();
    for (const type of ["aes128-gcm96", "aes256-gcm96", "chacha20-poly1305", "rsa-2048"]) {
      await call("write", `keys/${type}`, { type });
      const plaintext = b64(`hello ${type}`);
      const aad = type.startsWith("rsa") ? {} : { associated_data: b64("hdr") };
      const r = data(await call("write", `encrypt/${type}`, { plaintext, ...aad }));
      expect(r.ciphertext).toMatch(CT);
      expect(r.key_version).toBe(1);
      expect(data(await call("write", `decrypt/${type}`, { ciphertext: r.ciphertext, ...aad })).plaintext).toBe(plaintext);
      if (!type.startsWith("rsa")) {
        expect((await fails("write", `decrypt/${type}`, { ciphertext: r.ciphertext, associated_data: b64("other") })).message).toBe("cipher: message authentication failed");
      }
    }
    // AES-GCM body = nonce(12) ‖ ct ‖ tag(16)
    const r = data(await call("write", "encrypt/aes256-gcm96", { plaintext: b64("abc") }));
    expect(Buffer.from((r.ciphertext as string).split(":")[2], "base64")).toHaveLength(12 + 3 + 16);
    // empty plaintext is allowed
    const e = data(await call("write", "encrypt/aes256-gcm96", { plaintext: "" }));
    expect(data(await call("write", "decrypt/aes256-gcm96", { ciphertext: e.ciphertext })).plaintext).toBe("");
  });

  it("upserts a missing key on encrypt (create), unless disabled", async () => {
    const { call, fails, ops } = transit();
    await call("write", "encrypt/new", { plaintext: b64("x"), type: "chacha20-poly1305" });
    expect(ops.at(-1)).toBe("create");
    expect(data(await call("read", "keys/new")).type).toBe("chacha20-poly1305");
    await call("write", "encrypt/new", { plaintext: b64("x") });
    expect(ops.at(-1)).toBe("update");
    // a context on the first request makes a derived key
    await call("write", "encrypt/derived", { plaintext: b64("x"), context: b64("ctx") });
    expect(data(await call("read", "keys/derived")).derived).toBe(true);
    await call("write", "config/keys", { disable_upsert: true });
    expect((await fails("write", "encrypt/other", { plaintext: b64("x") })).status).toBe(400);
    expect((await fails("read", "keys/other")).status).toBe(404);
    expect((await fails("write", "decrypt/none", { ciphertext: "vault:v1:AAAA" })).message).toBe("encryption key not found");
  });

  it("rejects bad input with a 400 and changes nothing", async () => {
    const { call, fails, snapshot } = transit();
    await call("write", "keys/k");
    await call("write", "keys/ed", { type: "ed25519" });
    const ct = data(await call("write", "encrypt/k", { plaintext: b64("secret") })).ciphertext as string;
    const before = await snapshot();
    const body = Buffer.from(ct.split(":")[2], "base64");
    body[body.length - 1] ^= 1;
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ["decrypt/k", { ciphertext: `vault:v1:${body.toString("base64")}` }, /message authentication failed/],
      ["decrypt/k", { ciphertext: "v1:abc" }, /no prefix/],
      ["decrypt/k", { ciphertext: "vault:vX:abc" }, /version number/],
      ["decrypt/k", { ciphertext: "vault:v1:!!notbase64" }, /base64/],
      ["decrypt/k", { ciphertext: "vault:v1:AAAA" }, /ciphertext length/],
      ["decrypt/k", { ciphertext: "vault:v2:AAAA" }, /newer than the latest/],
      ["encrypt/k", { plaintext: "not base64!" }, /base64/],
      ["encrypt/k", { plaintext: b64("x"), key_version: 7 }, /invalid key version/],
      ["encrypt/k", {}, /missing plaintext/],
      ["encrypt/ed", { plaintext: b64("x") }, /not supported for key type ed25519/],
      ["sign/k", { input: b64("x") }, /not supported for key type aes256-gcm96/],
      ["datakey/plaintext/ed", {}, /not supported/],
      ["encrypt/k", { plaintext: b64("x"), nonce: b64("123456789012") }, /nonce not allowed/],
    ];
    for (const [path, body, msg] of cases) {
      const err = await fails("write", path, body);
      expect(err.status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(err.message).toMatch(msg);
    }
    expect(await snapshot()).toBe(before);
  });

  it("derives keys per context (HKDF) and encrypts convergently", async () => {
    const { call, fails } = transit();
    await call("write", "keys/d", { derived: true });
    await call("write", "keys/c", { derived: true, convergent_encryption: true });
    expect((await fails("write", "keys/bad", { convergent_encryption: true })).status).toBe(400);
    expect((await fails("write", "encrypt/d", { plaintext: b64("x") })).message).toMatch(/missing 'context'/);
    const ct = data(await call("write", "encrypt/d", { plaintext: b64("x"), context: b64("alice") })).ciphertext;
    expect((await fails("write", "decrypt/d", { ciphertext: ct, context: b64("bob") })).message).toMatch(/authentication failed/);
    expect(data(await call("write", "decrypt/d", { ciphertext: ct, context: b64("alice") })).plaintext).toBe(b64("x"));
    const a = data(await call("write", "encrypt/c", { plaintext: b64("same"), context: b64("ctx") })).ciphertext;
    const b = data(await call("write", "encrypt/c", { plaintext: b64("same"), context: b64("ctx") })).ciphertext;
    const c = data(await call("write", "encrypt/c", { plaintext: b64("same"), context: b64("ctx2") })).ciphertext;
    expect(a).toBe(b);
    expect(c).not.toBe(a);
    const k = data(await call("read", "keys/c"));
    expect(k).toMatchObject({ kdf: "hkdf_sha256", convergent_encryption: true, convergent_encryption_version: 3 });
  });

  it("runs batches with per-item errors and OpenBao's status codes", async () => {
    const { call, fails } = transit();
    await call("write", "keys/k");
    const ok = await call("write", "encrypt/k", { batch_input: [{ plaintext: b64("a"), reference: "r1" }, { plaintext: b64("b") }] });
    expect(ok?.status).toBeUndefined();
    const results = data(ok).batch_results as Array<Record<string, unknown>>;
    expect(results[0]).toMatchObject({ key_version: 1, reference: "r1" });
    expect(results[1].reference).toBe("");

    const mixed = await call("write", "decrypt/k", {
      batch_input: [{ ciphertext: results[0].ciphertext, reference: "good" }, { ciphertext: "garbage", reference: "bad" }],
    });
    expect(mixed?.status).toBe(400);
    const mr = data(mixed).batch_results as Array<Record<string, unknown>>;
    expect(mr[0]).toEqual({ plaintext: b64("a"), reference: "good" });
    expect(mr[1]).toMatchObject({ reference: "bad", error: "invalid ciphertext: no prefix" });

    const partial = await call("write", "decrypt/k", { partial_failure_response_code: 207, batch_input: [{ ciphertext: results[0].ciphertext }, { ciphertext: "x" }] });
    expect(partial?.status).toBe(207);
    const allBad = await call("write", "decrypt/k", { partial_failure_response_code: 207, batch_input: [{ ciphertext: "x" }] });
    expect(allBad?.status).toBe(400);

    const many = Array.from({ length: 10_001 }, () => ({ plaintext: "" }));
    expect((await fails("write", "encrypt/k", { batch_input: many })).status).toBe(413);
    expect((await fails("write", "encrypt/k", { batch_input: "nope" })).status).toBe(400);
    expect((await fails("write", "encrypt/k", { batch_input: [] })).status).toBe(400);
  });

  it("makes data keys, plaintext and wrapped", async () => {
    const { call, fails } = transit();
    await call("write", "keys/k");
    const p = data(await call("write", "datakey/plaintext/k", { bits: 512 }));
    expect(Buffer.from(p.plaintext as string, "base64")).toHaveLength(64);
    expect(data(await call("write", "decrypt/k", { ciphertext: p.ciphertext })).plaintext).toBe(p.plaintext);
    const w = data(await call("write", "datakey/wrapped/k"));
    expect(w.plaintext).toBeUndefined();
    expect(Buffer.from(data(await call("write", "decrypt/k", { ciphertext: w.ciphertext })).plaintext as string, "base64")).toHaveLength(32);
    expect((await fails("write", "datakey/plaintext/k", { bits: 100 })).status).toBe(400);
    expect((await fails("write", "datakey/other/k")).status).toBe(400);
  });
});

describe("transit: properties", () => {
  it("decrypt(encrypt(x)) = x for random x, context, key type, single and batch", async () => {
    const { call } = transit();
    for (const type of ["aes128-gcm96", "aes256-gcm96", "chacha20-poly1305"]) {
      await call("write", `keys/p-${type}`, { type });
      await call("write", `keys/d-${type}`, { type, derived: true });
      await call("write", `keys/c-${type}`, { type, derived: true, convergent_encryption: true });
    }
    const type = fc.constantFrom("aes128-gcm96", "aes256-gcm96", "chacha20-poly1305");
    await fc.assert(
      fc.asyncProperty(type, fc.uint8Array({ maxLength: 512 }), fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.constantFrom("p", "d", "c"), async (t, x, ctx, kind) => {
        const name = `${kind}-${t}`;
        const extra = kind === "p" ? {} : { context: b64(Buffer.from(ctx)) };
        const ct = data(await call("write", `encrypt/${name}`, { plaintext: b64(Buffer.from(x)), ...extra })).ciphertext;
        expect(data(await call("write", `decrypt/${name}`, { ciphertext: ct, ...extra })).plaintext).toBe(b64(Buffer.from(x)));
      }),
      { numRuns: 150 },
    );
    await fc.assert(
      fc.asyncProperty(type, fc.array(fc.tuple(fc.uint8Array({ maxLength: 128 }), fc.uint8Array({ minLength: 1, maxLength: 32 })), { minLength: 1, maxLength: 20 }), async (t, items) => {
        const input = items.map(([x, c]) => ({ plaintext: b64(Buffer.from(x)), context: b64(Buffer.from(c)) }));
        const enc = data(await call("write", `encrypt/d-${t}`, { batch_input: input })).batch_results as Array<{ ciphertext: string }>;
        const dec = data(await call("write", `decrypt/d-${t}`, { batch_input: enc.map((e, i) => ({ ciphertext: e.ciphertext, context: input[i].context })) }))
          .batch_results as Array<{ plaintext: string }>;
        expect(dec.map((d) => d.plaintext)).toEqual(input.map((i) => i.plaintext));
      }),
      { numRuns: 40 },
    );
  });
});

/** openssl dgst -verify over a temp dir; true when openssl says "Verified OK". */
function opensslVerify(pubPem: string, sig: Buffer, message: Buffer, args: string[]): boolean {
  const dir = mkdtempSync(join(tmpdir(), "arca-transit-"));
  try {
    writeFileSync(join(dir, "pub.pem"), pubPem);
    writeFileSync(join(dir, "sig"), sig);
    writeFileSync(join(dir, "msg"), message);
    // OpenSSL 3.0's dgst cannot do Ed25519 (no -rawin there); pkeyutl -rawin is its one-shot equivalent.
    const argv =
      args[0] === "-rawin"
        ? ["pkeyutl", "-verify", "-pubin", "-inkey", join(dir, "pub.pem"), "-rawin", "-in", join(dir, "msg"), "-sigfile", join(dir, "sig")]
        : ["dgst", ...args, "-verify", join(dir, "pub.pem"), "-signature", join(dir, "sig"), join(dir, "msg")];
    const out = execFileSync("openssl", argv, { encoding: "utf8" });
    return /Verified OK|Signature Verified Successfully/.test(out);
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function sigBytes(sig: string, jws = false): Buffer {
  const body = sig.split(":")[2];
  return Buffer.from(body, jws ? "base64url" : "base64");
}

describe("transit: sign and verify", () => {
  const msg = Buffer.from("the quick brown fox");

  it("signs with ECDSA, RSA (PSS, PKCS#1 v1.5) and Ed25519; openssl verifies the asn1 signatures", async () => {
    const { call, fails } = transit();
    const cases: Array<{ type: string; body: Record<string, unknown>; openssl: string[] }> = [
      { type: "ecdsa-p256", body: {}, openssl: ["-sha256"] },
      { type: "ecdsa-p384", body: { hash_algorithm: "sha2-384" }, openssl: ["-sha384"] },
      { type: "ecdsa-p521", body: { hash_algorithm: "sha2-512" }, openssl: ["-sha512"] },
      { type: "rsa-2048", body: { signature_algorithm: "pkcs1v15" }, openssl: ["-sha256"] },
      { type: "rsa-2048", body: { hash_algorithm: "sha2-512" }, openssl: ["-sha512", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:auto"] },
      { type: "rsa-2048", body: { salt_length: "hash" }, openssl: ["-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"] },
      { type: "ed25519", body: {}, openssl: ["-rawin"] },
    ];
    for (const [i, c] of cases.entries()) {
      const name = `k${i}`;
      await call("write", `keys/${name}`, { type: c.type });
      const pub = (data(await call("read", `keys/${name}`)).keys as Record<string, Record<string, string>>)["1"].public_key;
      const pem = c.type === "ed25519" ? (data(await call("read", `export/public-key/${name}/1`)).keys as Record<string, string>)["1"] : pub;
      const pubPem = c.type === "ed25519" ? createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(pem, "base64").toString("base64url") }, format: "jwk" }).export({ type: "spki", format: "pem" }).toString() : pem;
      const s = data(await call("write", `sign/${name}`, { input: b64(msg), ...c.body }));
      expect(s.signature).toMatch(/^vault:v1:/);
      expect(s.key_version).toBe(1);
      expect(opensslVerify(pubPem, sigBytes(s.signature as string), msg, c.openssl), `${c.type} ${JSON.stringify(c.body)}`).toBe(true);
      expect(data(await call("write", `verify/${name}`, { input: b64(msg), signature: s.signature, ...c.body })).valid).toBe(true);
      expect(data(await call("write", `verify/${name}`, { input: b64("other"), signature: s.signature, ...c.body })).valid).toBe(false);
    }
    // hash in the path (sign/:name/:urlalgorithm)
    const s = data(await call("write", "sign/k0/sha2-384", { input: b64(msg) }));
    expect(data(await call("write", "verify/k0/sha2-384", { input: b64(msg), signature: s.signature })).valid).toBe(true);
    expect(data(await call("write", "verify/k0", { input: b64(msg), signature: s.signature })).valid).toBe(false);
    expect((await fails("write", "sign/k0", { input: b64(msg), hash_algorithm: "md5" })).status).toBe(400);
    expect((await fails("write", "verify/k0", { input: b64(msg), signature: "vault:v1:@@" })).status).toBe(400);
  });

  it("marshals JWS signatures that verify as compact JWS (ES256, RS256, PS256, EdDSA)", async () => {
    const { call } = transit();
    const algs: Array<[string, string, Record<string, unknown>]> = [
      ["ecdsa-p256", "ES256", {}],
      ["rsa-2048", "RS256", { signature_algorithm: "pkcs1v15" }],
      ["rsa-2048", "PS256", { salt_length: "hash" }],
      ["ed25519", "EdDSA", {}],
    ];
    for (const [i, [type, alg, extra]] of algs.entries()) {
      await call("write", `keys/j${i}`, { type });
      const header = Buffer.from(JSON.stringify({ alg, typ: "JWT" })).toString("base64url");
      const payload = Buffer.from(JSON.stringify({ sub: "arca", n: i })).toString("base64url");
      const signingInput = Buffer.from(`${header}.${payload}`);
      const s = data(await call("write", `sign/j${i}`, { input: b64(signingInput), marshaling_algorithm: "jws", ...extra })).signature as string;
      const body = s.split(":")[2];
      expect(body).toMatch(/^[A-Za-z0-9_-]+$/);
      const jws = `${header}.${payload}.${body}`;
      // Verify the compact JWS as a relying party would, from the public key alone.
      const [h, p, sig] = jws.split(".");
      const pubB64 = (data(await call("read", `export/public-key/j${i}/latest`)).keys as Record<string, string>)["1"];
      const pub = type === "ed25519" ? createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(pubB64, "base64").toString("base64url") }, format: "jwk" }) : createPublicKey(pubB64);
      const raw = Buffer.from(sig, "base64url");
      const ok =
        alg === "ES256"
          ? cryptoVerify("sha256", Buffer.from(`${h}.${p}`), { key: pub, dsaEncoding: "ieee-p1363" }, raw) && raw.length === 64
          : alg === "RS256"
            ? cryptoVerify("sha256", Buffer.from(`${h}.${p}`), { key: pub, padding: constants.RSA_PKCS1_PADDING }, raw)
            : alg === "PS256"
              ? cryptoVerify("sha256", Buffer.from(`${h}.${p}`), { key: pub, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, raw)
              : cryptoVerify(null, Buffer.from(`${h}.${p}`), pub, raw);
      expect(ok, alg).toBe(true);
      expect(data(await call("write", `verify/j${i}`, { input: b64(signingInput), signature: s, marshaling_algorithm: "jws", ...extra })).valid).toBe(true);
    }
  });

  it("signs prehashed input with RSA PKCS#1 v1.5, and batches", async () => {
    const { call, fails } = transit();
    await call("write", "keys/r", { type: "rsa-2048" });
    const digest = createHash("sha256").update(msg).digest();
    const s = data(await call("write", "sign/r", { input: b64(digest), prehashed: true, signature_algorithm: "pkcs1v15" })).signature as string;
    const pem = (data(await call("read", "keys/r")).keys as Record<string, Record<string, string>>)["1"].public_key;
    expect(opensslVerify(pem, sigBytes(s), msg, ["-sha256"])).toBe(true);
    expect(data(await call("write", "verify/r", { input: b64(msg), signature: s, signature_algorithm: "pkcs1v15" })).valid).toBe(true);
    expect(data(await call("write", "verify/r", { input: b64(digest), prehashed: true, signature: s, signature_algorithm: "pkcs1v15" })).valid).toBe(true);
    expect((await fails("write", "sign/r", { input: b64("short"), prehashed: true, signature_algorithm: "pkcs1v15" })).status).toBe(400);

    await call("write", "keys/e", { type: "ed25519" });
    const batch = data(await call("write", "sign/e", { batch_input: [{ input: b64("a"), reference: "1" }, { input: b64("b"), reference: "2" }] })).batch_results as Array<Record<string, string>>;
    expect(batch.map((b) => b.reference)).toEqual(["1", "2"]);
    const v = data(await call("write", "verify/e", { batch_input: [{ input: b64("a"), signature: batch[0].signature }, { input: b64("a"), signature: batch[1].signature }] }));
    expect((v.batch_results as Array<{ valid: boolean }>).map((r) => r.valid)).toEqual([true, false]);
  });

  it("computes and verifies HMACs for hmac keys and any key's HMAC key", async () => {
    const { call, fails } = transit();
    await call("write", "keys/h", { type: "hmac", key_size: 64 });
    await call("write", "keys/a");
    for (const name of ["h", "a"]) {
      const h = data(await call("write", `hmac/${name}/sha2-512`, { input: b64(msg) })).hmac as string;
      expect(h).toMatch(/^vault:v1:/);
      expect(Buffer.from(h.split(":")[2], "base64")).toHaveLength(64);
      expect(data(await call("write", `verify/${name}/sha2-512`, { input: b64(msg), hmac: h })).valid).toBe(true);
      expect(data(await call("write", `verify/${name}/sha2-512`, { input: b64("x"), hmac: h })).valid).toBe(false);
    }
    const exported = await fails("read", "export/hmac-key/h");
    expect(exported.status).toBe(400);
    await call("write", "keys/h/config", { exportable: true });
    const key = Buffer.from((data(await call("read", "export/hmac-key/h/1")).keys as Record<string, string>)["1"], "base64");
    expect(key).toHaveLength(64);
    const expected = (await import("node:crypto")).createHmac("sha256", key).update(msg).digest("base64");
    expect(data(await call("write", "hmac/h", { input: b64(msg) })).hmac).toBe(`vault:v1:${expected}`);
  });
});


describe("transit: prehashed signatures", () => {
  const WIRE = { sha256: "sha2-256", sha384: "sha2-384", sha512: "sha2-512" } as const;
  const publicPem = async (call: Harness["call"], name: string): Promise<string> =>
    (data(await call("read", `keys/${name}`)).keys as Record<string, Record<string, string>>)["1"].public_key;

  it("ECDSA P-256/384/521 and RSA-PSS sign a SHA-256/384/512 digest; openssl pkeyutl (digest) and dgst (message) verify", async () => {
    const { call } = transit();
    const msg = Buffer.from("a message signed by its digest");
    const keys: Array<{ name: string; type: string; body: Record<string, unknown>; pss?: (hLen: number) => number }> = [
      { name: "p256", type: "ecdsa-p256", body: {} },
      { name: "p384", type: "ecdsa-p384", body: {} },
      { name: "p521", type: "ecdsa-p521", body: {} },
      { name: "pss-auto", type: "rsa-2048", body: {}, pss: (h) => 256 - 2 - h },
      { name: "pss-hash", type: "rsa-2048", body: { salt_length: "hash" }, pss: (h) => h },
      { name: "pss-20", type: "rsa-2048", body: { salt_length: "20" }, pss: () => 20 },
      { name: "pss-3072", type: "rsa-3072", body: { signature_algorithm: "pss", salt_length: "hash" }, pss: (h) => h },
    ];
    for (const k of keys) {
      await call("write", `keys/${k.name}`, { type: k.type });
      const pem = await publicPem(call, k.name);
      for (const hash of ["sha256", "sha384", "sha512"] as const) {
        const what = `${k.name} ${hash}`;
        const digest = createHash(hash).update(msg).digest();
        const body = { ...k.body, hash_algorithm: WIRE[hash], prehashed: true };
        const s = data(await call("write", `sign/${k.name}`, { input: b64(digest), ...body })).signature as string;
        expect(s, what).toMatch(/^vault:v1:/);
        const sig = sigBytes(s);
        const pss = k.pss ? ["rsa_padding_mode:pss", `rsa_pss_saltlen:${k.pss(digest.length)}`, `digest:${hash}`] : [];
        expect(pkeyutlVerify(pem, sig, digest, pss), `pkeyutl ${what}`).toBe(true);
        const dgstArgs = k.pss ? [`-${hash}`, "-sigopt", "rsa_padding_mode:pss", "-sigopt", `rsa_pss_saltlen:${k.pss(digest.length)}`] : [`-${hash}`];
        expect(opensslVerify(pem, sig, msg, dgstArgs), `dgst ${what}`).toBe(true);
        // verify: over the digest, over the message, and false for a tampered digest
        expect(data(await call("write", `verify/${k.name}`, { input: b64(digest), signature: s, ...body })).valid, what).toBe(true);
        expect(data(await call("write", `verify/${k.name}`, { input: b64(msg), signature: s, ...k.body, hash_algorithm: WIRE[hash] })).valid, what).toBe(true);
        const tampered = Buffer.from(digest);
        tampered[5] ^= 0x01;
        expect(data(await call("write", `verify/${k.name}`, { input: b64(tampered), signature: s, ...body })).valid, what).toBe(false);
      }
      // a signature made over the message verifies over its digest
      const s = data(await call("write", `sign/${k.name}`, { input: b64(msg), ...k.body })).signature as string;
      const digest = createHash("sha256").update(msg).digest();
      expect(data(await call("write", `verify/${k.name}`, { input: b64(digest), signature: s, prehashed: true, ...k.body })).valid, k.name).toBe(true);
    }
  });

  it("marshals prehashed ECDSA as JWS (r‖s) too, and signs a digest whatever hash_algorithm names (as OpenBao)", async () => {
    const { call, fails } = transit();
    await call("write", "keys/e", { type: "ecdsa-p384" });
    const pem = await publicPem(call, "e");
    const msg = Buffer.from("jws");
    const digest = createHash("sha384").update(msg).digest();
    // hash_algorithm left at its default (sha2-256): an ECDSA signature does not depend on it.
    const s = data(await call("write", "sign/e", { input: b64(digest), prehashed: true, marshaling_algorithm: "jws" })).signature as string;
    const raw = sigBytes(s, true);
    expect(raw).toHaveLength(96);
    expect(cryptoVerify("sha384", msg, { key: pem, dsaEncoding: "ieee-p1363" }, raw)).toBe(true);
    expect(data(await call("write", "verify/e", { input: b64(digest), signature: s, prehashed: true, marshaling_algorithm: "jws" })).valid).toBe(true);
    // the same r‖s bytes re-encoded as standard base64 are still not a DER signature
    const asAsn1 = `vault:v1:${raw.toString("base64")}`;
    expect(data(await call("write", "verify/e", { input: b64(digest), signature: asAsn1, prehashed: true })).valid).toBe(false);
    expect((await fails("write", "verify/e", { input: b64(digest), signature: s, prehashed: true })).status).toBe(400);
  });

  it("refuses bad prehashed input and bad salt lengths with 400, as OpenBao", async () => {
    const { call, fails } = transit();
    await call("write", "keys/e", { type: "ecdsa-p256" });
    await call("write", "keys/r", { type: "rsa-2048" });
    const d256 = createHash("sha256").update("x").digest();
    const sig = data(await call("write", "sign/r", { input: b64(d256), prehashed: true })).signature as string;
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ["sign/e", { input: b64("not a digest"), prehashed: true }, /must be a digest/],
      ["verify/e", { input: b64("not a digest"), prehashed: true, signature: sig }, /must be a digest/],
      ["sign/r", { input: b64(d256), prehashed: true, hash_algorithm: "sha2-512" }, /sha512 digest/],
      ["sign/r", { input: b64(d256), prehashed: true, salt_length: "223" }, /salt length 223 is invalid/],
      ["verify/r", { input: b64(d256), prehashed: true, salt_length: "223", signature: sig }, /salt length 223 is invalid/],
      ["sign/r", { input: b64("m"), salt_length: "223" }, /salt length 223 is invalid/],
      ["sign/r", { input: b64(d256), prehashed: true, salt_length: "-2" }, /salt length is invalid/],
      ["sign/r", { input: b64(d256), prehashed: true, salt_length: "lots" }, /neither 'auto', 'hash', nor an int/],
      ["sign/r", { input: b64(d256), prehashed: true, hash_algorithm: "none" }, /hash_algorithm=none requires both prehashed=true and signature_algorithm=pkcs1v15/],
      ["sign/e", { input: b64("m"), hash_algorithm: "none" }, /hash_algorithm=none requires/],
    ];
    for (const [path, body, message] of cases) {
      const err = await fails("write", path, body);
      expect(err.status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(err.message).toMatch(message);
    }
    // salt_length 0 is Go's "auto" (longest salt when signing, detected when verifying)
    const auto = data(await call("write", "sign/r", { input: b64(d256), prehashed: true, salt_length: "0" })).signature as string;
    expect(pkeyutlVerify(await publicPem(call, "r"), sigBytes(auto), d256, ["rsa_padding_mode:pss", "rsa_pss_saltlen:222", "digest:sha256"])).toBe(true);
    // RSA PKCS#1 v1.5 with hash none signs the raw input (no DigestInfo), as OpenBao's PKCS1v15_NoOID
    const none = data(await call("write", "sign/r", { input: b64(d256), prehashed: true, signature_algorithm: "pkcs1v15", hash_algorithm: "none" })).signature as string;
    expect(publicDecrypt({ key: await publicPem(call, "r"), padding: constants.RSA_PKCS1_PADDING }, sigBytes(none))).toEqual(d256);
  });

  it("Ed25519 signs the input itself when prehashed is set, as OpenBao (no Ed25519ph)", async () => {
    const { call } = transit();
    await call("write", "keys/ed", { type: "ed25519" });
    const pub = (data(await call("read", "keys/ed")).keys as Record<string, Record<string, string>>)["1"].public_key;
    const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(pub, "base64").toString("base64url") }, format: "jwk" });
    const digest = createHash("sha512").update("m").digest();
    const s = data(await call("write", "sign/ed", { input: b64(digest), prehashed: true })).signature as string;
    expect(cryptoVerify(null, digest, key, sigBytes(s))).toBe(true);
    expect(data(await call("write", "verify/ed", { input: b64(digest), prehashed: true, signature: s })).valid).toBe(true);
    expect(data(await call("write", "verify/ed", { input: b64(digest), signature: s })).valid).toBe(true);
  });

  it("a derived Ed25519 key returns the context's public key (public_key; publickey in batches), as OpenBao", async () => {
    const { call, fails } = transit();
    await call("write", "keys/dv", { type: "ed25519", derived: true });
    const ctxA = b64("tenant-a");
    const one = data(await call("write", "sign/dv", { input: b64("m"), context: ctxA }));
    const pub = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(one.public_key as string, "base64").toString("base64url") }, format: "jwk" });
    expect(cryptoVerify(null, Buffer.from("m"), pub, sigBytes(one.signature as string))).toBe(true);
    const batch = data(await call("write", "sign/dv", { batch_input: [{ input: b64("m"), context: ctxA }, { input: b64("m"), context: b64("tenant-b") }] })).batch_results as Array<Record<string, string>>;
    expect(batch[0].publickey).toBe(one.public_key);
    expect(batch[1].publickey).not.toBe(one.public_key);
    expect(data(await call("write", "verify/dv", { input: b64("m"), context: ctxA, signature: batch[0].signature })).valid).toBe(true);
    expect(data(await call("write", "verify/dv", { input: b64("m"), context: ctxA, signature: batch[1].signature })).valid).toBe(false);
    expect((await fails("write", "sign/dv", { input: b64("m") })).message).toMatch(/missing 'context'/);
    // a key that is not derived answers without a public key
    await call("write", "keys/plain", { type: "ed25519" });
    expect(data(await call("write", "sign/plain", { input: b64("m") }))).not.toHaveProperty("public_key");
  });

  it("property: sign(prehash(m)) verifies via node:crypto verify over m", async () => {
    const { call } = transit();
    const kinds = [
      { name: "p256", type: "ecdsa-p256", body: {} },
      { name: "p521", type: "ecdsa-p521", body: {} },
      { name: "pss", type: "rsa-2048", body: { salt_length: "hash" } },
      { name: "pkcs", type: "rsa-2048", body: { signature_algorithm: "pkcs1v15" } },
    ];
    const pems: Record<string, string> = {};
    for (const k of kinds) {
      await call("write", `keys/${k.name}`, { type: k.type });
      pems[k.name] = await publicPem(call, k.name);
    }
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...kinds), fc.constantFrom("sha256", "sha384", "sha512"), fc.uint8Array({ maxLength: 300 }), async (k, hash, m) => {
        const msg = Buffer.from(m);
        const digest = createHash(hash).update(msg).digest();
        const s = data(await call("write", `sign/${k.name}`, { input: b64(digest), prehashed: true, hash_algorithm: WIRE[hash], ...k.body })).signature as string;
        const opts = k.name === "pss" ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: digest.length } : k.name === "pkcs" ? { padding: constants.RSA_PKCS1_PADDING } : {};
        expect(cryptoVerify(hash, msg, { key: pems[k.name], ...opts }, sigBytes(s))).toBe(true);
      }),
      { numRuns: 80 },
    );
  });
});

describe("transit: export, backup, restore, random, hash", () => {
  it("exports only exportable keys, in OpenBao's formats", async () => {
    const { call, fails } = transit();
    await call("write", "keys/a", { exportable: true });
    await call("write", "keys/e", { type: "ecdsa-p256", exportable: true });
    await call("write", "keys/r", { type: "rsa-2048", exportable: true });
    await call("write", "keys/n");
    expect((await fails("read", "export/encryption-key/n")).status).toBe(400);
    expect((await fails("read", "export/bogus/a")).status).toBe(400);
    expect((await fails("read", "export/signing-key/a")).status).toBe(400);
    expect((await fails("read", "export/encryption-key/a/9")).status).toBe(404);
    const a = data(await call("read", "export/encryption-key/a"));
    const key = Buffer.from((a.keys as Record<string, string>)["1"], "base64");
    expect(key).toHaveLength(32);
    // decrypt a transit ciphertext with the exported key outside the engine
    const ct = Buffer.from((data(await call("write", "encrypt/a", { plaintext: b64("out") })).ciphertext as string).split(":")[2], "base64");
    const { createDecipheriv } = await import("node:crypto");
    const d = createDecipheriv("aes-256-gcm", key, ct.subarray(0, 12));
    d.setAuthTag(ct.subarray(-16));
    expect(Buffer.concat([d.update(ct.subarray(12, -16)), d.final()]).toString()).toBe("out");
    expect((data(await call("read", "export/signing-key/e/latest")).keys as Record<string, string>)["1"]).toMatch(/^-----BEGIN EC PRIVATE KEY-----/);
    expect((data(await call("read", "export/signing-key/r")).keys as Record<string, string>)["1"]).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
    expect((data(await call("read", "export/public-key/e")).keys as Record<string, string>)["1"]).toMatch(/^-----BEGIN PUBLIC KEY-----/);
  });

  it("exports no version below min_decryption_version (OpenBao's 400)", async () => {
    const { call, fails } = transit();
    await call("write", "keys/m", { type: "ecdsa-p256", exportable: true });
    await call("write", "keys/m/rotate");
    await call("write", "keys/m/rotate");
    await call("write", "keys/m/config", { min_decryption_version: 2 });
    for (const type of ["signing-key", "public-key"]) {
      const err = await fails("read", `export/${type}/m/1`);
      expect(err.status).toBe(400);
      expect(err.message).toBe("version for export is below minimum decryption version");
      expect(Object.keys(data(await call("read", `export/${type}/m`)).keys as Record<string, string>).sort()).toEqual(["2", "3"]);
      expect(Object.keys(data(await call("read", `export/${type}/m/2`)).keys as Record<string, string>)).toEqual(["2"]);
    }
  });

  it("backs up and restores keys that allow it", async () => {
    const { call, fails } = transit();
    await call("write", "keys/k", { exportable: true, allow_plaintext_backup: true });
    await call("write", "keys/no");
    expect((await fails("read", "backup/no")).status).toBe(400);
    const ct = data(await call("write", "encrypt/k", { plaintext: b64("keep") })).ciphertext;
    const backup = data(await call("read", "backup/k")).backup as string;
    expect((await fails("write", "restore", { backup })).message).toMatch(/already exists/);
    await call("write", "restore/copy", { backup });
    expect(data(await call("write", "decrypt/copy", { ciphertext: ct })).plaintext).toBe(b64("keep"));
    expect((await fails("write", "restore/x", { backup: b64("{}") })).status).toBe(400);
    expect((await fails("write", "restore/x", { backup: "###" })).status).toBe(400);
    await call("write", "restore", { backup, force: true });
  });

  it("refuses a backup whose key material is corrupt, so a restored key never fails on use", async () => {
    const { call, fails } = transit();
    const blobOf = (b: string) => JSON.parse(Buffer.from(b, "base64").toString()) as { policy: { keys: Record<string, Record<string, unknown>>; latestVersion: number } };
    const encode = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64");
    for (const type of ["aes256-gcm96", "ecdsa-p256", "ed25519", "rsa-2048", "hmac"]) {
      await call("write", `keys/c-${type}`, { type, exportable: true, allow_plaintext_backup: true });
      const good = data(await call("read", `backup/c-${type}`)).backup as string;
      const field = type.startsWith("aes") || type === "hmac" ? "key" : "privateKey";
      const corruptions: Array<(v: Record<string, unknown>) => void> = [
        (v) => (v[field] = Buffer.from("short").toString("base64")),
        (v) => (v[field] = "!!not base64!!"),
        (v) => (v[field] = Buffer.alloc(600, 7).toString("base64")),
      ];
      for (const corrupt of corruptions) {
        const blob = blobOf(good);
        corrupt(blob.policy.keys["1"]);
        const err = await fails("write", `restore/r-${type}`, { backup: encode(blob) });
        expect(err.status, `${type}: ${err.message}`).toBe(400);
        expect(err.message).toMatch(/^invalid backup: version 1: /);
      }
      const lying = blobOf(good);
      lying.policy.latestVersion = 5;
      expect((await fails("write", `restore/r-${type}`, { backup: encode(lying) })).status).toBe(400);
      // A public key that does not belong to the private one is replaced by the derived one.
      const mismatched = blobOf(good);
      if (field === "privateKey") mismatched.policy.keys["1"].publicKey = Buffer.alloc(10).toString("base64");
      await call("write", `restore/ok-${type}`, { backup: encode(mismatched) });
      expect((await call("read", `keys/ok-${type}`))?.data).toBeDefined();
    }
  });

  it("returns random bytes and hashes", async () => {
    const { call, fails } = transit();
    expect(Buffer.from(data(await call("write", "random")).random_bytes as string, "base64")).toHaveLength(32);
    expect(data(await call("write", "random/16", { format: "hex" })).random_bytes).toMatch(/^[0-9a-f]{32}$/);
    expect(Buffer.from(data(await call("write", "random/all/8")).random_bytes as string, "base64")).toHaveLength(8);
    expect((await fails("write", "random", { bytes: 1 << 20 })).status).toBe(400);
    expect(data(await call("write", "hash", { input: b64("abc") })).sum).toBe(createHash("sha256").update("abc").digest("hex"));
    expect(data(await call("write", "hash/sha3-512", { input: b64("abc"), format: "base64" })).sum).toBe(createHash("sha3-512").update("abc").digest("base64"));
    expect((await fails("write", "hash", { input: "***" })).status).toBe(400);
  });
});

describe("transit: BYOK import", () => {
  /** Wraps key material as a BYOK client does: RSA-OAEP-SHA256(ephemeral AES-256) ‖ AES-KWP(ephemeral)(key). */
  function wrapForImport(wrappingPem: string, material: Buffer): string {
    const ephemeral = randomBytes(32);
    const head = publicEncrypt({ key: wrappingPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, ephemeral);
    const kwp = createCipheriv("id-aes256-wrap-pad", ephemeral, Buffer.from("A65959A6", "hex"));
    return Buffer.concat([head, kwp.update(material), kwp.final()]).toString("base64");
  }

  it("imports AES and ECDSA keys and new versions, and refuses tampered material", async () => {
    const { call, fails, snapshot } = transit();
    const pem = data(await call("read", "wrapping_key")).public_key as string;
    expect(createPublicKey(pem).asymmetricKeyDetails?.modulusLength).toBe(4096);
    expect(data(await call("read", "wrapping_key")).public_key).toBe(pem);

    const aes = randomBytes(32);
    const imp = data(await call("write", "keys/imp/import", { ciphertext: wrapForImport(pem, aes), exportable: true }));
    expect(imp).toMatchObject({ imported_key: true, latest_version: 1, type: "aes256-gcm96" });
    expect((data(await call("read", "export/encryption-key/imp/1")).keys as Record<string, string>)["1"]).toBe(aes.toString("base64"));
    expect((await fails("write", "keys/imp/import", { ciphertext: wrapForImport(pem, aes) })).status).toBe(400);
    expect((await fails("write", "keys/imp/rotate")).message).toMatch(/do not allow rotation/);

    const aes2 = randomBytes(32);
    expect(data(await call("write", "keys/imp/import_version", { ciphertext: wrapForImport(pem, aes2) })).latest_version).toBe(2);
    expect((data(await call("read", "export/encryption-key/imp/2")).keys as Record<string, string>)["2"]).toBe(aes2.toString("base64"));

    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
    await call("write", "keys/ec/import", { type: "ecdsa-p256", ciphertext: wrapForImport(pem, ec.privateKey.export({ type: "pkcs8", format: "der" })) });
    const s = data(await call("write", "sign/ec", { input: b64("m") })).signature as string;
    expect(cryptoVerify("sha256", Buffer.from("m"), ec.publicKey, sigBytes(s))).toBe(true);

    const before = await snapshot();
    const good = Buffer.from(wrapForImport(pem, randomBytes(32)), "base64");
    good[good.length - 3] ^= 0xff;
    expect((await fails("write", "keys/t/import", { ciphertext: good.toString("base64") })).message).toMatch(/integrity/);
    expect((await fails("write", "keys/t/import", { ciphertext: wrapForImport(pem, randomBytes(16)) })).message).toMatch(/32 bytes/);
    expect((await fails("write", "keys/t/import", { type: "rsa-2048", ciphertext: wrapForImport(pem, ec.privateKey.export({ type: "pkcs8", format: "der" })) })).message).toMatch(/not a rsa-2048/);
    expect((await fails("write", "keys/t/import", { ciphertext: b64("short") })).status).toBe(400);
    expect((await fails("write", "keys/t/import", { ciphertext: wrapForImport(pem, randomBytes(32)), hash_function: "SHA1" })).status).toBe(400);
    expect(await snapshot()).toBe(before);
  });
});
