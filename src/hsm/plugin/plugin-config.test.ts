import { describe, expect, it } from "vitest";
import { parseHcl } from "../../common/hcl/hcl.js";
import { parseKeystorePluginBlocks } from "./plugin-config.js";

class Refused extends Error {
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
  }
}

async function parse(text: string) {
  return parseKeystorePluginBlocks(await parseHcl(text), (field, message) => {
    throw new Refused(field, message);
  });
}

describe("keystore_plugin blocks", () => {
  it("reads a spawned plugin and a socket plugin", async () => {
    const text = `
keystore_plugin "vendor" {
  command = ["/usr/libexec/arca-vendor", "--region", "eu"]
  env = { VENDOR_CONFIG = "/etc/arca/vendor.json" }
  call_timeout = 5
}
keystore_plugin "external" {
  socket = "/run/arca/ext.sock"
  start_timeout = 2.5
}`;
    // Plugins are found by name: the order of blocks carries no meaning.
    const plugins = (await parse(text)).sort((a, b) => b.name.localeCompare(a.name));
    expect(plugins).toStrictEqual([
      { name: "vendor", command: ["/usr/libexec/arca-vendor", "--region", "eu"], env: { VENDOR_CONFIG: "/etc/arca/vendor.json" }, callTimeoutMs: 5000 },
      { name: "external", socket: "/run/arca/ext.sock", startTimeoutMs: 2500 },
    ]);
    expect(await parse("")).toStrictEqual([]);
  });

  it.each([
    ["both command and socket", `command = ["/bin/p"]\n socket = "/run/s"`, "keystore_plugin.p"],
    ["neither", `call_timeout = 3`, "keystore_plugin.p"],
    ["a relative program", `command = ["plugin"]`, "keystore_plugin.p.command"],
    ["an empty command", `command = []`, "keystore_plugin.p.command"],
    ["a relative socket", `socket = "run/s"`, "keystore_plugin.p.socket"],
    ["env for a socket plugin", `socket = "/run/s"\n env = { A = "b" }`, "keystore_plugin.p.env"],
    ["a zero timeout", `socket = "/run/s"\n call_timeout = 0`, "keystore_plugin.p.call_timeout"],
    ["an unknown key", `socket = "/run/s"\n sockett = "/x"`, "keystore_plugin.p"],
  ])("refuses %s, naming the field", async (_what, body, field) => {
    await expect(parse(`keystore_plugin "p" {\n ${body}\n}`)).rejects.toMatchObject({ field: expect.stringContaining(field) as unknown });
  });

  it("refuses duplicate names", async () => {
    await expect(parse(`keystore_plugin "p" { socket = "/a" }\nkeystore_plugin "p" { socket = "/b" }`)).rejects.toThrow(/duplicate/);
  });
});
