// Root-token generation: the attempt state machine with fake dependencies, then real servers over HTTP —
// Shamir unseal shares, and recovery shares with a pkcs11 auto seal on SoftHSM.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ArcaError } from "../common/errors.js";
import { api, freshServer } from "../../test/servers.js";
import { cleanupSoftHsm, createSoftHsmToken, softHsmAvailable, SOFTHSM_SKIP_REASON, type SoftHsmToken } from "../../test/softhsm.js";
import { pkcs11SealBlock, sealedConfig, startSealed } from "../../test/hsm-servers.js";
import type { RunningServer } from "../server/server.js";
import { decodeRootToken, decodeShare, encodeRootToken, OTP_LENGTH, RootGeneration, type RootGenerationDeps } from "./generate-root.js";

const share = (n: number): Buffer => Buffer.alloc(33, n);

function fakeDeps(over: Partial<RootGenerationDeps> = {}): RootGenerationDeps & { tokens: number } {
  const deps = {
    tokens: 0,
    operatorThreshold: () => 2,
    verifyOperatorShares: async () => undefined,
    createRootToken: async () => {
      deps.tokens++;
      return "hvs.ABCDEFGHIJKLMNOPQRSTUVWX";
    },
    ...over,
  };
  return deps;
}

describe("root token encoding", () => {
  it("XORs with the OTP and encodes unpadded standard base64 (Go's RawStdEncoding)", () => {
    const token = "hvs.ABCDEFGHIJKLMNOPQRSTUVWX";
    const otp = "0123456789abcdefghijklmnopqr";
    const encoded = encodeRootToken(token, otp);
    // 28 bytes → 38 base64 characters without the trailing "=" a padded encoder would add.
    expect(encoded).toHaveLength(38);
    expect(encoded).not.toMatch(/=/);
    const xored = Buffer.from(token).map((b, i) => b ^ otp.charCodeAt(i));
    expect(Buffer.from(encoded, "base64").equals(Buffer.from(xored))).toBe(true);
    expect(decodeRootToken(encoded, otp)).toBe(token);
    expect(() => encodeRootToken(token, "short")).toThrow(/lengths differ/);
  });

  it("reads shares as hex when they are hex of a share's length, else base64", () => {
    const raw = Buffer.alloc(33, 0xab);
    expect(decodeShare(raw.toString("hex")).equals(raw)).toBe(true);
    expect(decodeShare(raw.toString("base64")).equals(raw)).toBe(true);
    // Valid hex, but 8 bytes: no share is that short, so it is base64.
    expect(decodeShare("deadbeefdeadbeef")).toHaveLength(12);
    expect(() => decodeShare("not a key!")).toThrow("'key' must be a valid hex or base64 string");
  });
});

describe("root generation attempt", () => {
  it("generates a 28-character base62 OTP when none is given, and refuses a second start", () => {
    const gen = new RootGeneration(fakeDeps());
    expect(gen.status()).toMatchObject({ started: false, nonce: "", progress: 0, required: 2, otpLength: OTP_LENGTH, otp: "" });
    const s = gen.start({});
    expect(s.otp).toMatch(/^[0-9A-Za-z]{28}$/);
    expect(s).toMatchObject({ started: true, progress: 0, required: 2, otpLength: 28 });
    expect(s.nonce).toMatch(/^[0-9a-f-]{36}$/);
    expect(gen.status().otp).toBe("");
    expect(() => gen.start({})).toThrow("root generation already in progress");
  });

  it("checks the OTP length, refuses pgp_key and an uninitialised or recovery-less server", () => {
    expect(() => new RootGeneration(fakeDeps()).start({ otp: "abc" })).toThrow("OTP string is wrong length");
    expect(() => new RootGeneration(fakeDeps()).start({ pgpKey: "mQENBF..." })).toThrow(/pgp_key is not supported/);
    expect(() => new RootGeneration(fakeDeps({ operatorThreshold: () => undefined })).status()).toThrow("server is not yet initialized");
    expect(() => new RootGeneration(fakeDeps({ operatorThreshold: () => 0 })).start({})).toThrow(/no recovery key/);
  });

  it("counts shares, refuses duplicates and wrong nonces, and ends the attempt with the encoded token", async () => {
    const deps = fakeDeps();
    const gen = new RootGeneration(deps);
    const otp = "0123456789abcdefghijklmnopqr";
    const { nonce } = gen.start({ otp });
    await expect(gen.update(share(1), "wrong")).rejects.toThrow(`incorrect nonce supplied; nonce for this root generation operation is "${nonce}"`);
    await expect(gen.update(Buffer.alloc(8), nonce)).rejects.toThrow("key is shorter than minimum 16 bytes");
    expect(await gen.update(share(1), nonce)).toMatchObject({ started: true, progress: 1, required: 2, complete: false, encodedToken: "", otpLength: 0 });
    await expect(gen.update(share(1), nonce)).rejects.toThrow("given key has already been provided during this generation operation");
    const done = await gen.update(share(2), nonce);
    expect(done).toMatchObject({ complete: true, progress: 2, required: 2, nonce });
    expect(decodeRootToken(done.encodedToken, otp)).toBe("hvs.ABCDEFGHIJKLMNOPQRSTUVWX");
    expect(deps.tokens).toBe(1);
    expect(gen.status().started).toBe(false);
    await expect(gen.update(share(3), nonce)).rejects.toThrow("no root generation in progress");
  });

  it("a failed verification resets progress but keeps the attempt; no token is created", async () => {
    let ok = false;
    const deps = fakeDeps({
      verifyOperatorShares: async () => {
        if (!ok) throw new ArcaError("invalid_request", "invalid key");
      },
    });
    const gen = new RootGeneration(deps);
    const { nonce } = gen.start({});
    await gen.update(share(1), nonce);
    await expect(gen.update(share(2), nonce)).rejects.toThrow("root generation aborted: invalid key");
    expect(gen.status()).toMatchObject({ started: true, nonce, progress: 0 });
    expect(deps.tokens).toBe(0);
    ok = true;
    await gen.update(share(1), nonce);
    expect((await gen.update(share(2), nonce)).complete).toBe(true);
  });

  it("a cancel while the shares are verified ends that attempt without a token", async () => {
    let release: () => void = () => undefined;
    const deps = fakeDeps({ verifyOperatorShares: () => new Promise<void>((r) => (release = r)) });
    const gen = new RootGeneration(deps);
    const { nonce } = gen.start({});
    await gen.update(share(1), nonce);
    const pending = gen.update(share(2), nonce);
    gen.cancel();
    gen.start({});
    release();
    await expect(pending).rejects.toThrow("root generation was cancelled");
    expect(deps.tokens).toBe(0);
    expect(gen.status()).toMatchObject({ started: true, progress: 0 });
  });
});

type Body = Record<string, unknown>;

/** Runs a whole generation over HTTP with the given shares and returns the decoded token. */
async function generate(url: string, keys: string[]): Promise<string> {
  const start = await api(url, "PUT", "sys/generate-root/attempt", { body: {} });
  expect(start.status).toBe(200);
  const { nonce, otp } = start.body as { nonce: string; otp: string };
  let last: Body = {};
  for (const key of keys) {
    const r = await api(url, "PUT", "sys/generate-root/update", { body: { key, nonce } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    last = r.body ?? {};
  }
  expect(last).toMatchObject({ complete: true, started: true, nonce });
  expect(last.encoded_root_token).toBe(last.encoded_token);
  return decodeRootToken(last.encoded_token as string, otp);
}

async function expectRoot(url: string, token: string): Promise<void> {
  const self = await api(url, "GET", "auth/token/lookup-self", { token });
  expect(self.status).toBe(200);
  expect((self.body?.data as Body).policies).toEqual(["root"]);
}

describe("sys/generate-root with Shamir unseal keys", () => {
  let s: RunningServer & { dir: string };
  let keys: string[];
  let rootToken: string;

  beforeAll(async () => {
    s = await freshServer();
    const init = await api(s.url, "PUT", "sys/init", { body: { secret_shares: 3, secret_threshold: 2 } });
    keys = init.body?.keys as string[];
    rootToken = init.body?.root_token as string;
    for (const key of keys.slice(0, 2)) await api(s.url, "PUT", "sys/unseal", { body: { key } });
  });
  afterAll(async () => s.stop());

  it("reports no attempt, then starts one with a server-generated OTP", async () => {
    const idle = await api(s.url, "GET", "sys/generate-root/attempt");
    expect(idle.status).toBe(200);
    expect(idle.body).toEqual({
      nonce: "",
      started: false,
      progress: 0,
      required: 2,
      complete: false,
      encoded_token: "",
      encoded_root_token: "",
      pgp_fingerprint: "",
      otp: "",
      otp_length: 28,
    });
    const start = await api(s.url, "POST", "sys/generate-root/attempt", { body: {} });
    expect(start.status).toBe(200);
    expect(start.body).toMatchObject({ started: true, progress: 0, required: 2, otp_length: 28 });
    expect(start.body?.otp).toMatch(/^[0-9A-Za-z]{28}$/);
    const again = await api(s.url, "PUT", "sys/generate-root/attempt", { body: {} });
    expect(again.status).toBe(400);
    expect(again.body?.errors).toEqual(["root generation already in progress"]);
    const read = await api(s.url, "GET", "sys/generate-root/attempt");
    expect(read.body).toMatchObject({ started: true, nonce: start.body?.nonce, otp: "" });
    const cancel = await api(s.url, "DELETE", "sys/generate-root/attempt");
    expect(cancel.status).toBe(204);
    expect((await api(s.url, "GET", "sys/generate-root/attempt")).body).toMatchObject({ started: false, nonce: "" });
  });

  it("two unseal shares (hex and base64) give a working root token", async () => {
    const b64 = Buffer.from(keys[2], "hex").toString("base64");
    const token = await generate(s.url, [keys[0], b64]);
    expect(token).toMatch(/^hvs\.[0-9A-Za-z]{24}$/);
    expect(token).not.toBe(rootToken);
    await expectRoot(s.url, token);
    expect((await api(s.url, "GET", "sys/generate-root/attempt")).body).toMatchObject({ started: false });
  });

  it("a caller-chosen OTP is used as given", async () => {
    const otp = "abcdefghijklmnopqrstuvwxyz01";
    const start = await api(s.url, "PUT", "sys/generate-root/attempt", { body: { otp } });
    expect(start.body).toMatchObject({ started: true, otp: "" });
    const nonce = start.body?.nonce as string;
    await api(s.url, "PUT", "sys/generate-root/update", { body: { key: keys[1], nonce } });
    const done = await api(s.url, "PUT", "sys/generate-root/update", { body: { key: keys[2], nonce } });
    await expectRoot(s.url, decodeRootToken(done.body?.encoded_token as string, otp));
  });

  it("refuses a wrong nonce, a wrong share (progress reset, attempt kept), and nothing without an attempt", async () => {
    const none = await api(s.url, "PUT", "sys/generate-root/update", { body: { key: keys[0], nonce: "x" } });
    expect(none.status).toBe(400);
    expect(none.body?.errors).toEqual(["no root generation in progress"]);

    const start = await api(s.url, "PUT", "sys/generate-root/attempt", { body: {} });
    const nonce = start.body?.nonce as string;
    const wrongNonce = await api(s.url, "PUT", "sys/generate-root/update", { body: { key: keys[0], nonce: "00000000-0000-0000-0000-000000000000" } });
    expect(wrongNonce.status).toBe(400);
    expect(String((wrongNonce.body?.errors as string[])[0])).toMatch(/^incorrect nonce supplied/);

    expect((await api(s.url, "PUT", "sys/generate-root/update", { body: { key: keys[0], nonce } })).body).toMatchObject({ progress: 1, complete: false });
    // A share of the right shape from elsewhere: the combine "succeeds" with garbage, the verification must not.
    const forged = Buffer.from(keys[1], "hex");
    forged[0] ^= 0xff;
    const wrong = await api(s.url, "PUT", "sys/generate-root/update", { body: { key: forged.toString("hex"), nonce } });
    expect(wrong.status).toBe(400);
    expect(String((wrong.body?.errors as string[])[0])).toMatch(/^root generation aborted: invalid key/);
    expect((await api(s.url, "GET", "sys/generate-root/attempt")).body).toMatchObject({ started: true, nonce, progress: 0 });

    const bad = await api(s.url, "PUT", "sys/generate-root/update", { body: { key: "not a key!", nonce } });
    expect(bad.status).toBe(400);
    expect(bad.body?.errors).toEqual(["'key' must be a valid hex or base64 string"]);
    const missing = await api(s.url, "PUT", "sys/generate-root/update", { body: { nonce } });
    expect(missing.body?.errors).toEqual(["'key' must be specified in request body as JSON"]);

    // The attempt still works with the right shares after the failure.
    await api(s.url, "PUT", "sys/generate-root/update", { body: { key: keys[0], nonce } });
    const done = await api(s.url, "PUT", "sys/generate-root/update", { body: { key: keys[1], nonce } });
    expect(done.body).toMatchObject({ complete: true });
  });

  it("refuses pgp_key, wrong methods, and every call while sealed (the attempt dies with the seal)", async () => {
    const pgp = await api(s.url, "PUT", "sys/generate-root/attempt", { body: { pgp_key: "mQENBFXYZ" } });
    expect(pgp.status).toBe(400);
    expect(String((pgp.body?.errors as string[])[0])).toMatch(/pgp_key is not supported/);
    expect((await api(s.url, "GET", "sys/generate-root/update")).status).toBe(405);

    await api(s.url, "PUT", "sys/generate-root/attempt", { body: {} });
    expect((await api(s.url, "PUT", "sys/seal", { token: rootToken })).status).toBe(204);
    expect((await api(s.url, "GET", "sys/generate-root/attempt")).status).toBe(503);
    expect((await api(s.url, "PUT", "sys/generate-root/attempt", { body: {} })).status).toBe(503);
    for (const key of keys.slice(0, 2)) await api(s.url, "PUT", "sys/unseal", { body: { key } });
    expect((await api(s.url, "GET", "sys/generate-root/attempt")).body).toMatchObject({ started: false });
  });

  it("the authenticated sys/generate-root-token/* form needs sudo and answers in the envelope", async () => {
    const policy = 'path "sys/generate-root-token/*" { capabilities = ["create", "read", "update", "delete"] }';
    expect((await api(s.url, "PUT", "sys/policies/acl/no-sudo", { token: rootToken, body: { policy } })).status).toBe(204);
    const created = await api(s.url, "POST", "auth/token/create", { token: rootToken, body: { policies: ["no-sudo"] } });
    const weak = (created.body?.auth as Body).client_token as string;
    expect((await api(s.url, "GET", "sys/generate-root-token/attempt")).status).toBe(403);
    expect((await api(s.url, "GET", "sys/generate-root-token/attempt", { token: weak })).status).toBe(403);

    const idle = await api(s.url, "GET", "sys/generate-root-token/attempt", { token: rootToken });
    expect(idle.status).toBe(200);
    expect(idle.body?.data).toMatchObject({ started: false, required: 2, otp_length: 28 });
    const start = await api(s.url, "PUT", "sys/generate-root-token/attempt", { token: rootToken, body: {} });
    const { nonce, otp } = start.body?.data as { nonce: string; otp: string };
    expect(otp).toMatch(/^[0-9A-Za-z]{28}$/);
    // One attempt per server, whichever form started it.
    expect((await api(s.url, "GET", "sys/generate-root/attempt")).body).toMatchObject({ started: true, nonce });
    await api(s.url, "PUT", "sys/generate-root-token/update", { token: rootToken, body: { key: keys[0], nonce } });
    const done = await api(s.url, "PUT", "sys/generate-root-token/update", { token: rootToken, body: { key: keys[2], nonce } });
    expect(done.status).toBe(200);
    expect(done.body?.data).toMatchObject({ complete: true, nonce });
    await expectRoot(s.url, decodeRootToken((done.body?.data as Body).encoded_token as string, otp));

    await api(s.url, "PUT", "sys/generate-root-token/attempt", { token: rootToken, body: {} });
    expect((await api(s.url, "DELETE", "sys/generate-root-token/attempt", { token: rootToken })).status).toBe(204);
    expect((await api(s.url, "GET", "sys/generate-root/attempt")).body).toMatchObject({ started: false });
  });

  it("an uninitialised server answers 400", async () => {
    const fresh = await freshServer();
    try {
      const r = await api(fresh.url, "GET", "sys/generate-root/attempt");
      expect(r.status).toBe(400);
      expect(r.body?.errors).toEqual(["server is not yet initialized"]);
    } finally {
      await fresh.stop();
    }
  });
});

const hsm = softHsmAvailable();

describe.skipIf(!hsm)(hsm ? "sys/generate-root with recovery keys (pkcs11 on SoftHSM)" : SOFTHSM_SKIP_REASON, () => {
  let tok: SoftHsmToken;
  let dir: string;
  let s: RunningServer;
  let recovery: string[];

  beforeAll(async () => {
    tok = createSoftHsmToken({ label: "gen-root" });
    dir = mkdtempSync(join(tmpdir(), "arca-genroot-"));
    s = await startSealed(sealedConfig(dir, [pkcs11SealBlock(tok)]));
    const init = await api(s.url, "PUT", "sys/init", { body: { recovery_shares: 3, recovery_threshold: 2 } });
    expect(init.status).toBe(200);
    recovery = init.body?.recovery_keys as string[];
    expect(init.body?.keys).toEqual([]);
  });
  afterAll(async () => {
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
    cleanupSoftHsm();
  });

  it("recovery shares generate a root token; the required count is the recovery threshold", async () => {
    expect((await api(s.url, "GET", "sys/generate-root/attempt")).body).toMatchObject({ required: 2, started: false });
    const token = await generate(s.url, [recovery[2], recovery[0]]);
    await expectRoot(s.url, token);
  });

  it("shares that are not the recovery key are refused", async () => {
    const start = await api(s.url, "PUT", "sys/generate-root/attempt", { body: {} });
    const nonce = start.body?.nonce as string;
    const forged = Buffer.from(recovery[0], "hex");
    forged[5] ^= 0x01;
    await api(s.url, "PUT", "sys/generate-root/update", { body: { key: recovery[1], nonce } });
    const r = await api(s.url, "PUT", "sys/generate-root/update", { body: { key: forged.toString("hex"), nonce } });
    expect(r.status).toBe(400);
    expect(String((r.body?.errors as string[])[0])).toMatch(/^root generation aborted: invalid key/);
    expect((await api(s.url, "DELETE", "sys/generate-root/attempt")).status).toBe(204);
  });
});
