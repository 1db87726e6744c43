/** A world-readable config file holding an HSM PIN (or PIN file) is warned about when the server loads it. */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadServerConfig } from "./config.js";
import { pinExposureWarnings, pinSourcesOf } from "./pin-exposure.js";

const dir = mkdtempSync(join(tmpdir(), "arca-pin-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configFile(name: string, text: string, mode: number): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

const STORAGE = `storage "sqlite" { path = "x.db" }\nlistener "tcp" {\n  address = "127.0.0.1:8200"\n  tls_disable = true\n}\n`;

describe("HSM PIN exposure", () => {
  it("warns when the server config holds a PIN and everyone can read it", async () => {
    const text = `${STORAGE}hsm "soft" {\n  lib = "/usr/lib/softhsm/libsofthsm2.so"\n  token_label = "t"\n  pin = "1234"\n}\n`;
    const open = await loadServerConfig(configFile("open.hcl", text, 0o644));
    expect(open.warnings.join("\n")).toMatch(/holds an HSM PIN and is readable by every user/);
    expect(open.warnings.join("\n")).not.toContain("1234");
    const closed = await loadServerConfig(configFile("closed.hcl", text, 0o640));
    expect(closed.warnings.join("\n")).not.toMatch(/PIN/);
  });

  it("warns about a world-readable PIN file, and not about a config without a PIN", async () => {
    const pinFile = configFile("pin", "1234\n", 0o644);
    const text = `${STORAGE}hsm "soft" {\n  lib = "/usr/lib/softhsm/libsofthsm2.so"\n  token_label = "t"\n  pin_file = "${pinFile}"\n}\n`;
    const warnings = (await loadServerConfig(configFile("file.hcl", text, 0o644))).warnings.join("\n");
    expect(warnings).toContain(`the HSM PIN file ${pinFile} is readable by every user`);
    expect(warnings).not.toMatch(/holds an HSM PIN/);
  });

  it("finds PINs in seal parameters and PKCS#11 URIs", () => {
    expect(pinSourcesOf([], [{ pin: "1234" }])).toEqual({ inline: true, files: [] });
    expect(pinSourcesOf([], [{ pin: "env://PIN" }])).toEqual({ inline: false, files: [] });
    expect(pinSourcesOf([], [{ pin: "file:///etc/pin" }])).toEqual({ inline: false, files: ["/etc/pin"] });
    expect(pinSourcesOf([], [{ key: "pkcs11:token=t;object=k?pin-value=1234" }])).toEqual({ inline: true, files: [] });
    expect(pinExposureWarnings(join(dir, "missing.hcl"), { inline: true, files: [] })).toEqual([]);
  });
});
