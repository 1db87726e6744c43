// Start-up with the HSM away: the server stays sealed, says why, retries with backoff and unseals by itself
// when the HSM is back. Its own file (own process): it finalises the PKCS#11 library to make SoftHSM re-read
// its token directory, which SoftHSM does only at C_Initialize.
import { mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api } from "../../test/servers.js";
import { cleanupSoftHsm, createSoftHsmToken, softHsmAvailable, SOFTHSM_SKIP_REASON, type SoftHsmToken } from "../../test/softhsm.js";
import { eventually, pkcs11SealBlock, sealedConfig, startSealed } from "../../test/hsm-servers.js";
import { loadPkcs11Module, unregisterPkcs11Module } from "../hsm/module.js";

const available = softHsmAvailable();

describe.skipIf(!available)(available ? "HSM away at start (SoftHSM)" : SOFTHSM_SKIP_REASON, () => {
  let token: SoftHsmToken;
  const dir = mkdtempSync(join(tmpdir(), "arca-seal-away-"));

  beforeAll(() => {
    token = createSoftHsmToken({ label: "seal-away" });
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    cleanupSoftHsm();
  });

  it("stays sealed with the reason in seal-status, retries, and unseals when the token dir is back", async () => {
    const config = sealedConfig(dir, [pkcs11SealBlock(token)]);
    const s1 = await startSealed(config);
    const init = await api(s1.url, "PUT", "sys/init", { body: { recovery_shares: 1, recovery_threshold: 1 } });
    expect(init.status).toBe(200);
    await s1.stop();

    // The HSM goes away: library finalised, token directory gone.
    loadPkcs11Module(token.libPath).finalize();
    unregisterPkcs11Module(token.libPath);
    const tokens = join(token.dir, "tokens");
    renameSync(tokens, `${token.dir}/tokens-away`);

    const s2 = await startSealed(config, 20);
    try {
      expect(s2.core.sealed).toBe(true);
      const st = (await api(s2.url, "GET", "sys/seal-status")).body ?? {};
      expect(st).toMatchObject({ sealed: true, initialized: true, type: "pkcs11" });
      // Why (the PKCS#11 error) is for the log: an unauthenticated caller learns only that it failed.
      expect(st.warnings).toEqual(["auto-unseal failed (the reason is in the server log)", 'seal "pkcs11" (pkcs11) is unhealthy']);
      expect(s2.core.seal.warnings(true).join("\n")).toMatch(/auto-unseal failed: seal "pkcs11": .*C_Initialize/);
      expect((await api(s2.url, "GET", "sys/health")).status).toBe(503);
      await new Promise((r) => setTimeout(r, 150)); // a few retries happen meanwhile, all failing

      renameSync(`${token.dir}/tokens-away`, tokens);
      await eventually(async () => !s2.core.sealed, 5_000);
      const after = (await api(s2.url, "GET", "sys/seal-status")).body ?? {};
      expect(after).toMatchObject({ sealed: false });
      expect(after.warnings).toBeUndefined();
      expect((await api(s2.url, "GET", "sys/health")).status).toBe(200);
    } finally {
      await s2.stop();
    }
  });
});
