// One mapping of key-manager seam errors for every engine: the same seam error, thrown by the key manager
// while transit signs and while PKI issues, is the same API error (kind and status) in both, and is what
// keyErrorToArca says. Before the seam had one helper, PKI let these through as 500s and transit made its own.
import type { KeyObject } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { backendHarness } from "../../test/backend-harness.js";
import { createTransitBackendWith } from "../engines/transit/backend.js";
import { pkiHarness } from "../engines/pki/pki-harness.test-util.js";
import { HsmKeyNotFoundError, HsmPinError, HsmUnavailableError } from "../hsm/errors.js";
import { KeyConfigError, KeyDecryptError, KeyError, KeyNotFoundError, KeyReferenceError, KeyUnavailableError, KeyUnsupportedError, KeyUsageError } from "../hsm/key-errors.js";
import type { Signer } from "../hsm/key-manager.js";
import { SoftwareKeyManagerNotHsm } from "../hsm/software-key-manager.js";
import { ArcaError } from "../common/errors.js";
import { DECRYPT_FAILED, keyErrorToArca } from "./key-api-errors.js";
import { asNotUsable, KeyNotUsableError } from "./key-custody/key-custody.js";

/** A working software key manager that, once `failure` is set, fails every use of a key with it. */
class FailingKeyManager extends SoftwareKeyManagerNotHsm {
  failure: Error | undefined;

  private check(): void {
    if (this.failure) throw this.failure;
  }

  override async getPublicKey(uri: string): Promise<KeyObject> {
    this.check();
    return super.getPublicKey(uri);
  }

  override async createSigner(uri: string): Promise<Signer> {
    this.check();
    const inner = await super.createSigner(uri);
    // Signers outlive this call (PKI caches them): the failure applies to every later signature too.
    return { algorithm: inner.algorithm, publicKey: inner.publicKey, sign: async (data, opts) => (this.check(), inner.sign(data, opts)) };
  }
}

const CASES: [string, Error, number][] = [
  ["KeyNotFoundError", new KeyNotFoundError("key k not found"), 400],
  ["KeyUsageError", new KeyUsageError("a secret key cannot sign"), 400],
  ["KeyDecryptError", new KeyDecryptError("authentication failed"), 400],
  ["KeyUnsupportedError", new KeyUnsupportedError("no such mechanism"), 400],
  ["KeyConfigError", new KeyConfigError("several keys have this label"), 400],
  ["KeyReferenceError", new KeyReferenceError("malformed key URI"), 400],
  ["KeyUnavailableError", new KeyUnavailableError("device removed"), 502],
  ["KeyError (any other failure)", new KeyError("something else"), 502],
  ["HsmKeyNotFoundError (PKCS#11)", new HsmKeyNotFoundError("C_FindObjects: key k not found", { ckr: 0x82, fn: "C_FindObjects" }), 400],
  ["HsmUnavailableError (PKCS#11)", new HsmUnavailableError("C_Sign: HSM unavailable (CKR_DEVICE_REMOVED)", { ckr: 0x32, fn: "C_Sign" }), 502],
  ["HsmPinError (PKCS#11)", new HsmPinError("C_Login: CKR_PIN_INCORRECT (not retried)", { ckr: 0xa0, fn: "C_Login" }), 502],
  ["KeyNotUsableError (custody)", new KeyNotUsableError(), 400],
];

describe("keyErrorToArca: one mapping of seam errors for transit and PKI", () => {
  const km = new FailingKeyManager();
  const transit = backendHarness(createTransitBackendWith({ keyManager: km }), { point: "transit/", type: "transit" });
  const pki = pkiHarness(km);
  afterAll(async () => {
    await transit.close();
    await pki.close();
  });

  let ready: Promise<void> | undefined;
  /** An HSM-backed transit key and a PKI root whose key is in the key manager, made while it works. */
  function setUp(): Promise<void> {
    ready ??= (async () => {
      await transit.call("write", "keys/signer", { type: "ecdsa-p256", hsm: true });
      await pki.call("write", "root/generate/kms", { common_name: "Seam Root", ttl: "24h", key_type: "ec" });
      await pki.call("write", "roles/web", { allowed_domains: "example.com", allow_subdomains: true, key_type: "ec" });
      // Both work before the key manager starts failing.
      await transit.call("write", "sign/signer", { input: Buffer.from("x").toString("base64") });
      await pki.call("write", "issue/web", { common_name: "ok.example.com", ttl: "1h" });
    })();
    return ready;
  }

  it.each(CASES)("%s", async (_name, failure, status) => {
    await setUp();
    const expected = keyErrorToArca(failure, "x") as ArcaError;
    expect(expected).toBeInstanceOf(ArcaError);
    expect(expected.status).toBe(status);

    km.failure = failure;
    try {
      const t = await transit.fails("write", "sign/signer", { input: Buffer.from("x").toString("base64") });
      const p = await pki.fails("write", "issue/web", { common_name: "a.example.com", ttl: "1h" });
      for (const got of [t, p]) {
        expect(got.kind).toBe(expected.kind);
        expect(got.status).toBe(status);
        expect(got.cause).toBe(failure);
        expect(got.message).toContain(failure instanceof KeyDecryptError ? DECRYPT_FAILED : failure.message);
      }
    } finally {
      km.failure = undefined;
    }
  });

  it("leaves errors that are not the seam's alone", () => {
    const e = new TypeError("bug");
    expect(keyErrorToArca(e, "x")).toBe(e);
  });
});

describe("custody's 'not usable' reads as a missing key through the mapping", () => {
  const missing = keyErrorToArca(new KeyNotUsableError(), "x") as ArcaError;

  it.each([new KeyNotFoundError("key k not found"), new KeyUsageError("no CKA_ID"), new HsmPinError("C_Login: CKR_PIN_INCORRECT"), new KeyConfigError("ambiguous label")])(
    "%s",
    (err) => {
      const hidden = asNotUsable(err);
      expect(hidden).toBeInstanceOf(KeyNotUsableError);
      expect(hidden).toBeInstanceOf(KeyNotFoundError);
      const mapped = keyErrorToArca(hidden, "x") as ArcaError;
      expect([mapped.status, mapped.message]).toEqual([missing.status, missing.message]);
      expect(missing.status).toBe(400);
    },
  );

  it("an unavailable key store and a malformed reference keep their own answers", () => {
    for (const err of [new HsmUnavailableError("device removed"), new KeyReferenceError("not a PKCS#11 URI")]) expect(asNotUsable(err)).toBe(err);
  });
});
