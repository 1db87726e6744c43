/**
 * A server with a `keystore_plugin` block: the keychain's L1 keys in the sample provider process, through
 * the HTTP API, and the config block read from a server configuration file.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, quietLogger } from "../../../test/servers.js";
import { sampleProviderCommand } from "../../../test/keystore-plugins/sample-provider.js";
import { parseServerConfig } from "../../server/config.js";
import { startDevServer, type RunningServer } from "../../server/server.js";

describe("keychain with a keystore_plugin declared on the server", () => {
  let server: RunningServer;
  const call = (method: string, path: string, body?: unknown) => api(server.url, method, path, { token: server.rootToken!, ...(body !== undefined ? { body } : {}) });

  beforeAll(async () => {
    server = await startDevServer({
      listenAddress: "127.0.0.1:0",
      logger: quietLogger,
      keystorePlugins: [{ name: "sample", command: sampleProviderCommand("software-not-hsm") }],
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("makes and opens data keys under an L1 key held by the plugin", async () => {
    expect((await call("POST", "sys/mounts/keychain", { type: "keychain" })).status).toBe(204);
    const ks = await call("POST", "keychain/keystores/vendor", { type: "plugin", plugin: "sample" });
    expect(ks.status).toBe(204);
    expect((await call("GET", "keychain/keystores/vendor")).body?.data).toMatchObject({ type: "plugin" });
    expect((await call("POST", "keychain/keys/k1", { keystore: "vendor" })).status).toBe(204);
    expect((await call("POST", "keychain/key-configurations/c1", { primary_key: "k1" })).status).toBe(204);
    expect((await call("POST", "keychain/systems/s1", { key_configuration: "c1", region: "eu" })).status).toBe(204);
    const dk = (await call("POST", "keychain/systems/s1/datakey", { bits: 256 })).body?.data as { plaintext: string; ciphertext: string };
    expect((await call("POST", "keychain/systems/s1/decrypt", { ciphertext: dk.ciphertext })).body?.data).toEqual({ plaintext: dk.plaintext });
  });

  it("refuses a plugin that is not declared with a 400 in the API envelope", async () => {
    await call("POST", "sys/mounts/kc2", { type: "keychain" });
    const r = await call("POST", "kc2/keystores/rogue", { type: "plugin", plugin: "elsewhere" });
    expect(r.status).toBe(400);
    expect(r.body?.errors).toEqual([expect.stringContaining('no keystore plugin "elsewhere"')]);
  });

  it("reads keystore_plugin blocks from the server configuration", async () => {
    const base = `storage "sqlite" { path = "/tmp/x.db" }\nlistener "tcp" {\n  address = "127.0.0.1:0"\n  tls_disable = true\n}\n`;
    const config = await parseServerConfig(`${base}keystore_plugin "vendor" {\n  command = ["/usr/libexec/arca-vendor"]\n  call_timeout = 3\n}`);
    expect(config.keystorePlugins).toEqual([{ name: "vendor", command: ["/usr/libexec/arca-vendor"], callTimeoutMs: 3000 }]);
    await expect(parseServerConfig(`${base}keystore_plugin "v" { command = ["relative"] }`)).rejects.toMatchObject({ field: "keystore_plugin.v.command" });
  });
});
