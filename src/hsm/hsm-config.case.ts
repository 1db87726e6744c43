/**
 * What every configuration file with `hsm` blocks must accept and refuse (the server's and the
 * unsealer's both parse them with hsm-config.ts). Call it from the file's own config test with a function
 * that parses a whole, otherwise valid configuration around the given `hsm` blocks and returns its HSMs;
 * a refusal must reject with an error whose `field` names the setting.
 */
import { describe, expect, it } from "vitest";
import type { HsmBlockConfig } from "./hsm-config.js";

export type ParseHsms = (hsmBlocks: string) => Promise<readonly HsmBlockConfig[]>;

const LIB = "/usr/lib/softhsm/libsofthsm2.so";
const block = (name: string, body: string): string => `hsm "${name}" {\n  lib = "${LIB}"\n${body}\n}\n`;

async function refusal(parse: ParseHsms, text: string): Promise<Error & { field?: string }> {
  try {
    await parse(text);
  } catch (err) {
    if (err instanceof Error) return err;
    throw err;
  }
  throw new Error("the configuration was accepted");
}

export function hsmBlockConformance(name: string, parse: ParseHsms): void {
  describe(`hsm block: ${name}`, () => {
    it.each([
      ["pin_file", `token_label = "t"\n  pin_file = "/etc/arca/pin"`, { tokenLabel: "t", pinFile: "/etc/arca/pin" }],
      ["pin_env", `serial = "42"\n  pin_env = "ARCA_HSM_PIN"`, { serial: "42", pinEnv: "ARCA_HSM_PIN" }],
      ["an inline pin", `token_label = "t"\n  pin = "1234"`, { tokenLabel: "t", pin: "1234" }],
      // OpenBao's forms, as its pkcs11 seal block takes them.
      ["pin = file://", `token_label = "t"\n  pin = "file:///etc/arca/pin"`, { tokenLabel: "t", pinFile: "/etc/arca/pin" }],
      ["pin = env://", `token_label = "t"\n  pin = "env://ARCA_HSM_PIN"`, { tokenLabel: "t", pinEnv: "ARCA_HSM_PIN" }],
      ["max_sessions", `token_label = "t"\n  pin_env = "P"\n  max_sessions = 8`, { tokenLabel: "t", pinEnv: "P", maxSessions: 8 }],
    ])("accepts %s", async (_what, body, expected) => {
      expect(await parse(block("main", body))).toStrictEqual([{ name: "main", lib: LIB, ...expected }]);
    });

    it("keeps several HSMs in document order", async () => {
      const hsms = await parse(block("a", `token_label = "a"\n  pin_env = "A"`) + block("b", `token_label = "b"\n  pin_env = "B"`));
      expect(hsms.map((h) => h.name)).toEqual(["a", "b"]);
    });

    it.each([
      ["no PIN source", block("x", `token_label = "t"`), "hsm.x", /PIN source is required/],
      ["two PIN sources", block("x", `token_label = "t"\n  pin = "s3cr3t-pin"\n  pin_file = "/p"`), "hsm.x", /only one of pin/],
      ["pin = file:// and pin_env", block("x", `token_label = "t"\n  pin = "file:///p"\n  pin_env = "P"`), "hsm.x", /only one of pin/],
      ["file:// without a path", block("x", `token_label = "t"\n  pin = "file://"`), "hsm.x.pin", /needs a path/],
      ["env:// without a name", block("x", `token_label = "t"\n  pin = "env://"`), "hsm.x.pin", /needs a variable/],
      ["no lib", `hsm "x" {\n  token_label = "t"\n  pin_env = "P"\n}\n`, "hsm.x.lib", /is required/],
      ["no token_label or serial", block("x", `pin_env = "P"`), "hsm.x", /token_label or serial/],
      ["an unknown key", block("x", `token_label = "t"\n  pin_env = "P"\n  slot = 0`), "hsm.x.slot", /invalid key "slot"/],
      ["a bad name", block("a b", `token_label = "t"\n  pin_env = "P"`), "hsm.a b", /letters, digits/],
      ["max_sessions 0", block("x", `token_label = "t"\n  pin_env = "P"\n  max_sessions = 0`), "hsm.x.max_sessions", /1 to 1024/],
      ["a duplicate name", block("x", `token_label = "t"\n  pin_env = "P"`) + block("x", `serial = "2"`), "hsm.x", /duplicate/],
    ])("refuses %s", async (_what, text, field, message) => {
      const err = await refusal(parse, text);
      expect(err.field).toBe(field);
      expect(err.message).toMatch(message);
      expect(err.message).not.toContain("s3cr3t-pin");
    });
  });
}
