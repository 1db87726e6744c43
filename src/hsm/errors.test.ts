import { describe, expect, it } from "vitest";
import {
  CKR,
  ckrName,
  HsmAmbiguousKeyError,
  HsmConfigError,
  HsmDecryptError,
  HsmKeyNotFoundError,
  HsmKeyUsageError,
  HsmOperationError,
  HsmPinError,
  HsmUnavailableError,
  HsmUnsupportedError,
  isAlreadyLoggedIn,
  mapPkcs11Error,
} from "./errors.js";
import { KeyConfigError, KeyDecryptError, KeyError, KeyNotFoundError, KeyReferenceError, KeyUnavailableError, KeyUnsupportedError, KeyUsageError } from "./key-errors.js";
import { Pkcs11UriError } from "./uri.js";

/** Shaped like pkcs11js's Pkcs11Error: message is the CKR name, code the number. */
function p11err(code: number): Error & { code: number } {
  return Object.assign(new Error(ckrName(code)), { code });
}

describe("mapPkcs11Error", () => {
  const cases: Array<[number, boolean, new (...a: never[]) => Error]> = [
    [CKR.PIN_INCORRECT, false, HsmPinError],
    [CKR.PIN_LOCKED, false, HsmPinError],
    [CKR.PIN_EXPIRED, false, HsmPinError],
    [CKR.DEVICE_REMOVED, false, HsmUnavailableError],
    [CKR.TOKEN_NOT_PRESENT, false, HsmUnavailableError],
    [CKR.SESSION_HANDLE_INVALID, false, HsmUnavailableError],
    [CKR.SESSION_CLOSED, false, HsmUnavailableError],
    [CKR.DEVICE_ERROR, false, HsmUnavailableError],
    [CKR.CRYPTOKI_NOT_INITIALIZED, false, HsmUnavailableError],
    [CKR.GENERAL_ERROR, true, HsmDecryptError],
    [CKR.ENCRYPTED_DATA_INVALID, true, HsmDecryptError],
    [CKR.GENERAL_ERROR, false, HsmOperationError],
    [CKR.OBJECT_HANDLE_INVALID, false, HsmKeyNotFoundError],
    [CKR.KEY_HANDLE_INVALID, false, HsmKeyNotFoundError],
    [CKR.KEY_UNEXTRACTABLE, false, HsmKeyUsageError],
    [CKR.MECHANISM_INVALID, false, HsmUnsupportedError],
    [0x12345, false, HsmOperationError],
  ];
  it.each(cases)("CKR 0x%s (decrypt=%s)", (code, decrypt, cls) => {
    const m = mapPkcs11Error(p11err(code), { fn: "C_X", decrypt });
    expect(m).toBeInstanceOf(cls);
    expect(m.ckr).toBe(code);
    expect(m.fn).toBe("C_X");
  });

  it("a PIN error during decrypt is still a PIN error (never retried)", () => {
    expect(mapPkcs11Error(p11err(CKR.PIN_INCORRECT), { fn: "C_Decrypt", decrypt: true })).toBeInstanceOf(HsmPinError);
  });

  it("non-PKCS#11 errors become HsmOperationError; HsmErrors pass through", () => {
    expect(mapPkcs11Error(new TypeError("bad arg"), { fn: "C_Sign" })).toBeInstanceOf(HsmOperationError);
    const e = new HsmPinError("x");
    expect(mapPkcs11Error(e, { fn: "C_Login" })).toBe(e);
  });

  it("CKR_USER_ALREADY_LOGGED_IN is success", () => {
    expect(isAlreadyLoggedIn(p11err(CKR.USER_ALREADY_LOGGED_IN))).toBe(true);
    expect(isAlreadyLoggedIn(p11err(CKR.PIN_INCORRECT))).toBe(false);
  });

  it("messages name the function and code, nothing else", () => {
    const m = mapPkcs11Error(p11err(CKR.PIN_INCORRECT), { fn: "C_Login" });
    expect(m.message).toBe("C_Login: CKR_PIN_INCORRECT (not retried)");
    expect(ckrName(0x999)).toBe("CKR_0x999");
  });
});

describe("PKCS#11 errors are the seam's errors", () => {
  // Engines catch only the seam's classes (key-errors.ts), so each PKCS#11 class must be its seam class.
  const cases: Array<[Error, new (...a: never[]) => Error]> = [
    [new HsmKeyNotFoundError("x"), KeyNotFoundError],
    [new HsmKeyUsageError("x"), KeyUsageError],
    [new HsmDecryptError("x"), KeyDecryptError],
    [new HsmUnavailableError("x"), KeyUnavailableError],
    [new HsmUnsupportedError("x"), KeyUnsupportedError],
    [new HsmConfigError("x"), KeyConfigError],
    [new HsmAmbiguousKeyError("x"), KeyConfigError],
    [new Pkcs11UriError("x"), KeyReferenceError],
    [new HsmPinError("x"), KeyError],
    [new HsmOperationError("x"), KeyError],
  ];
  it.each(cases)("%s", (err, seam) => {
    expect(err).toBeInstanceOf(seam);
    expect(err).toBeInstanceOf(KeyError);
    expect(err.name).toBe(err.constructor.name);
  });

  it("a PIN error is not 'unavailable' (it is never retried), and keeps its PKCS#11 detail", () => {
    const e = mapPkcs11Error(p11err(CKR.PIN_INCORRECT), { fn: "C_Login" });
    expect(e).not.toBeInstanceOf(KeyUnavailableError);
    expect(e.ckr).toBe(CKR.PIN_INCORRECT);
    expect(e.fn).toBe("C_Login");
  });
});
