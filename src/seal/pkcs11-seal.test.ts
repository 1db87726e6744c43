// The pkcs11 auto seal end to end: real SoftHSM tokens, real servers over HTTP, restarts on the same SQLite file.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api } from "../../test/servers.js";
import { cleanupSoftHsm, createSoftHsmToken, pkcs11Tool, softHsmAvailable, SOFTHSM_SKIP_REASON, type SoftHsmToken } from "../../test/softhsm.js";
import { findInSqliteFiles, pkcs11SealBlock, sealedConfig, startSealed } from "../../test/hsm-servers.js";
import { startDevServer, type RunningServer } from "../server/server.js";
import { quietLogger } from "../../test/servers.js";

const available = softHsmAvailable();

async function writeCanary(url: string, token: string, value: string): Promise<void> {
  expect((await api(url, "POST", "sys/mounts/secret", { token, body: { type: "kv", options: { version: "2" } } })).status).toBe(204);
  expect((await api(url, "PUT", "secret/data/canary", { token, body: { data: { value } } })).status).toBe(200);
}

async function readCanary(url: string, token: string): Promise<unknown> {
  const r = await api(url, "GET", "secret/data/canary", { token });
  return (r.body?.data as { data?: { value?: unknown } } | undefined)?.data?.value;
}

const status = async (url: string): Promise<Record<string, unknown>> => (await api(url, "GET", "sys/seal-status")).body ?? {};

describe.skipIf(!available)(available ? "pkcs11 seal (SoftHSM)" : SOFTHSM_SKIP_REASON, () => {
  let custody: SoftHsmToken;
  let twoA: SoftHsmToken;
  let twoB: SoftHsmToken;
  let pinTok: SoftHsmToken;
  let migTok: SoftHsmToken;
  let rsaTok: SoftHsmToken;
  let devTok: SoftHsmToken;
  const dirs: string[] = [];
  const running: RunningServer[] = [];

  const newDir = (): string => {
    const d = mkdtempSync(join(tmpdir(), "arca-seal-"));
    dirs.push(d);
    return d;
  };
  const track = (s: RunningServer): RunningServer => {
    running.push(s);
    return s;
  };
  const stop = async (s: RunningServer): Promise<void> => {
    await s.stop();
    running.splice(running.indexOf(s), 1);
  };

  beforeAll(() => {
    // Every token exists before the library's C_Initialize (SoftHSM reads its token dir once).
    custody = createSoftHsmToken({ label: "seal-custody" });
    twoA = createSoftHsmToken({ label: "seal-two-a" });
    twoB = createSoftHsmToken({ label: "seal-two-b" });
    pinTok = createSoftHsmToken({ label: "seal-pin" });
    migTok = createSoftHsmToken({ label: "seal-mig" });
    rsaTok = createSoftHsmToken({ label: "seal-rsa" });
    devTok = createSoftHsmToken({ label: "seal-dev" });
  });
  afterAll(async () => {
    for (const s of running) await s.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    cleanupSoftHsm();
  });

  it("custody: key sensitive and never extractable; no root key, secret or root token in the SQLite files; restart unseals alone", async () => {
    const dir = newDir();
    const config = sealedConfig(dir, [pkcs11SealBlock(custody)]);
    const s1 = track(await startSealed(config));
    const before = await status(s1.url);
    expect(before).toMatchObject({ type: "pkcs11", initialized: false, sealed: true });

    const bad = await api(s1.url, "PUT", "sys/init", { body: { secret_shares: 3, secret_threshold: 2 } });
    expect(bad.status).toBe(400);
    expect(bad.body?.errors).toEqual(["parameters secret_shares,secret_threshold not applicable to seal type pkcs11"]);

    const init = await api(s1.url, "PUT", "sys/init", { body: { recovery_shares: 3, recovery_threshold: 2 } });
    expect(init.status).toBe(200);
    expect(init.body?.keys).toEqual([]);
    expect(init.body?.recovery_keys).toHaveLength(3);
    expect(init.body?.recovery_keys_base64).toHaveLength(3);
    const rootToken = String(init.body?.root_token);
    // Unsealed right after init, with no human.
    expect(await status(s1.url)).toMatchObject({ type: "pkcs11", sealed: false, recovery_seal: true, t: 2, n: 3, recovery_seal_type: "shamir" });

    const canary = `canary-${randomBytes(12).toString("hex")}`;
    await writeCanary(s1.url, rootToken, canary);
    const rootKey = Buffer.from((s1.core as unknown as { rootKey: Buffer }).rootKey);

    const objects = pkcs11Tool(custody, ["--list-objects", "--type", "secrkey"]);
    const block = objects.split(/\n(?=Secret Key Object)/).find((b) => b.includes("arca-seal")) ?? "";
    const access = (/Access:\s*(.*)/.exec(block)?.[1] ?? "").split(",").map((x) => x.trim());
    expect(access).toContain("sensitive");
    expect(access).toContain("never extractable");
    expect(access).not.toContain("extractable");

    await stop(s1);
    const db = config.storage.type === "sqlite" ? config.storage.path : "";
    const found = findInSqliteFiles(db, {
      rootKey,
      rootKeyBase64: Buffer.from(rootKey.toString("base64")),
      rootKeyHex: Buffer.from(rootKey.toString("hex")),
      canary: Buffer.from(canary),
      rootToken: Buffer.from(rootToken),
      pin: Buffer.from(`"${custody.pin}"`),
    });
    expect(found).toEqual([]);

    // Restart on the same file and config: unsealed without a human, data intact.
    const s2 = track(await startSealed(config));
    expect(s2.core.sealed).toBe(false);
    expect(await readCanary(s2.url, rootToken)).toBe(canary);
    const health = await api(s2.url, "GET", "sys/health");
    expect(health.status).toBe(200);
    expect(health.body?.seals).toEqual([{ name: "pkcs11", type: "pkcs11", healthy: true, disabled: false }]);

    // After a manual seal the recovery shares unseal (the HSM still gives the root key).
    expect((await api(s2.url, "PUT", "sys/seal", { token: rootToken })).status).toBe(204);
    const keys = init.body?.recovery_keys as string[];
    expect((await api(s2.url, "PUT", "sys/unseal", { body: { key: keys[0] } })).body).toMatchObject({ sealed: true, progress: 1 });
    expect((await api(s2.url, "PUT", "sys/unseal", { body: { key: keys[2] } })).body).toMatchObject({ sealed: false });
    expect(await readCanary(s2.url, rootToken)).toBe(canary);
    await stop(s2);
  });

  it("two HSM tokens as seals: one token deleted, the other unseals and the loss is reported", async () => {
    const dir = newDir();
    const config = sealedConfig(dir, [pkcs11SealBlock(twoA, { name: "hsm-a" }), pkcs11SealBlock(twoB, { name: "hsm-b" })]);
    const s1 = track(await startSealed(config));
    const init = await api(s1.url, "PUT", "sys/init", { body: { recovery_shares: 1, recovery_threshold: 1 } });
    const rootToken = String(init.body?.root_token);
    await writeCanary(s1.url, rootToken, "two-seals");
    await stop(s1);

    twoB.cleanup();
    const s2 = track(await startSealed(config));
    expect(s2.core.sealed).toBe(false);
    expect(await readCanary(s2.url, rootToken)).toBe("two-seals");
    // Without a token: healthy: false and no more (the HSM error names tokens and keys).
    const st = await status(s2.url);
    expect(st.sealed).toBe(false);
    expect(st.seals).toEqual([
      { name: "hsm-a", type: "pkcs11", healthy: true, disabled: false },
      { name: "hsm-b", type: "pkcs11", healthy: false, disabled: false },
    ]);
    expect(st.warnings).toEqual(['seal "hsm-b" (pkcs11) is unhealthy']);
    const health = await api(s2.url, "GET", "sys/health");
    expect(health.status).toBe(200);
    expect(health.body?.seals).toContainEqual({ name: "hsm-b", type: "pkcs11", healthy: false, disabled: false });
    const unsealed = await api(s2.url, "PUT", "sys/unseal", { body: { reset: false, key: "00" } });
    expect(JSON.stringify(unsealed.body)).not.toMatch(/not present|gone|error/);
    // With a token that may read the endpoint: the reason.
    const detailed = (await api(s2.url, "GET", "sys/seal-status", { token: rootToken })).body ?? {};
    expect(detailed.seals).toContainEqual(expect.objectContaining({ name: "hsm-b", healthy: false, error: expect.stringMatching(/not present|gone/) as unknown }));
    expect((detailed.warnings as string[]).join("\n")).toMatch(/seal "hsm-b" \(pkcs11\) is unhealthy: /);
    expect((await api(s2.url, "GET", "sys/health", { token: rootToken })).body?.seals).toContainEqual(expect.objectContaining({ name: "hsm-b", error: expect.any(String) as unknown }));
    await stop(s2);
  });

  it("wrong PIN: exactly one C_Login, stays sealed, a clear error and no retry", async () => {
    const dir = newDir();
    const good = sealedConfig(dir, [pkcs11SealBlock(pinTok)]);
    const s1 = track(await startSealed(good));
    expect((await api(s1.url, "PUT", "sys/init", { body: { recovery_shares: 1, recovery_threshold: 1 } })).status).toBe(200);
    await stop(s1);

    const wrong = sealedConfig(dir, [pkcs11SealBlock(pinTok, { pin: "0000" })]);
    const s2 = track(await startSealed(wrong, 10));
    await new Promise((r) => setTimeout(r, 300)); // several retry periods: none may happen
    expect(s2.core.sealed).toBe(true);
    expect(s2.hsmRegistry?.token("seal-pkcs11").loginAttempts).toBe(1);
    const st = await status(s2.url);
    expect(st).toMatchObject({ sealed: true, initialized: true, type: "pkcs11" });
    // The reason goes to the log (server.ts logs these warnings); seal-status only says that it failed.
    expect(JSON.stringify(st)).not.toMatch(/PIN|CKR_/);
    const warnings = s2.core.seal.warnings(true).join("\n");
    expect(warnings).toMatch(/PIN_INCORRECT/);
    expect(warnings).toMatch(/not retried/);
    expect(warnings).not.toContain("0000");
    expect((await api(s2.url, "GET", "sys/health")).status).toBe(503);
    await stop(s2);
  });

  it("RSA-OAEP (SHA-1 on SoftHSM): encrypted with the public key, decrypted in the HSM, across a restart", async () => {
    const dir = newDir();
    const config = sealedConfig(dir, [pkcs11SealBlock(rsaTok, { mechanism: "CKM_RSA_PKCS_OAEP", rsa_oaep_hash: "sha1", key_label: "arca-seal-rsa" })]);
    const s1 = track(await startSealed(config));
    const init = await api(s1.url, "PUT", "sys/init", { body: { recovery_shares: 1, recovery_threshold: 1 } });
    expect(init.status).toBe(200);
    await stop(s1);
    const s2 = track(await startSealed(config));
    expect(s2.core.sealed).toBe(false);
    await stop(s2);
  });

  it("migration Shamir → pkcs11 → Shamir keeps the data, across restarts", async () => {
    const dir = newDir();
    const shamirOnly = sealedConfig(dir, []);
    const s1 = track(await startSealed(shamirOnly));
    const init = await api(s1.url, "PUT", "sys/init", { body: { secret_shares: 3, secret_threshold: 2 } });
    const keys = init.body?.keys as string[];
    const rootToken = String(init.body?.root_token);
    for (const k of keys.slice(0, 2)) await api(s1.url, "PUT", "sys/unseal", { body: { key: k } });
    await writeCanary(s1.url, rootToken, "before-migration");
    await stop(s1);

    // Shamir → pkcs11: add the seal block, unseal with the unseal shares and migrate=true.
    const toHsm = sealedConfig(dir, [pkcs11SealBlock(migTok)]);
    const s2 = track(await startSealed(toHsm));
    expect(await status(s2.url)).toMatchObject({ sealed: true, migration: true, type: "shamir" });
    const noFlag = await api(s2.url, "PUT", "sys/unseal", { body: { key: keys[0] } });
    expect(noFlag.status).toBe(400);
    await api(s2.url, "PUT", "sys/unseal", { body: { key: keys[0], migrate: true } });
    const done = await api(s2.url, "PUT", "sys/unseal", { body: { key: keys[1], migrate: true } });
    expect(done.body).toMatchObject({ sealed: false, migration: false, type: "pkcs11", recovery_seal: true, t: 2, n: 3 });
    expect(await readCanary(s2.url, rootToken)).toBe("before-migration");
    await stop(s2);

    const s3 = track(await startSealed(toHsm));
    expect(s3.core.sealed).toBe(false);
    expect(await readCanary(s3.url, rootToken)).toBe("before-migration");
    await stop(s3);

    // pkcs11 → Shamir: mark the seal disabled, unseal with the recovery shares (the same shares) and migrate=true.
    const toShamir = sealedConfig(dir, [pkcs11SealBlock(migTok, {}, true)]);
    const s4 = track(await startSealed(toShamir));
    expect(await status(s4.url)).toMatchObject({ sealed: true, migration: true, type: "pkcs11" });
    await api(s4.url, "PUT", "sys/unseal", { body: { key: keys[2], migrate: true } });
    const back = await api(s4.url, "PUT", "sys/unseal", { body: { key: keys[0], migrate: true } });
    expect(back.body).toMatchObject({ sealed: false, migration: false, type: "shamir", recovery_seal: false, t: 2, n: 3 });
    await stop(s4);

    const s5 = track(await startSealed(shamirOnly));
    expect(s5.core.sealed).toBe(true);
    for (const k of [keys[1], keys[2]]) await api(s5.url, "PUT", "sys/unseal", { body: { key: k } });
    expect(s5.core.sealed).toBe(false);
    expect(await readCanary(s5.url, rootToken)).toBe("before-migration");
    await stop(s5);
  });

  it("dev mode with -dev-hsm: a pkcs11 auto seal with a generated key on that token", async () => {
    const dev = track(
      await startDevServer({
        listenAddress: "127.0.0.1:0",
        logger: quietLogger,
        devHsm: `pkcs11:token=${devTok.label}?module-path=${devTok.libPath}&pin-value=${devTok.pin}`,
      }),
    );
    expect(dev.recoveryKey).toBeTruthy();
    expect(await status(dev.url)).toMatchObject({ type: "pkcs11", sealed: false, recovery_seal: true });
    expect(pkcs11Tool(devTok, ["--list-objects", "--type", "secrkey"])).toContain("arca-dev-seal");
    await stop(dev);
  });
});
