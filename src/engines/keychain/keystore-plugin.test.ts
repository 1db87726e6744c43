/**
 * The keychain engine with its L1 keys in an out-of-process keystore plugin: the repo's sample provider,
 * spawned as a real process and reached through the plugin protocol.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backendHarness } from "../../../test/backend-harness.js";
import { sampleProviderCommand } from "../../../test/keystore-plugins/sample-provider.js";
import { startKeystorePlugin } from "../../hsm/plugin/plugin-key-manager.js";
import type { KeyManager } from "../../hsm/key-manager.js";
import { createKeychainBackendWith } from "./backend.js";
import { KeystoreRegistry } from "./keystore.js";
import { pluginKeystoreType } from "./keystore-plugin.js";

describe("keychain on a keystore plugin", () => {
  let km: KeyManager;
  let h: ReturnType<typeof backendHarness>;
  let started = 0;

  beforeAll(async () => {
    const resolve = async (name: string) => {
      if (name !== "sample") return undefined;
      started++;
      km ??= await startKeystorePlugin({ name: "sample", command: sampleProviderCommand("software-not-hsm") });
      return km;
    };
    const backend = createKeychainBackendWith({ keystoreTypes: new KeystoreRegistry([pluginKeystoreType(resolve)]) });
    h = backendHarness(backend, { point: "kc/", type: "keychain" });
    await h.call("write", "keystores/vendor", { type: "plugin", plugin: "sample" });
    await h.call("write", "keys/k1", { keystore: "vendor" });
    await h.call("write", "key-configurations/c1", { primary_key: "k1" });
    await h.call("write", "systems/s1", { key_configuration: "c1", region: "eu" });
  });
  afterAll(async () => {
    await h?.close();
    await km?.close();
  });

  it("keeps L1 in the plugin: the key's native id is the plugin's URI, data keys round trip", async () => {
    expect((await h.call("read", "keystores/vendor"))?.data).toMatchObject({ type: "plugin" });
    const key = (await h.call("read", "keys/k1"))?.data as { state: string; native_id?: string };
    expect(key.state).toBe("ENABLED");
    const dk = (await h.call("update", "systems/s1/datakey", { bits: 256 }))?.data as { plaintext: string; ciphertext: string };
    const back = (await h.call("update", "systems/s1/decrypt", { ciphertext: dk.ciphertext }))?.data as { plaintext: string };
    expect(back.plaintext).toBe(dk.plaintext);
    expect(started).toBeGreaterThan(0);
  });

  it("revoke still cuts the chain off; enable restores it", async () => {
    await h.call("write", "systems/s2", { key_configuration: "c1", region: "eu" });
    const dk = (await h.call("update", "systems/s2/datakey", { bits: 256 }))?.data as { plaintext: string; ciphertext: string };
    await h.call("update", "keys/k1/revoke", {});
    const refused = await h.fails("update", "systems/s2/decrypt", { ciphertext: dk.ciphertext });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(refused.status).toBeLessThan(500);
    await h.call("update", "keys/k1/enable", {});
    expect(((await h.call("update", "systems/s2/decrypt", { ciphertext: dk.ciphertext }))?.data as { plaintext: string }).plaintext).toBe(dk.plaintext);
  });

  it("refuses a plugin the server does not declare, or none", async () => {
    for (const [body, message] of [
      [{ type: "plugin", plugin: "not-declared" }, /no keystore plugin "not-declared"/],
      [{ type: "plugin", plugin: "/usr/bin/evil" }, /plugin is required/],
      [{ type: "plugin" }, /plugin is required/],
    ] as const) {
      const err = await h.fails("write", "keystores/rogue", body);
      expect(err.status).toBe(400);
      expect(err.message).toMatch(message);
    }
  });
});
