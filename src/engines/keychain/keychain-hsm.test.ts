/**
 * The keychain engine with L1 keys in SoftHSM, through a real server (so the engine gets the mount's
 * custody-scoped key manager): keys are made on the token the keystore's URI names, are sensitive and
 * never extractable (as pkcs11-tool lists them), wrap L2 inside the HSM, and are destroyed in the HSM when
 * a deletion window ends (crypto-shredding); the SQLite files hold no data-key plaintext.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findInSqliteFiles, sealedConfig } from "../../../test/hsm-servers.js";
import { api, quietLogger } from "../../../test/servers.js";
import { cleanupSoftHsm, createSoftHsmToken, pkcs11Tool, softHsmAvailable, SOFTHSM_SKIP_REASON, type SoftHsmToken } from "../../../test/softhsm.js";
import { startServer, type RunningServer } from "../../server/server.js";

const available = softHsmAvailable();

/** pkcs11-tool's listing of the secret keys whose label starts with `prefix`, one block per object. */
function secretKeys(token: SoftHsmToken, prefix: string): string[] {
  const out = pkcs11Tool(token, ["--list-objects", "--type", "secrkey"]);
  return out.split(/\n(?=Secret Key Object)/).filter((block) => block.includes(`label:      ${prefix}`) || new RegExp(`label:\\s+${prefix}`).test(block));
}

describe.skipIf(!available)(available ? "keychain with SoftHSM" : SOFTHSM_SKIP_REASON, () => {
  let a: SoftHsmToken;
  let b: SoftHsmToken;
  let server: RunningServer;
  let root = "";
  let dir = "";
  let clock = Date.now();
  const call = (method: string, path: string, body?: unknown) => api(server.url, method, path, { token: root, ...(body !== undefined ? { body } : {}) });

  beforeAll(async () => {
    a = createSoftHsmToken({ label: "kc-a" });
    b = createSoftHsmToken({ label: "kc-b" });
    dir = mkdtempSync(join(tmpdir(), "arca-keychain-"));
    const config = sealedConfig(dir, [], [
      { name: "a", lib: a.libPath, tokenLabel: a.label, pin: a.pin },
      { name: "b", lib: b.libPath, tokenLabel: b.label, pin: b.pin },
    ]);
    server = await startServer(config, {
      logger: quietLogger,
      jobs: { intervalMs: 200, now: () => new Date(clock) },
      afterCore: async (core) => {
        root = (await core.initialize({ secretShares: 1, secretThreshold: 1 }, { keepUnsealed: true })).rootToken;
      },
    });
    expect((await call("POST", "sys/mounts/kc", { type: "keychain", options: { min_pending_window: "1h" } })).status).toBe(204);
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
    cleanupSoftHsm();
  });

  it("refuses the software keystore outside dev mode, and pkcs11 URIs that carry a PIN or name no token", async () => {
    expect((await call("POST", "kc/keystores/soft", { type: "software" })).status).toBe(400);
    expect((await call("POST", "kc/keystores/x", { type: "pkcs11", uri: `pkcs11:token=${b.label}?pin-value=${b.pin}` })).status).toBe(400);
    expect((await call("POST", "kc/keystores/x", { type: "pkcs11", uri: "pkcs11:object=foo" })).status).toBe(400);
    expect((await call("POST", "kc/keystores/x", { type: "pkcs11", uri: "not a uri" })).status).toBe(400);
    expect((await call("POST", "kc/keystores/x", { type: "pkcs11" })).status).toBe(400);
    // A token no hsm block declares: the keystore is accepted, but no key can be made there.
    expect((await call("POST", "kc/keystores/nowhere", { type: "pkcs11", uri: "pkcs11:token=undeclared" })).status).toBe(204);
    expect((await call("POST", "kc/keys/lost", { keystore: "nowhere" })).status).toBe(400);
  });

  it("makes L1 keys on the named token, sensitive and never extractable, and wraps L2 inside the HSM", async () => {
    expect((await call("POST", "kc/keystores/hsm-b", { type: "pkcs11", uri: `pkcs11:token=${b.label}` })).status).toBe(204);
    expect((await call("GET", "kc/keystores/hsm-b")).body?.data).toMatchObject({ type: "pkcs11", uri: `pkcs11:token=${b.label}` });
    expect((await call("POST", "kc/keys/root-1", { keystore: "hsm-b" })).status).toBe(204);
    const key = (await call("GET", "kc/keys/root-1")).body?.data as { native_id: string; state: string };
    expect(key.state).toBe("ENABLED");
    expect(key.native_id).toMatch(/^pkcs11:/);
    const onB = secretKeys(b, "arca-keychain-root-1");
    expect(onB).toHaveLength(1);
    expect(onB[0]).toMatch(/never extractable/);
    expect(onB[0]).toMatch(/sensitive/);
    expect(secretKeys(a, "arca-keychain-root-1")).toHaveLength(0);

    expect((await call("POST", "kc/key-configurations/c1", { primary_key: "root-1" })).status).toBe(204);
    expect((await call("POST", "kc/systems/s1", { key_configuration: "c1" })).status).toBe(204);
    const dk = (await call("POST", "kc/systems/s1/datakey", {})).body?.data as { plaintext: string; ciphertext: string };
    expect((await call("POST", "kc/systems/s1/decrypt", { ciphertext: dk.ciphertext })).body?.data).toEqual({ plaintext: dk.plaintext });

    // Rotation makes a second HSM object; old data keys still decrypt after the background re-wrap.
    expect((await call("POST", "kc/keys/root-1/rotate")).status).toBe(200);
    for (let i = 0; i < 100; i++) {
      const k = (await call("GET", "kc/keys/root-1")).body?.data as { rewrap?: { state: string } };
      if (k.rewrap?.state === "done") break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await call("GET", "kc/keys/root-1")).body?.data).toMatchObject({ primary_version: 2, rewrap: { state: "done", done: 1 } });
    expect(secretKeys(b, "arca-keychain-root-1")).toHaveLength(2);
    expect((await call("GET", "kc/key-configurations/c1")).body?.data).toMatchObject({ primary_key_version: 2 });
    expect((await call("POST", "kc/systems/s1/decrypt", { ciphertext: dk.ciphertext })).body?.data).toEqual({ plaintext: dk.plaintext });

    // No data-key plaintext anywhere in the SQLite files.
    const raw = Buffer.from(dk.plaintext, "base64");
    expect(findInSqliteFiles(join(dir, "arca.db"), { raw, b64: Buffer.from(dk.plaintext), hex: Buffer.from(raw.toString("hex")) })).toEqual([]);
  });

  it("destroys the HSM objects when the deletion window ends: nothing beneath opens again, not even under a new key of that name", async () => {
    expect((await call("POST", "kc/keystores/hsm-a", { type: "pkcs11", uri: `pkcs11:token=${a.label}` })).status).toBe(204);
    expect((await call("POST", "kc/keys/doomed", { keystore: "hsm-a" })).status).toBe(204);
    expect((await call("POST", "kc/key-configurations/cd", { primary_key: "doomed" })).status).toBe(204);
    expect((await call("POST", "kc/systems/sd", { key_configuration: "cd" })).status).toBe(204);
    const dk = (await call("POST", "kc/systems/sd/datakey", {})).body?.data as { ciphertext: string };
    expect(secretKeys(a, "arca-keychain-doomed")).toHaveLength(1);
    expect((await call("DELETE", "kc/keystores/hsm-a")).status).toBe(400);

    expect((await call("POST", "kc/keys/doomed/schedule-deletion", { pending_window: "10m" })).status).toBe(400);
    expect((await call("POST", "kc/keys/doomed/schedule-deletion", { pending_window: "2h" })).status).toBe(200);
    expect((await call("POST", "kc/systems/sd/decrypt", { ciphertext: dk.ciphertext })).status).toBe(400);
    clock += 3 * 3600_000;
    await waitFor(async () => ((await call("GET", "kc/keys/doomed")).body?.data as { state: string }).state === "DELETED");
    expect(secretKeys(a, "arca-keychain-doomed")).toHaveLength(0);

    expect((await call("POST", "kc/keys/doomed", { keystore: "hsm-a" })).status).toBe(204);
    expect((await call("POST", "kc/systems/sd/decrypt", { ciphertext: dk.ciphertext })).status).toBe(400);
    const patch = await api(server.url, "PATCH", "kc/key-configurations/cd", { token: root, body: { primary_key: "doomed" }, headers: { "Content-Type": "application/merge-patch+json" } });
    expect(patch.status).toBe(400);
  });
});

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("condition not met in time");
}
