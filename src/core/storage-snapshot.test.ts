// Storage snapshots end to end over HTTP: save from one server, restore into an uninitialised server of
// another storage type (SQLite → PostgreSQL → SQLite), unseal with the original keys or the HSM.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, freshServer } from "../../test/servers.js";
import { postgresAvailable, POSTGRES_SKIP_REASON, startPgCluster, type PgCluster } from "../../test/postgres.js";
import { createSoftHsmToken, softHsmAvailable, SOFTHSM_SKIP_REASON, type SoftHsmToken } from "../../test/softhsm.js";
import { pkcs11SealBlock, sealedConfig, startSealed } from "../../test/hsm-servers.js";
import type { RunningServer } from "../server/server.js";
import type { StorageConfig } from "../server/config.js";
import { decodeSnapshot } from "../storage/snapshot-format.js";

const pgAvailable = postgresAvailable();
if (!pgAvailable) console.warn(POSTGRES_SKIP_REASON);
const hsmAvailable = softHsmAvailable();
const CANARY = "snapshot-plaintext-canary-41d9";

async function snapshotOf(url: string, token: string): Promise<{ status: number; bytes: Buffer; type: string | null }> {
  const res = await fetch(`${url}/v1/sys/storage/snapshot`, { headers: { "X-Vault-Token": token } });
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()), type: res.headers.get("content-type") };
}

async function restore(url: string, bytes: Buffer): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/v1/sys/storage/snapshot`, { method: "POST", body: new Uint8Array(bytes), headers: { "Content-Type": "application/octet-stream" } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function unsealWith(url: string, keys: string[]): Promise<void> {
  for (const key of keys) await api(url, "PUT", "sys/unseal", { body: { key } });
  expect((await api(url, "GET", "sys/seal-status")).body?.sealed).toBe(false);
}

async function readCanary(url: string, token: string): Promise<unknown> {
  const r = await api(url, "GET", "kv/data/app", { token });
  return (r.body?.data as { data?: { password?: unknown } } | undefined)?.data?.password;
}

describe("storage snapshots", () => {
  let pg: PgCluster | undefined;
  const servers: RunningServer[] = [];
  let source: RunningServer;
  let keys: string[];
  let root: string;
  let snapshot: Buffer;
  let pgTables = 0;

  const fresh = async (storage?: StorageConfig): Promise<RunningServer> => {
    const s = await freshServer(storage);
    servers.push(s);
    return s;
  };
  const freshPg = (): Promise<RunningServer> => fresh({ type: "postgresql", connectionUrl: pg?.url ?? "", table: `snap_${pgTables++}` });

  beforeAll(async () => {
    if (pgAvailable) pg = await startPgCluster();
    source = await fresh();
    const init = await api(source.url, "PUT", "sys/init", { body: { secret_shares: 3, secret_threshold: 2 } });
    ({ keys_base64: keys, root_token: root } = init.body as { keys_base64: string[]; root_token: string });
    await unsealWith(source.url, keys.slice(0, 2));
    expect((await api(source.url, "POST", "sys/mounts/kv", { token: root, body: { type: "kv", options: { version: "2" } } })).status).toBe(204);
    expect((await api(source.url, "PUT", "kv/data/app", { token: root, body: { data: { password: CANARY } } })).status).toBe(200);
    const snap = await snapshotOf(source.url, root);
    expect(snap.status).toBe(200);
    snapshot = snap.bytes;
  }, 60_000);
  afterAll(async () => {
    for (const s of servers) await s.stop().catch(() => undefined);
    pg?.stop();
  });

  it("is a verified octet stream of ciphertext and seal metadata, never the plaintext", async () => {
    const snap = await snapshotOf(source.url, root);
    expect(snap.type).toBe("application/octet-stream");
    const decoded = decodeSnapshot(snap.bytes);
    expect(decoded.header).toMatchObject({ format: 1, storage_type: "sqlite", seal_type: "shamir" });
    const keysIn = decoded.entries.map((e) => e.key);
    expect(keysIn).toEqual(expect.arrayContaining(["core/keyring", "core/seal-config"]));
    expect(snap.bytes.includes(Buffer.from(CANARY))).toBe(false);
    expect(snap.bytes.includes(Buffer.from(root))).toBe(false);
  });

  it("needs sudo: a token that may read the path without sudo is refused, as is no token", async () => {
    await api(source.url, "PUT", "sys/policies/acl/snap-read", { token: root, body: { policy: `path "sys/storage/snapshot" { capabilities = ["read"] }` } });
    const created = await api(source.url, "POST", "auth/token/create", { token: root, body: { policies: ["snap-read"] } });
    const token = (created.body?.auth as { client_token: string }).client_token;
    expect((await snapshotOf(source.url, token)).status).toBe(403);
    expect((await snapshotOf(source.url, "")).status).toBe(403);
  });

  it("restores into an uninitialised SQLite server, which the original unseal keys then open", async () => {
    const target = await fresh();
    const r = await restore(target.url, snapshot);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ initialized: true, sealed: true, t: 2, n: 3 });
    expect(r.body.restored_entries).toBe(decodeSnapshot(snapshot).entries.length);
    await unsealWith(target.url, [keys[1], keys[2]]);
    expect(await readCanary(target.url, root)).toBe(CANARY);
  });

  it.skipIf(!pgAvailable)("round-trips SQLite → PostgreSQL → SQLite with the same keys", async () => {
    const onPg = await freshPg();
    expect((await restore(onPg.url, snapshot)).status).toBe(200);
    await unsealWith(onPg.url, keys.slice(0, 2));
    expect(await readCanary(onPg.url, root)).toBe(CANARY);
    // A write on PostgreSQL travels back.
    expect((await api(onPg.url, "PUT", "kv/data/app", { token: root, body: { data: { password: `${CANARY}-2` } } })).status).toBe(200);
    const fromPg = await snapshotOf(onPg.url, root);
    expect(decodeSnapshot(fromPg.bytes).header.storage_type).toBe("postgresql");
    const back = await fresh();
    expect((await restore(back.url, fromPg.bytes)).status).toBe(200);
    await unsealWith(back.url, keys.slice(0, 2));
    expect(await readCanary(back.url, root)).toBe(`${CANARY}-2`);
  });

  it("refuses an initialised server, and altered or truncated files, with a 400", async () => {
    const again = await restore(source.url, snapshot);
    expect(again.status).toBe(400);
    expect(String(again.body.errors)).toMatch(/uninitialised/);
    const target = await fresh();
    const altered = Buffer.from(snapshot);
    altered[Math.floor(altered.length / 2)] ^= 1;
    for (const bad of [altered, snapshot.subarray(0, snapshot.length - 10), Buffer.from("{}"), Buffer.alloc(0)]) {
      const r = await restore(target.url, bad);
      expect(r.status).toBe(400);
      expect(String(r.body.errors)).toMatch(/not a valid Arca snapshot/);
    }
    expect((await api(target.url, "GET", "sys/init")).body?.initialized).toBe(false);
  });
});

describe.skipIf(!hsmAvailable)(hsmAvailable ? "storage snapshots with an HSM seal" : SOFTHSM_SKIP_REASON, () => {
  let token: SoftHsmToken;
  const dirs: string[] = [];
  const running: RunningServer[] = [];
  beforeAll(() => {
    token = createSoftHsmToken({ label: "snapshot-seal" });
  });
  afterAll(async () => {
    for (const s of running) await s.stop().catch(() => undefined);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const start = async (): Promise<RunningServer> => {
    const dir = mkdtempSync(join(tmpdir(), "arca-snap-hsm-"));
    dirs.push(dir);
    const s = await startSealed(sealedConfig(dir, [pkcs11SealBlock(token)]));
    running.push(s);
    return s;
  };

  it("restores into a fresh server on the same HSM, which unseals itself", async () => {
    const a = await start();
    const init = await api(a.url, "PUT", "sys/init", { body: { recovery_shares: 1, recovery_threshold: 1 } });
    const root = (init.body as { root_token: string }).root_token;
    expect((await api(a.url, "POST", "sys/mounts/kv", { token: root, body: { type: "kv", options: { version: "2" } } })).status).toBe(204);
    expect((await api(a.url, "PUT", "kv/data/app", { token: root, body: { data: { password: CANARY } } })).status).toBe(200);
    const snap = await snapshotOf(a.url, root);
    expect(decodeSnapshot(snap.bytes).header.seal_type).toBe("pkcs11");
    const b = await start();
    const r = await restore(b.url, snap.bytes);
    expect(r.status).toBe(200);
    expect(r.body.sealed).toBe(false);
    expect(await readCanary(b.url, root)).toBe(CANARY);
  });
});
