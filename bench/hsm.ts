// HSM hot paths: raw pkcs11js beside the same operations through Pkcs11KeyManager, in one run, on a throwaway
// SoftHSM token. Prints ops/s, p50/p99 latency, event-loop lag p99 and the KeyManager/raw ratio.
//
//   npx tsx bench/hsm.ts                 # defaults: 2 s per case, 4 in flight
//   npx tsx bench/hsm.ts --seconds 1 --concurrency 8
//   npx tsx bench/hsm.ts --workers       # adds the worker_threads comparison (module.ts's design note)
import { createHash, randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import { parseArgs } from "node:util";
import { cleanupSoftHsm, createSoftHsmToken, softHsmAvailable, SOFTHSM_SKIP_REASON } from "../test/softhsm.js";
import { HsmRegistry } from "../dist/hsm/hsm-registry.js";
import { digestInfo } from "../dist/hsm/key-encoding.js";
import pkcs11js from "pkcs11js";
import { loadPkcs11Module, pk, type Handle } from "../dist/hsm/module.js";
import { Pkcs11KeyManager } from "../dist/hsm/pkcs11-key-manager.js";
import { openRawSessions } from "./baseline.js";
import { percentile } from "./stats.js";

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "2" },
    concurrency: { type: "string", default: "4" },
    workers: { type: "boolean", default: false },
  },
});
const SECONDS = Number(args.seconds);
const CONCURRENCY = Number(args.concurrency);

interface Result {
  name: string;
  ops: number;
  p50: number;
  p99: number;
  lagP99: number;
}


/** Closed loop: `concurrency` callers each awaiting `op` back to back for SECONDS (after a short warm-up). */
async function run(name: string, op: () => Promise<unknown>, concurrency = CONCURRENCY): Promise<Result> {
  const warmEnd = performance.now() + 200;
  await Promise.all(Array.from({ length: concurrency }, async () => { while (performance.now() < warmEnd) await op(); }));
  const lat: number[] = [];
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  const start = performance.now();
  const end = start + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        await op();
        lat.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  lag.disable();
  lat.sort((a, b) => a - b);
  return { name, ops: lat.length / elapsed, p50: percentile(lat, 50), p99: percentile(lat, 99), lagP99: lag.percentile(99) / 1e6 };
}

/** A synchronous loop (blocks the event loop for the whole run): the single-thread ceiling. */
function runSync(name: string, op: () => void): Result {
  const lat: number[] = [];
  const start = performance.now();
  const end = start + Math.min(SECONDS, 1) * 1000;
  while (performance.now() < end) {
    const t0 = performance.now();
    op();
    lat.push(performance.now() - t0);
  }
  const elapsed = (performance.now() - start) / 1000;
  lat.sort((a, b) => a - b);
  return { name, ops: lat.length / elapsed, p50: percentile(lat, 50), p99: percentile(lat, 99), lagP99: elapsed * 1000 };
}

/**
 * Raw and KeyManager runs interleaved in 250 ms slices, so load from other processes on this shared 2-core box
 * hits both sides alike (back-to-back runs drifted by ±30 % here).
 */
async function runPair(name: string, rawOp: () => Promise<unknown>, kmOp: () => Promise<unknown>): Promise<[Result, Result]> {
  const acc = { raw: { lat: [] as number[], t: 0, lag: 0 }, km: { lat: [] as number[], t: 0, lag: 0 } };
  const slices = Math.max(2, Math.round((SECONDS * 1000) / 250));
  for (const op of [rawOp, kmOp]) {
    const warmEnd = performance.now() + 100;
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => { while (performance.now() < warmEnd) await op(); }));
  }
  for (let i = 0; i < slices; i++) {
    for (const [side, op] of [["raw", rawOp], ["km", kmOp]] as const) {
      const a = acc[side];
      const lag = monitorEventLoopDelay({ resolution: 1 });
      lag.enable();
      const start = performance.now();
      const end = start + 250;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (performance.now() < end) {
            const t0 = performance.now();
            await op();
            a.lat.push(performance.now() - t0);
          }
        }),
      );
      a.t += performance.now() - start;
      lag.disable();
      a.lag = Math.max(a.lag, lag.percentile(99) / 1e6);
    }
  }
  const result = (side: "raw" | "km", label: string): Result => {
    const a = acc[side];
    a.lat.sort((x, y) => x - y);
    return { name: `${name} ${label}`, ops: a.lat.length / (a.t / 1000), p50: percentile(a.lat, 50), p99: percentile(a.lat, 99), lagP99: a.lag };
  };
  return [result("raw", "raw async"), result("km", "KeyManager")];
}

function print(r: Result, base?: Result): void {
  const ratio = base ? `  ${(r.ops / base.ops).toFixed(2)}× raw` : "";
  console.log(
    `${r.name.padEnd(44)} ${r.ops.toFixed(0).padStart(8)} ops/s   p50 ${r.p50.toFixed(3).padStart(7)} ms   p99 ${r.p99.toFixed(3).padStart(7)} ms   loop-lag p99 ${r.lagP99.toFixed(1).padStart(7)} ms${ratio}`,
  );
}

function findKey(p11: pkcs11js.PKCS11, session: Handle, cls: number, id: Buffer): Handle {
  p11.C_FindObjectsInit(session, [{ type: pk.CKA_CLASS, value: cls }, { type: pk.CKA_ID, value: id }]);
  const [h] = p11.C_FindObjects(session, 1);
  p11.C_FindObjectsFinal(session);
  return h;
}

async function main(): Promise<void> {
  if (!softHsmAvailable()) {
    console.log(SOFTHSM_SKIP_REASON);
    return;
  }
  const t = createSoftHsmToken({ label: "bench" });
  const registry = new HsmRegistry([{ name: "bench", lib: t.libPath, tokenLabel: t.label, pin: t.pin, maxSessions: CONCURRENCY }]);
  const km = new Pkcs11KeyManager({ tokens: registry });
  const rsa = await km.createKey({ algorithm: "rsa-2048", label: "bench-rsa" });
  const ec = await km.createKey({ algorithm: "ec-p256", label: "bench-ec" });
  const aes = await km.createKey({ algorithm: "aes-256", label: "bench-aes" });

  // Raw: a second pkcs11js binding on the same library (C_Initialize is shared, so ALREADY_INITIALIZED is expected),
  // our own sessions, already logged in (login is per application and token).
  const { p11, sessions } = openRawSessions(t.libPath, t.label, CONCURRENCY);
  const s0 = sessions[0];
  const hRsa = findKey(p11, s0, pk.CKO_PRIVATE_KEY, rsa.id);
  const hEc = findKey(p11, s0, pk.CKO_PRIVATE_KEY, ec.id);
  const hAes = findKey(p11, s0, pk.CKO_SECRET_KEY, aes.id);

  const msg = Buffer.from("a 55-byte message, as in the reference toolchain bench!!");
  const kib = randomBytes(1024);
  const rsaIn = () => digestInfo("sha256", createHash("sha256").update(msg).digest());
  const ecIn = () => createHash("sha256").update(msg).digest();
  const gcm = () => ({ mechanism: pk.CKM_AES_GCM, parameter: { type: pk.CK_PARAMS_GCM, iv: randomBytes(12), ivBits: 96, tagBits: 128 } });

  // Raw async: a free-list of sessions, one call in flight per session.
  const free = [...sessions];
  const withRawSession = async <T>(fn: (s: Handle) => Promise<T>): Promise<T> => {
    const s = free.pop()!;
    try {
      return await fn(s);
    } finally {
      free.push(s);
    }
  };
  const raw = {
    rsa: () => withRawSession((s) => (p11.C_SignInit(s, { mechanism: pk.CKM_RSA_PKCS }, hRsa), p11.C_SignAsync(s, rsaIn(), Buffer.alloc(256)))),
    ec: () => withRawSession((s) => (p11.C_SignInit(s, { mechanism: pk.CKM_ECDSA }, hEc), p11.C_SignAsync(s, ecIn(), Buffer.alloc(64)))),
    aes: () => withRawSession((s) => (p11.C_EncryptInit(s, gcm(), hAes), p11.C_EncryptAsync(s, kib, Buffer.alloc(1040)))),
  };
  const rsaSigner = await km.createSigner(rsa.uri);
  const ecSigner = await km.createSigner(ec.uri);
  const viaKm = {
    rsa: () => rsaSigner.sign(msg),
    ec: () => ecSigner.sign(msg),
    aes: () => km.encrypt(aes.uri, kib),
  };

  console.log(`SoftHSM bench: ${SECONDS}s per case, ${CONCURRENCY} in flight, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? "4 (default)"}`);
  print(runSync("RSA-2048 sign   raw sync, 1 session", () => (p11.C_SignInit(s0, { mechanism: pk.CKM_RSA_PKCS }, hRsa), p11.C_Sign(s0, rsaIn(), Buffer.alloc(256)))));
  print(runSync("ECDSA P-256 sign raw sync, 1 session", () => (p11.C_SignInit(s0, { mechanism: pk.CKM_ECDSA }, hEc), p11.C_Sign(s0, ecIn(), Buffer.alloc(64)))));
  print(runSync("AES-GCM 1KiB enc raw sync, 1 session", () => (p11.C_EncryptInit(s0, gcm(), hAes), p11.C_Encrypt(s0, kib, Buffer.alloc(1040)))));
  for (const [label, key] of [["RSA-2048 sign", "rsa"], ["ECDSA P-256 sign", "ec"], ["AES-256-GCM 1KiB encrypt", "aes"]] as const) {
    const [r, k] = await runPair(label, raw[key], viaKm[key]);
    print(r);
    print(k, r);
  }

  if (args.workers) await workerComparison(t.libPath, hRsa, hEc, loadPkcs11Module(t.libPath).findToken({ label: t.label }).slot, msg);

  for (const s of sessions) p11.C_CloseSession(s);
  await km.close();
  registry.close();
  cleanupSoftHsm();
}

/**
 * The alternative module.ts rejected: N worker_threads, each with its own sessions making *sync* pkcs11js calls,
 * fed by postMessage. Same library in the same process (C_Initialize and login are shared), so the handles work.
 */
async function workerComparison(libPath: string, hRsa: Handle, hEc: Handle, slot: Handle, msg: Buffer): Promise<void> {
  const nWorkers = 2;
  const pkcs11Path = createRequire(import.meta.url).resolve("pkcs11js");
  const code = `
    const { parentPort, workerData } = require("node:worker_threads");
    const { createHash } = require("node:crypto");
    const pk = require(${JSON.stringify(pkcs11Path)});
    const p11 = new pk.PKCS11(); p11.load(workerData.lib);
    try { p11.C_Initialize({ flags: pk.CKF_OS_LOCKING_OK }); } catch (e) { if (!/ALREADY_INITIALIZED/.test(e.message)) throw e; }
    const s = p11.C_OpenSession(Buffer.from(workerData.slot), pk.CKF_SERIAL_SESSION | pk.CKF_RW_SESSION);
    const prefix = Buffer.from("3031300d060960864801650304020105000420", "hex");
    parentPort.on("message", (m) => {
      const d = createHash("sha256").update(Buffer.from(m.data)).digest();
      let sig;
      if (m.kind === "ec") { p11.C_SignInit(s, { mechanism: pk.CKM_ECDSA }, Buffer.from(workerData.hEc)); sig = p11.C_Sign(s, d, Buffer.alloc(64)); }
      else { p11.C_SignInit(s, { mechanism: pk.CKM_RSA_PKCS }, Buffer.from(workerData.hRsa)); sig = p11.C_Sign(s, Buffer.concat([prefix, d]), Buffer.alloc(256)); }
      parentPort.postMessage({ id: m.id, sig });
    });`;
  const workers = Array.from(
    { length: nWorkers },
    () => new Worker(code, { eval: true, workerData: { lib: libPath, slot: [...slot], hEc: [...hEc], hRsa: [...hRsa] } }),
  );
  const pending = new Map<number, (b: Buffer) => void>();
  for (const w of workers) w.on("message", (m: { id: number; sig: Uint8Array }) => pending.get(m.id)?.(Buffer.from(m.sig)));
  let next = 0;
  const call = (kind: "ec" | "rsa") =>
    new Promise<Buffer>((resolve) => {
      const id = next++;
      pending.set(id, (b) => (pending.delete(id), resolve(b)));
      workers[id % nWorkers].postMessage({ id, kind, data: msg });
    });
  print(await run(`ECDSA P-256 sign ${nWorkers} worker_threads (sync)`, () => call("ec")));
  print(await run(`RSA-2048 sign ${nWorkers} worker_threads (sync)`, () => call("rsa")));
  await Promise.all(workers.map((w) => w.terminate()));
}

await main();
