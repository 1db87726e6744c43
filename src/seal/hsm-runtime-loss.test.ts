// The HSM goes away while the server runs, then comes back: HSM-backed calls fail with 502 meanwhile,
// sys/health, seal-status and metrics say the HSM is down, and once the token is back everything works
// again by itself, without a restart. Its own file (own process): recovery re-initialises the PKCS#11
// library, which SoftHSM needs to see a token directory that came back.
import { mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api } from "../../test/servers.js";
import { cleanupSoftHsm, createSoftHsmToken, softHsmAvailable, SOFTHSM_SKIP_REASON, type SoftHsmToken } from "../../test/softhsm.js";
import { eventually, sealedConfig, startSealed } from "../../test/hsm-servers.js";
import type { RunningServer } from "../server/server.js";

const available = softHsmAvailable();

describe.skipIf(!available)(available ? "HSM lost at runtime (SoftHSM)" : SOFTHSM_SKIP_REASON, () => {
  let token: SoftHsmToken;
  let server: RunningServer;
  let root = "";
  const dir = mkdtempSync(join(tmpdir(), "arca-hsm-loss-"));

  beforeAll(async () => {
    token = createSoftHsmToken({ label: "hsm-loss" });
    const config = sealedConfig(
      dir,
      [{ type: "pkcs11", disabled: false, params: { key: `pkcs11:token=${token.label};object=arca-seal`, generate_key: true } }],
      [{ name: "primary", lib: token.libPath, tokenLabel: token.label, pin: token.pin }],
    );
    server = await startSealed(config);
    const init = await api(server.url, "PUT", "sys/init", { body: { recovery_shares: 1, recovery_threshold: 1 } });
    expect(init.status).toBe(200);
    root = init.body?.root_token as string;
    expect(server.core.sealed).toBe(false);
    expect((await api(server.url, "POST", "sys/mounts/transit", { token: root, body: { type: "transit" } })).status).toBe(204);
    expect((await api(server.url, "POST", "transit/keys/h", { token: root, body: { type: "aes256-gcm96", hsm: true } })).status).toBe(200);
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
    cleanupSoftHsm();
  });

  const encrypt = (): Promise<number> =>
    api(server.url, "POST", "transit/encrypt/h", { token: root, body: { plaintext: Buffer.from("x").toString("base64") } }).then((r) => r.status);
  const sealHealth = async (token?: string): Promise<Array<Record<string, unknown>>> =>
    ((await api(server.url, "GET", "sys/health", token ? { token } : {})).body?.seals ?? []) as Array<Record<string, unknown>>;
  const tokenUp = async (): Promise<string | undefined> => {
    const r = await fetch(`${server.url}/v1/sys/metrics?format=prometheus`, { headers: { "X-Vault-Token": root } });
    return /^arca_hsm_token_up\{hsm="primary"\} (\d)$/m.exec(await r.text())?.[1];
  };

  it("reports the HSM down while it is gone and recovers by itself when it is back", async () => {
    expect(await encrypt()).toBe(200);
    expect((await sealHealth())[0]).toMatchObject({ name: "pkcs11", healthy: true });
    expect(await tokenUp()).toBe("1");

    const tokens = join(token.dir, "tokens");
    renameSync(tokens, `${tokens}-away`);
    try {
      expect(await encrypt()).toBe(502);
      // Health and seal-status: unhealthy; the reason only for an authenticated caller.
      const anon = (await sealHealth())[0];
      expect(anon).toMatchObject({ name: "pkcs11", healthy: false });
      expect(anon.error).toBeUndefined();
      expect((await sealHealth(root))[0].error).toMatch(/./);
      const status = (await api(server.url, "GET", "sys/seal-status")).body ?? {};
      expect(status.warnings).toEqual(['seal "pkcs11" (pkcs11) is unhealthy']);
      expect((status.seals as Array<Record<string, unknown>>)[0]).toMatchObject({ healthy: false });
      expect(await tokenUp()).toBe("0");
      // Away for a while: the background recovery keeps trying (re-initialising the library, which fails
      // while SoftHSM's token directory is missing) and the HSM stays reported down.
      await new Promise((r) => setTimeout(r, 1500));
      expect(await encrypt()).toBe(502);
      expect((await sealHealth())[0]).toMatchObject({ healthy: false });
    } finally {
      renameSync(`${tokens}-away`, tokens);
    }

    // Back: no restart, no API call needed to notice it.
    await eventually(async () => (await sealHealth())[0]?.healthy === true, 10_000);
    expect(await encrypt()).toBe(200);
    expect(await tokenUp()).toBe("1");
    expect((await api(server.url, "GET", "sys/seal-status")).body?.warnings).toBeUndefined();
    // It came back through a library reset (SoftHSM re-reads its token directory only at C_Initialize).
    expect(server.hsmRegistry?.token("primary").module.reinits).toBeGreaterThan(0);
  });
});
