// BYOK and HYOK on a running server (BYOK: through the mount's custody-scoped key manager). HYOK: the customer's key on a second SoftHSM token (declared as an hsm block) is usable
// only once the operator grants it to the mount, and the HYOK sync follows the grant and the object; a
// transit keystore's token never appears in an answer or a log line. Real HTTP, real SoftHSM, real jobs.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkcs11js from "pkcs11js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, sealedConfig } from "../../../test/hsm-servers.js";
import { customerWrap } from "../../../test/byok.js";
import { api, devServer, type ApiResult } from "../../../test/servers.js";
import { cleanupSoftHsm, createSoftHsmToken, pkcs11Tool, softHsmAvailable, SOFTHSM_SKIP_REASON, type SoftHsmToken } from "../../../test/softhsm.js";
import { createLogger } from "../../server/log.js";
import { startServer, type RunningServer } from "../../server/server.js";

const hsm = softHsmAvailable();

/**
 * The customer changes their token's PIN. On a device the PIN lives in the token, so every login checks the
 * current one; SoftHSM keeps a token's PIN in each process's memory, so a change made by another process
 * (pkcs11-tool --change-pin) never reaches this one. C_SetPIN from this process, on a session of its own,
 * changes what SoftHSM's next login here checks, as a device would.
 */
function changePin(token: SoftHsmToken, newPin: string): void {
  const p11 = new pkcs11js.PKCS11();
  p11.load(token.libPath);
  try {
    p11.C_Initialize();
  } catch {
    // Already initialised by the server in this process: the same library instance.
  }
  const slot = p11.C_GetSlotList(true).find((s) => p11.C_GetTokenInfo(s).label.trim() === token.label);
  if (!slot) throw new Error(`token ${token.label} not found`);
  const session = p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
  try {
    p11.C_SetPIN(session, token.pin, newPin);
  } finally {
    p11.C_CloseSession(session); // never C_Finalize: the server shares the library
  }
}

describe.skipIf(!hsm)(hsm ? "keychain HYOK on a running server (SoftHSM, Transit)" : SOFTHSM_SKIP_REASON, () => {
  let dir: string;
  let arcaToken: SoftHsmToken;
  let customerToken: SoftHsmToken;
  /** A second customer, whose PIN changes. */
  let pinToken: SoftHsmToken;
  let server: RunningServer;
  let customerTransit: RunningServer;
  let root: string;
  const logLines: string[] = [];
  const call = (method: string, path: string, body?: unknown): Promise<ApiResult> => api(server.url, method, path, { token: root, body });
  const ok = (r: ApiResult): Record<string, unknown> => {
    expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
    return (r.body?.data ?? {}) as Record<string, unknown>;
  };
  const custKey = (): string => `pkcs11:token=${customerToken.label};object=cust-root;type=secret-key`;
  const pinKey = (): string => `pkcs11:token=${pinToken.label};object=pin-root;type=secret-key`;
  const state = async (name: string): Promise<string> => ok(await call("GET", `kc/keys/${name}`)).state as string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "arca-hyok-"));
    arcaToken = createSoftHsmToken({ label: "hyok-arca" });
    customerToken = createSoftHsmToken({ label: "hyok-cust" });
    // The customer's key exists before Arca opens the token (made by the customer's own tooling).
    pkcs11Tool(customerToken, ["--keygen", "--key-type", "AES:32", "--label", "cust-root", "--id", "c0c1", "--sensitive"]);
    pinToken = createSoftHsmToken({ label: "hyok-pin" });
    pkcs11Tool(pinToken, ["--keygen", "--key-type", "AES:32", "--label", "pin-root", "--id", "c0c2", "--sensitive"]);
    const config = sealedConfig(
      dir,
      [{ type: "pkcs11", disabled: false, params: { key: `pkcs11:token=${arcaToken.label};object=arca-seal`, generate_key: true } }],
      [
        { name: "arca", lib: arcaToken.libPath, tokenLabel: arcaToken.label, pin: arcaToken.pin },
        { name: "customer", lib: customerToken.libPath, tokenLabel: customerToken.label, pin: customerToken.pin },
        { name: "pin-customer", lib: pinToken.libPath, tokenLabel: pinToken.label, pin: pinToken.pin },
      ],
    );
    config.keychainOutbound = { allowHttp: true, allowedNetworks: ["127.0.0.0/8"] };
    server = await startServer(config, {
      logger: createLogger("debug", (line) => void logLines.push(line)),
      sealTiming: { retryBaseMs: 50, retryMaxMs: 500, healthIntervalMs: 0 },
      hsmReconnect: { attempts: 1, baseDelayMs: 5, maxDelayMs: 10 },
      jobs: { intervalMs: 100 },
    });
    root = (await server.core.initialize({ secretShares: 0, secretThreshold: 0, recoveryShares: 1, recoveryThreshold: 1 })).rootToken;
    ok(await call("POST", "sys/mounts/kc", { type: "keychain", options: { hyok_sync_interval: "1s" } }));
    customerTransit = await devServer();
  });

  afterAll(async () => {
    await server?.stop();
    await customerTransit?.stop();
    rmSync(dir, { recursive: true, force: true });
    cleanupSoftHsm();
  });

  it("the customer's PKCS#11 key: refused until granted, then synced with the grant and the object", async () => {
    ok(await call("POST", "kc/keystores/customer", { type: "pkcs11", uri: `pkcs11:token=${customerToken.label}` }));
    // A name never grants use.
    const refused = await call("POST", "kc/keys/cust", { keystore: "customer", origin: "hyok", native_id: custKey() });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toContain("sys/managed-keys");

    ok(await call("POST", "sys/managed-keys/pkcs11/cust-root", { uri: custKey() }));
    ok(await call("POST", "sys/mounts/kc/tune", { allowed_managed_keys: ["cust-root"] }));
    ok(await call("POST", "kc/keys/cust", { keystore: "customer", origin: "hyok", native_id: custKey() }));
    expect(await state("cust")).toBe("ENABLED");
    ok(await call("POST", "kc/key-configurations/cc", { primary_key: "cust" }));
    ok(await call("POST", "kc/systems/cs", { key_configuration: "cc" }));
    const dk = ok(await call("POST", "kc/systems/cs/datakey", { bits: 256 }));

    // The operator withdraws the grant: FORBIDDEN, and nothing beneath decrypts.
    ok(await call("POST", "sys/mounts/kc/tune", { allowed_managed_keys: [] }));
    await eventually(async () => (await state("cust")) === "FORBIDDEN");
    expect((await call("POST", "kc/systems/cs/decrypt", { ciphertext: dk.ciphertext })).status).toBe(400);
    // Granted again: ENABLED, and the old data key decrypts.
    ok(await call("POST", "sys/mounts/kc/tune", { allowed_managed_keys: ["cust-root"] }));
    await eventually(async () => (await state("cust")) === "ENABLED");
    expect(ok(await call("POST", "kc/systems/cs/decrypt", { ciphertext: dk.ciphertext })).plaintext).toBe(dk.plaintext);

    // The customer deletes the object on their token: FORBIDDEN.
    pkcs11Tool(customerToken, ["--delete-object", "--type", "secrkey", "--label", "cust-root"]);
    await eventually(async () => (await state("cust")) === "FORBIDDEN");
    expect((await call("POST", "kc/systems/cs/decrypt", { ciphertext: dk.ciphertext })).status).toBe(400);
  });

  it("the customer changes their token's PIN: FORBIDDEN at the next sync, though our login was still open", async () => {
    ok(await call("POST", "sys/managed-keys/pkcs11/pin-root", { uri: pinKey() }));
    ok(await call("POST", "sys/mounts/kc/tune", { allowed_managed_keys: ["cust-root", "pin-root"] }));
    ok(await call("POST", "kc/keystores/pin-customer", { type: "pkcs11", uri: `pkcs11:token=${pinToken.label}` }));
    ok(await call("POST", "kc/keys/pin", { keystore: "pin-customer", origin: "hyok", native_id: pinKey() }));
    ok(await call("POST", "kc/key-configurations/pc", { primary_key: "pin" }));
    ok(await call("POST", "kc/systems/ps", { key_configuration: "pc" }));
    const dk = ok(await call("POST", "kc/systems/ps/datakey", { bits: 256 }));
    expect(await state("pin")).toBe("ENABLED");
    changePin(pinToken, "99999999");
    await eventually(async () => (await state("pin")) === "FORBIDDEN");
    expect((await call("POST", "kc/systems/ps/decrypt", { ciphertext: dk.ciphertext })).status).toBe(400);
  });

  it("a transit keystore's token is never shown back nor logged", async () => {
    const t = customerTransit;
    await api(t.url, "POST", "sys/mounts/customer-transit", { token: t.rootToken, body: { type: "transit" } });
    const secret = (await api(t.url, "POST", "auth/token/create", { token: t.rootToken, body: { policies: ["root"] } })).body?.auth as { client_token: string };
    ok(await call("POST", "kc/keystores/theirs", { type: "transit", address: t.url, token: secret.client_token, mount: "customer-transit" }));
    ok(await call("POST", "kc/keys/tk", { keystore: "theirs", origin: "hyok", native_id: "tk" }));
    const ks = await call("GET", "kc/keystores/theirs");
    expect(ks.status).toBe(200);
    expect(JSON.stringify(ks.body)).not.toContain(secret.client_token);
    // The customer revokes the token: the sync logs the change (and the failures it saw), never the token.
    await api(t.url, "POST", "auth/token/revoke", { token: t.rootToken, body: { token: secret.client_token } });
    await eventually(async () => (await state("tk")) === "FORBIDDEN");
    expect(logLines.some((l) => l.includes("HYOK key state changed") && l.includes('"tk"'))).toBe(true);
    expect(logLines.filter((l) => l.includes(secret.client_token))).toEqual([]);
    // An address the operator did not allow is refused even on a running server.
    const meta = await call("POST", "kc/keystores/meta", { type: "transit", address: "https://169.254.169.254", token: "x" });
    expect(meta.status).toBe(400);
  });

  it("BYOK over HTTP through the mount's custody-scoped key manager: the import pair and the imported key are the mount's", async () => {
    ok(await call("POST", "kc/keystores/arca-hsm", { type: "pkcs11", uri: `pkcs11:token=${arcaToken.label}` }));
    ok(await call("POST", "kc/keys/imported", { keystore: "arca-hsm", origin: "byok" }));
    const params = ok(await call("GET", "kc/keys/imported/import-params"));
    expect(params).toMatchObject({ wrapping_algorithm: "CKM_RSA_AES_KEY_WRAP", hash_function: "SHA256" });
    const { material } = customerWrap(String(params.public_key));
    ok(await call("POST", "kc/keys/imported/import", { import_token: params.import_token, wrapped_key_material: material }));
    expect(await state("imported")).toBe("ENABLED");
    ok(await call("POST", "kc/key-configurations/ic", { primary_key: "imported" }));
    ok(await call("POST", "kc/systems/is", { key_configuration: "ic" }));
    const dk = ok(await call("POST", "kc/systems/is/datakey", { bits: 128 }));
    expect(ok(await call("POST", "kc/systems/is/decrypt", { ciphertext: dk.ciphertext })).plaintext).toBe(dk.plaintext);
    // The token cannot be used twice, over HTTP either.
    expect((await call("POST", "kc/keys/imported/import", { import_token: params.import_token, wrapped_key_material: material })).status).toBe(400);
  });
});
