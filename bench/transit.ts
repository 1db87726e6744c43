/**
 * Transit throughput: encrypt 1 KiB over HTTP at concurrency 32 beside a bare node:http hello-world server in
 * the same run (both in this process; wrk on loopback), a 1,000-item batch per request (items/s), the engine
 * alone in process (the transit handler without HTTP and core, beside bare AES-256-GCM: what the engine adds),
 * and an HSM-backed AES-256-GCM encrypt through the transit backend beside raw SoftHSM (pkcs11js, own sessions).
 *
 *   npx tsx bench/transit.ts [--seconds 5] [--concurrency 4]     (concurrency: HSM case, in flight)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createCipheriv, randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { startDevServer } from "../dist/server/server.js";
import { createLogger } from "../dist/server/log.js";
import type { Operation, Request } from "../dist/core/framework/request.js";
import { StorageView } from "../dist/core/view.js";
import { SqliteStorage } from "../dist/storage/sqlite.js";
import { HsmRegistry } from "../dist/hsm/hsm-registry.js";
import { pk, type Handle } from "../dist/hsm/module.js";
import { Pkcs11KeyManager } from "../dist/hsm/pkcs11-key-manager.js";
import { parsePkcs11Uri } from "../dist/hsm/uri.js";
import { createTransitBackendWith } from "../dist/engines/transit/backend.js";
import { KeyCustody } from "../dist/core/key-custody/key-custody.js";
import { newMount } from "../dist/core/mounts.js";
import type { Namespace } from "../dist/core/namespaces/namespace.js";
import { cleanupSoftHsm, createSoftHsmToken, softHsmAvailable, SOFTHSM_SKIP_REASON } from "../test/softhsm.js";
import { printTable, requireWrk, runWrk } from "./wrk.js";
import { openRawSessions, startBareServer } from "./baseline.js";
import { percentile } from "./stats.js";

const { values: args } = parseArgs({ options: { seconds: { type: "string", default: "5" }, concurrency: { type: "string", default: "4" } } });
const SECONDS = Number(args.seconds);
const HSM_CONCURRENCY = Number(args.concurrency);
const connections = 32;

const KIB_B64 = randomBytes(1024).toString("base64");

const encryptLua = `
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"plaintext":"${KIB_B64}"}'
`;

const batchLua = (n: number) => `
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local items = {}
for i = 1, ${n} do items[i] = '{"plaintext":"${KIB_B64}"}' end
wrk.body = '{"batch_input":[' .. table.concat(items, ",") .. ']}'
`;

async function httpCases(): Promise<void> {
  requireWrk();
  const { url: bareUrl, server: bare } = await startBareServer();
  const dir = mkdtempSync(join(tmpdir(), "arca-bench-"));
  const arca = await startDevServer({ listenAddress: "127.0.0.1:0", dataDir: dir, logger: createLogger("error", () => undefined) });
  const token = arca.rootToken!;
  const headers = { "X-Vault-Token": token };
  try {
    const mount = async () => fetch(`${arca.url}/v1/sys/mounts/transit`, { method: "POST", headers: { ...headers, "Content-Type": "application/json" }, body: JSON.stringify({ type: "transit" }) });
    const res = await mount();
    if (!res.ok) throw new Error(`mounting transit failed: ${res.status} ${await res.text()}`);
    await fetch(`${arca.url}/v1/transit/keys/bench`, { method: "POST", headers, body: "{}" });
    const check = await fetch(`${arca.url}/v1/transit/encrypt/bench`, { method: "POST", headers, body: JSON.stringify({ plaintext: KIB_B64 }) });
    if (!check.ok) throw new Error(`encrypt failed: ${check.status} ${await check.text()}`);

    const baseline = await runWrk("bare node:http hello world", `${bareUrl}/`, { connections, seconds: SECONDS });
    const enc = await runWrk("transit encrypt 1 KiB", `${arca.url}/v1/transit/encrypt/bench`, { connections, seconds: SECONDS, headers, lua: encryptLua });
    const batch = await runWrk("transit batch 1000 × 1 KiB (req/s)", `${arca.url}/v1/transit/encrypt/bench`, { connections: 4, seconds: SECONDS, headers, lua: batchLua(1000) });
    console.log(`\nHTTP: concurrency ${connections} (batch: 4), ${SECONDS} s per case, wrk -t1 on loopback\n`);
    printTable([baseline, enc, batch], baseline);
    console.log(`\nbatch: ${(batch.opsPerSec * 1000).toFixed(0)} items/s (${(batch.opsPerSec * 1000 / enc.opsPerSec).toFixed(1)}× single-item encrypt ops/s)`);
  } finally {
    await arca.stop();
    bare.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The engine's own cost: encrypt 1 KiB through the LogicalBackend (routing, field parsing, existence check,
 * policy read from an in-memory SQLite view, AES-GCM, envelope) beside node:crypto AES-256-GCM alone.
 */
async function inProcessCase(): Promise<void> {
  const storage = new SqliteStorage({ path: ":memory:" });
  const view = new StorageView(storage, "logical/transit/");
  const backend = createTransitBackendWith({});
  const call = async (operation: Operation, path: string, data: Record<string, unknown>) => {
    const m = backend.resolve(path, operation);
    const req = { id: "b", operation, path: `transit/${path}`, data, mountPoint: "transit/", mountPath: path } as unknown as Request;
    if (operation === "update") await backend.exists(req, m, view);
    return backend.handle(req, m, view);
  };
  try {
    await call("update", "keys/inproc", {});
    const body = { plaintext: KIB_B64 };
    const key = randomBytes(32);
    const kib = Buffer.from(KIB_B64, "base64");
    const bare = () => {
      const c = createCipheriv("aes-256-gcm", key, randomBytes(12), { authTagLength: 16 });
      return Buffer.concat([c.update(kib), c.final(), c.getAuthTag()]).toString("base64");
    };
    const perOp = async (op: () => unknown): Promise<number> => {
      const end = performance.now() + (SECONDS * 1000) / 2;
      let n = 0;
      const start = performance.now();
      while (performance.now() < end) {
        for (let i = 0; i < 100; i++) await op();
        n += 100;
      }
      return ((performance.now() - start) * 1000) / n;
    };
    await perOp(() => call("update", "encrypt/inproc", body)); // warm-up (JIT)
    const engine = await perOp(() => call("update", "encrypt/inproc", body));
    const aes = await perOp(bare);
    console.log(`\nIn process, one at a time, ${SECONDS / 2} s each (no HTTP, no core):\n`);
    console.log(`${"AES-256-GCM 1 KiB + base64 (node:crypto)".padEnd(46)} ${aes.toFixed(1).padStart(8)} µs/op`);
    console.log(`${"transit encrypt/:name (LogicalBackend)".padEnd(46)} ${engine.toFixed(1).padStart(8)} µs/op   engine adds ${(engine - aes).toFixed(1)} µs`);
  } finally {
    await storage.close();
  }
}

interface Acc {
  lat: number[];
  ms: number;
}

/** Raw and transit runs interleaved in 250 ms slices so background load on this shared box hits both alike. */
async function runPair(rawOp: () => Promise<unknown>, transitOp: () => Promise<unknown>): Promise<[Acc, Acc]> {
  const acc: [Acc, Acc] = [{ lat: [], ms: 0 }, { lat: [], ms: 0 }];
  const ops = [rawOp, transitOp];
  for (const op of ops) {
    const warm = performance.now() + 200;
    await Promise.all(Array.from({ length: HSM_CONCURRENCY }, async () => { while (performance.now() < warm) await op(); }));
  }
  const slices = Math.max(2, Math.round((SECONDS * 1000) / 250));
  for (let i = 0; i < slices; i++) {
    for (const side of [0, 1] as const) {
      const start = performance.now();
      const end = start + 250;
      await Promise.all(
        Array.from({ length: HSM_CONCURRENCY }, async () => {
          while (performance.now() < end) {
            const t0 = performance.now();
            await ops[side]();
            acc[side].lat.push(performance.now() - t0);
          }
        }),
      );
      acc[side].ms += performance.now() - start;
    }
  }
  return acc;
}

function summary(name: string, a: Acc, base?: Acc): string {
  a.lat.sort((x, y) => x - y);
  const ops = a.lat.length / (a.ms / 1000);
  const p99 = percentile(a.lat, 99);
  const ratio = base ? `  ${(ops / (base.lat.length / (base.ms / 1000))).toFixed(2)}× raw` : "";
  return `${name.padEnd(46)} ${ops.toFixed(0).padStart(8)} ops/s   p99 ${p99.toFixed(3).padStart(7)} ms${ratio}`;
}

async function hsmCase(): Promise<void> {
  if (!softHsmAvailable()) {
    console.log(SOFTHSM_SKIP_REASON);
    return;
  }
  const t = createSoftHsmToken({ label: "bench-transit" });
  const registry = new HsmRegistry([{ name: "bench", lib: t.libPath, tokenLabel: t.label, pin: t.pin, maxSessions: HSM_CONCURRENCY }]);
  const km = new Pkcs11KeyManager({ tokens: registry });
  const storage = new SqliteStorage({ path: ":memory:" });
  const view = new StorageView(storage, "logical/transit/");
  // What a server's transit mount gets: the key manager scoped by key custody (ownership checked per use).
  const mount = newMount("secret", "transit/", "transit");
  const ns = { entry: { uuid: "bench" }, store: storage, mountByUuid: () => mount } as unknown as Namespace;
  const scoped = new KeyCustody(km, () => storage).forMount(ns, mount);
  const backend = createTransitBackendWith({ keyManager: scoped });
  const unscoped = createTransitBackendWith({ keyManager: km });
  const callOn = (b: typeof backend) => async (operation: Operation, path: string, data: Record<string, unknown>) => {
    const m = b.resolve(path, operation);
    const req = { id: "b", operation, path: `transit/${path}`, data, mountPoint: "transit/", mountPath: path } as unknown as Request;
    return b.handle(req, m, view);
  };
  const call = callOn(backend);
  try {
    const created = await call("update", "keys/hsm", { type: "aes256-gcm96", hsm: true });
    const stored = JSON.parse((await view.get("policy/hsm"))!.toString()) as { keys: Record<string, { hsm: { uri: string } }> };
    if (!created) throw new Error("key not created");
    const uri = stored.keys["1"].hsm.uri;
    const id = parsePkcs11Uri(uri).id!;

    // Raw: a second pkcs11js binding on the same library, own logged-in sessions, one call in flight each.
    const { p11, sessions } = openRawSessions(t.libPath, t.label, HSM_CONCURRENCY);
    p11.C_FindObjectsInit(sessions[0], [{ type: pk.CKA_CLASS, value: pk.CKO_SECRET_KEY }, { type: pk.CKA_ID, value: id }]);
    const [hAes] = p11.C_FindObjects(sessions[0], 1);
    p11.C_FindObjectsFinal(sessions[0]);
    if (hAes === undefined) throw new Error("could not find the transit key's object by CKA_ID");
    const kib = randomBytes(1024);
    const free: Handle[] = [...sessions];
    const gcm = () => ({ mechanism: pk.CKM_AES_GCM, parameter: { type: pk.CK_PARAMS_GCM, iv: randomBytes(12), ivBits: 96, tagBits: 128 } });
    const raw = async () => {
      const s = free.pop()!;
      try {
        p11.C_EncryptInit(s, gcm(), hAes);
        return await p11.C_EncryptAsync(s, kib, Buffer.alloc(1040));
      } finally {
        free.push(s);
      }
    };
    const body = { plaintext: kib.toString("base64") };
    const viaTransit = () => call("update", "encrypt/hsm", body);
    const viaUnscoped = () => callOn(unscoped)("update", "encrypt/hsm", body);
    const [r, tr] = await runPair(raw, viaTransit);
    const [r2, un] = await runPair(raw, viaUnscoped);
    console.log(`\nHSM-backed AES-256-GCM encrypt 1 KiB, SoftHSM, ${HSM_CONCURRENCY} in flight, in-process (no HTTP), ${SECONDS} s each, interleaved\n`);
    console.log(summary("raw SoftHSM (pkcs11js async)", r));
    console.log(summary("transit encrypt/:name (HSM key, key custody)", tr, r));
    console.log(summary("raw SoftHSM (pkcs11js async), second run", r2));
    console.log(summary("transit encrypt/:name (unscoped key manager)", un, r2));
  } finally {
    await storage.close();
    await km.close();
    registry.close();
    cleanupSoftHsm();
  }
}

await httpCases();
await inProcessCase();
await hsmCase();
