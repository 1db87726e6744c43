import { mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { HsmConfigError } from "./errors.js";
import { HsmRegistry, parseHsmFlag, type HsmDeclaration } from "./hsm-registry.js";
import type { P11 } from "./module.js";
import { parsePkcs11Uri } from "./uri.js";

// Library files that exist (the registry realpaths them) but are never dlopen'ed: a fake binding records logins.
const dir = mkdtempSync(join(tmpdir(), "arca-hsm-registry-"));
const libA = join(dir, "libvendora.so");
const libB = join(dir, "libvendorb.so.2");
writeFileSync(libA, "");
writeFileSync(libB, "");
const libALink = join(dir, "link-to-a.so");
symlinkSync(libA, libALink);

const pins: string[] = [];
const binding = (): P11 =>
  ({
    C_Initialize() {},
    C_GetSlotList: () => [Buffer.from([1])],
    C_GetTokenInfo: () => ({ label: "T".padEnd(32), serialNumber: "SER1", manufacturerID: "", model: "", flags: 0x400 }),
    C_OpenSession: () => Buffer.from([1]),
    C_CloseSession() {},
    C_Login(_s: Buffer, _u: number, pin: string) {
      pins.push(pin);
    },
    // Only the calls a connect makes are faked; the cast is the narrow-interface seam.
  }) as unknown as P11;

const decl = (d: Partial<HsmDeclaration>): HsmDeclaration => ({ name: "a", lib: libA, tokenLabel: "T", pin: "1111", ...d });

afterEach(() => {
  pins.length = 0;
});

describe("HsmRegistry.declarationFor", () => {
  const reg = new HsmRegistry([
    decl({ name: "a" }),
    decl({ name: "b", lib: libB, tokenLabel: "U", pin: undefined, pinEnv: "ARCA_TEST_PIN" }),
    decl({ name: "c", lib: libB, tokenLabel: undefined, serial: "SER9" }),
  ]);
  const pick = (uri: string) => reg.declarationFor(parsePkcs11Uri(uri)).name;

  it("selects by token label or serial", () => {
    expect(pick("pkcs11:token=T;object=k")).toBe("a");
    expect(pick("pkcs11:token=U;object=k")).toBe("b");
    expect(pick("pkcs11:serial=SER9;object=k")).toBe("c");
  });

  it("refuses a module-path no declaration allows (loading a library is code execution)", () => {
    expect(() => pick("pkcs11:token=T;object=k?module-path=/tmp/evil.so")).toThrow(HsmConfigError);
    expect(() => pick("pkcs11:token=T;object=k?module-path=" + libB)).toThrow(HsmConfigError);
  });

  it("accepts a declared module-path, also through a symlink, and module-name", () => {
    expect(pick(`pkcs11:token=T;object=k?module-path=${libA}`)).toBe("a");
    expect(pick(`pkcs11:token=T;object=k?module-path=${libALink}`)).toBe("a");
    expect(pick("pkcs11:token=T;object=k?module-name=vendora")).toBe("a");
    expect(() => pick("pkcs11:token=T;object=k?module-name=other")).toThrow(HsmConfigError);
  });

  it("refuses unknown tokens and ambiguity", () => {
    expect(() => pick("pkcs11:token=nope;object=k")).toThrow(HsmConfigError);
    expect(() => pick("pkcs11:object=k")).toThrow(HsmConfigError);
  });

  it("validates declarations", () => {
    expect(() => new HsmRegistry([decl({}), decl({})])).toThrow(/twice/);
    expect(() => new HsmRegistry([decl({ tokenLabel: undefined })])).toThrow(HsmConfigError);
    expect(() => new HsmRegistry([decl({ pinFile: "/x" })])).toThrow(/only one/);
    expect(() => new HsmRegistry([decl({ pin: undefined })])).toThrow(/PIN|pin/);
  });
});

describe("PINs", () => {
  it("ignores pin-value in an API-supplied URI unless allowUriPin", async () => {
    const reg = new HsmRegistry([decl({ name: "strict" })], { binding });
    await reg.tokenForUri(parsePkcs11Uri("pkcs11:token=T;object=k?pin-value=9999")).connect();
    expect(pins).toEqual(["1111"]);
    reg.close();
  });

  it("uses the URI PIN where the declaration allows it", async () => {
    const lib = join(dir, "libvendorc.so");
    writeFileSync(lib, "");
    const reg = new HsmRegistry([decl({ name: "dev", lib, allowUriPin: true, pin: undefined })], { binding });
    await reg.tokenForUri(parsePkcs11Uri("pkcs11:token=T;object=k?pin-value=9999")).connect();
    expect(pins).toEqual(["9999"]);
    reg.close();
  });

  it("reads pinFile and pinEnv", async () => {
    const file = join(dir, "pin");
    writeFileSync(file, "2222\n");
    const libD = join(dir, "libvendord.so");
    const libE = join(dir, "libvendore.so");
    writeFileSync(libD, "");
    writeFileSync(libE, "");
    process.env.ARCA_TEST_PIN_X = "3333";
    const reg = new HsmRegistry(
      [decl({ name: "f", lib: libD, pin: undefined, pinFile: file }), decl({ name: "e", lib: libE, pin: undefined, pinEnv: "ARCA_TEST_PIN_X" })],
      { binding },
    );
    await reg.token("f").connect();
    await reg.token("e").connect();
    expect(pins).toEqual(["2222", "3333"]);
    reg.close();
  });
});

describe("parseHsmFlag", () => {
  it("parses the dev flag into a declaration", () => {
    expect(parseHsmFlag("pkcs11:token=T?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234")).toEqual({
      name: "dev",
      lib: "/usr/lib/softhsm/libsofthsm2.so",
      tokenLabel: "T",
      pin: "1234",
    });
    expect(parseHsmFlag("pkcs11:serial=abc?module-path=/x.so&pin-source=file:/run/pin", "hsm1")).toEqual({
      name: "hsm1",
      lib: "/x.so",
      serial: "abc",
      pinFile: "/run/pin",
    });
  });

  it.each([
    ["pkcs11:token=T?pin-value=1", "no module-path"],
    ["pkcs11:object=k?module-path=/x.so&pin-value=1", "no token"],
    ["pkcs11:token=T?module-path=/x.so", "no PIN"],
    ["pkcs11:token=T;object=k?module-path=/x.so&pin-value=1", "names a key"],
  ])("rejects %s (%s)", (flag) => {
    expect(() => parseHsmFlag(flag)).toThrow(HsmConfigError);
  });
});
