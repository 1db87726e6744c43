// The `keychain` block: where HYOK (transit) keystores may make the server connect.
import { describe, expect, it } from "vitest";
import { ConfigError, parseServerConfig } from "./config.js";

const BASE = `
storage "sqlite" { path = "/tmp/arca.db" }
listener "tcp" {
  address = "127.0.0.1:8200"
  tls_disable = true
}
`;

describe("keychain config block", () => {
  it("is optional: no block, no widening (strict default applies in the engine)", async () => {
    expect((await parseServerConfig(BASE)).keychainOutbound).toBeUndefined();
  });

  it("reads allow_insecure_transit and allowed_keystore_networks", async () => {
    const c = await parseServerConfig(`${BASE}\nkeychain {\n  allow_insecure_transit = true\n  allowed_keystore_networks = ["127.0.0.0/8", "fd12::/16"]\n}\n`);
    expect(c.keychainOutbound).toEqual({ allowHttp: true, allowedNetworks: ["127.0.0.0/8", "fd12::/16"] });
  });

  it("refuses a typo and a bad network at start-up", async () => {
    await expect(parseServerConfig(`${BASE}\nkeychain {\n  allow_insecure_transits = true\n}\n`)).rejects.toBeInstanceOf(ConfigError);
    await expect(parseServerConfig(`${BASE}\nkeychain {\n  allowed_keystore_networks = ["10.0.0.0/33"]\n}\n`)).rejects.toThrow(/bad prefix/);
    await expect(parseServerConfig(`${BASE}\nkeychain {\n  allowed_keystore_networks = ["intranet"]\n}\n`)).rejects.toThrow(/not an address/);
  });
});
