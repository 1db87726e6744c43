// `seal "pkcs11"` block parsing: OpenBao's fields, our key URI, and the refusals.
import { describe, expect, it } from "vitest";
import { parsePkcs11SealParams } from "./pkcs11.js";

const lib = "/usr/lib/softhsm/libsofthsm2.so";

describe("seal pkcs11 parameters", () => {
  it("reads OpenBao's fields, pin sources and mechanism aliases", () => {
    const { spec, declaration } = parsePkcs11SealParams("pkcs11", { lib, token_label: "T", pin: "env://HSM_PIN", key_label: "k", key_id: "0x3333", mechanism: "0x1087" }, []);
    expect(declaration).toEqual({ name: "seal-pkcs11", lib, tokenLabel: "T", pinEnv: "HSM_PIN" });
    expect(spec.mechanism).toBe("CKM_AES_GCM");
    expect(spec.keyUri).toContain("object=k");
    expect(spec.keyUri).toContain("id=%33%33");
    expect(spec.keyUri).not.toContain("pin");
    expect(parsePkcs11SealParams("p", { lib, token_label: "T", pin: "file:///etc/pin", key_label: "k", mechanism: "CKM_RSA_PKCS_OAEP", rsa_oaep_hash: "SHA1" }, []).declaration?.pinFile).toBe("/etc/pin");
    expect(parsePkcs11SealParams("p", { lib, token_label: "T", pin: "1", key_label: "k", mechanism: "rsa_pkcs_oaep" }, []).spec.mechanism).toBe("CKM_RSA_PKCS_OAEP");
  });

  it("resolves key = pkcs11:… against declared hsm blocks and keeps the PIN out of the URI", () => {
    const declared = [{ name: "main", lib, tokenLabel: "T", pin: "1234" }];
    const { spec, declaration } = parsePkcs11SealParams("s", { key: "pkcs11:token=T;object=seal", generate_key: "true" }, declared);
    expect(declaration).toBeUndefined();
    expect(spec).toMatchObject({ hsm: "main", generateKey: true, keyLabel: "seal" });
    expect(() => parsePkcs11SealParams("s", { key: "pkcs11:token=Other;object=seal" }, declared)).toThrow(/no declared hsm/);
    expect(() => parsePkcs11SealParams("s", { key: "pkcs11:token=T;object=seal?pin-value=1234" }, declared)).toThrow(/PIN belongs in the hsm block/);
  });

  it("refuses what it cannot honour", () => {
    expect(() => parsePkcs11SealParams("s", { lib, slot: "2305843009213693953", pin: "1", key_label: "k" }, [])).toThrow(/token_label/);
    expect(() => parsePkcs11SealParams("s", { lib, token_label: "T", pin: "1", key_label: "k", mechanism: "CKM_AES_CBC" }, [])).toThrow(/unsupported mechanism/);
    expect(() => parsePkcs11SealParams("s", { lib, token_label: "T", pin: "1", key_label: "k", key_id: "01", generate_key: true }, [])).toThrow(/generate_key/);
    expect(() => parsePkcs11SealParams("s", { lib, token_label: "T", key_label: "k" }, [])).toThrow(/pin is required/);
  });
});
