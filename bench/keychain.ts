/**
 * Keychain figures (issue 15): data key and decrypt ops/s over HTTP at concurrency 32 beside a bare
 * node:http hello-world server in the same run (wrk on loopback); the time from `revoke` returning to every
 * one of 1,000 systems refusing; and the background re-wrap of 10,000 key configurations (L2) after an L1
 * rotation. L1 keys live in SoftHSM when it is installed (a dev server with -dev-hsm), else in the dev-only
 * software keystore (said in the output).
 *
 *   npm run build && npx tsx bench/keychain.ts [--seconds 5] [--configs 10000] [--systems 1000]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { startDevServer, type RunningServer } from "../dist/server/server.js";
import { createLogger } from "../dist/server/log.js";
import { cleanupSoftHsm, createSoftHsmToken, softHsmAvailable } from "../test/softhsm.js";
import { startBareServer } from "./baseline.js";
import { percentile } from "./stats.js";
import { printTable, requireWrk, runWrk } from "./wrk.js";

const { values: args } = parseArgs({ options: { seconds: { type: "string", default: "5" }, configs: { type: "string", default: "10000" }, systems: { type: "string", default: "1000" } } });
const SECONDS = Number(args.seconds);
const CONFIGS = Number(args.configs);
const SYSTEMS = Number(args.systems);
const CONNECTIONS = 32;

interface Client {
  call(method: string, path: string, body?: unknown): Promise<{ status: number; data: Record<string, unknown> | undefined }>;
}

function client(server: RunningServer): Client {
  const headers = { "X-Vault-Token": server.rootToken!, "Content-Type": "application/json" };
  return {
    async call(method, path, body) {
      const res = await fetch(`${server.url}/v1/${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
      const text = await res.text();
      const json = text ? (JSON.parse(text) as { data?: Record<string, unknown> }) : undefined;
      return { status: res.status, data: json?.data };
    },
  };
}

async function must(c: Client, method: string, path: string, body?: unknown): Promise<Record<string, unknown> | undefined> {
  const r = await c.call(method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status}`);
  return r.data;
}

/** Runs `fn(i)` for i < n with at most `width` in flight. */
async function pool(n: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

async function httpCases(server: RunningServer, c: Client): Promise<void> {
  requireWrk();
  const { url: bareUrl, server: bare } = await startBareServer();
  try {
    const dk = (await must(c, "POST", "kc/systems/bench/datakey", { bits: 256 })) as { ciphertext: string };
    const headers = { "X-Vault-Token": server.rootToken! };
    const post = (body: unknown) => `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = '${JSON.stringify(body)}'\n`;
    const baseline = await runWrk("bare node:http hello world", `${bareUrl}/`, { connections: CONNECTIONS, seconds: SECONDS });
    const datakey = await runWrk("keychain datakey (256 bits)", `${server.url}/v1/kc/systems/bench/datakey`, { connections: CONNECTIONS, seconds: SECONDS, headers, lua: post({ bits: 256 }) });
    const decrypt = await runWrk("keychain decrypt", `${server.url}/v1/kc/systems/bench/decrypt`, { connections: CONNECTIONS, seconds: SECONDS, headers, lua: post({ ciphertext: dk.ciphertext }) });
    // The same pipeline (token, policy, audit, barrier) with the lightest engine call: what any request costs.
    await must(c, "POST", "sys/mounts/transit", { type: "transit" });
    await must(c, "POST", "transit/keys/ref");
    const transit = await runWrk("transit datakey (reference)", `${server.url}/v1/transit/datakey/plaintext/ref`, { connections: CONNECTIONS, seconds: SECONDS, headers, lua: post({ bits: 256 }) });
    console.log(`\nHTTP: concurrency ${CONNECTIONS}, ${SECONDS} s per case, wrk -t1 on loopback (L2/L3 from the in-memory cache)\n`);
    printTable([baseline, datakey, decrypt, transit], baseline);
  } finally {
    bare.close();
  }
}

async function revokeCase(c: Client): Promise<void> {
  await must(c, "POST", "kc/keys/cut", { keystore: "ks" });
  await must(c, "POST", "kc/key-configurations/cut-cfg", { primary_key: "cut" });
  const cts: string[] = [];
  await pool(SYSTEMS, 32, async (i) => {
    await must(c, "POST", `kc/systems/cut-${i}`, { key_configuration: "cut-cfg" });
    cts[i] = ((await must(c, "POST", `kc/systems/cut-${i}/datakey`, {})) as { ciphertext: string }).ciphertext;
  });
  // Every system answers (and has its L3 cached) right before the switch.
  const warm = performance.now();
  await pool(SYSTEMS, 32, async (i) => void (await must(c, "POST", `kc/systems/cut-${i}/decrypt`, { ciphertext: cts[i] })));
  const t0 = performance.now();
  await must(c, "POST", "kc/keys/cut/revoke");
  const returned = performance.now();
  const answered: number[] = [];
  let refused = 0;
  // Every system asked once, 32 at a time (the load the HTTP cases use), right after the call returned.
  await pool(SYSTEMS, 32, async (i) => {
    const r = await c.call("POST", `kc/systems/cut-${i}/decrypt`, { ciphertext: cts[i] });
    answered.push(performance.now() - returned);
    if (r.status >= 400) refused++;
  });
  answered.sort((a, b) => a - b);
  console.log(`\nRevoke with ${SYSTEMS} systems (all cached and answering just before):`);
  console.log(`  before: ${SYSTEMS} decrypts (concurrency 32) all answered in ${(t0 - warm).toFixed(1)} ms`);
  console.log(`  revoke call: ${(returned - t0).toFixed(1)} ms; then ${SYSTEMS} decrypts (concurrency 32): ${refused}/${SYSTEMS} refused`);
  console.log(`  refusals arrived ${answered[0].toFixed(1)} ms (first) .. ${percentile(answered, 50).toFixed(1)} ms (p50) .. ${answered[answered.length - 1].toFixed(1)} ms (last) after revoke returned`);
  console.log(`  (the cut-off itself is the call's return: the state is committed and the cache zeroed before it answers)`);
}

async function rewrapCase(c: Client): Promise<void> {
  await must(c, "POST", "kc/keys/many", { keystore: "ks" });
  const t0 = performance.now();
  await pool(CONFIGS, 32, async (i) => void (await must(c, "POST", `kc/key-configurations/many-${i}`, { primary_key: "many" })));
  const made = performance.now();
  await must(c, "POST", "kc/keys/many/rotate");
  const rotated = performance.now();
  let job: { state: string; done: number; total: number; failed: number } | undefined;
  for (;;) {
    job = ((await must(c, "GET", "kc/keys/many")) as { rewrap?: typeof job }).rewrap;
    if (job?.state === "done") break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const done = performance.now();
  console.log(`\nRe-wrap after L1 rotation: ${CONFIGS} key configurations (L2) under one L1`);
  console.log(`  creating them: ${((made - t0) / 1000).toFixed(1)} s (${(CONFIGS / ((made - t0) / 1000)).toFixed(0)}/s over HTTP, concurrency 32)`);
  console.log(`  rotate returned in ${(rotated - made).toFixed(1)} ms; background re-wrap of ${job.done}/${job.total} (failed ${job.failed}) took ${((done - rotated) / 1000).toFixed(2)} s (${(job.done / ((done - rotated) / 1000)).toFixed(0)} L2/s)`);
  console.log(`  (L3s are wrapped by L2, which an L1 rotation does not change: they need no re-wrap)`);
}

async function main(): Promise<void> {
  const hsm = softHsmAvailable();
  const token = hsm ? createSoftHsmToken({ label: "kc-bench" }) : undefined;
  const dir = mkdtempSync(join(tmpdir(), "arca-bench-kc-"));
  const devHsm = token ? `pkcs11:token=${token.label}?module-path=${token.libPath}&pin-value=${token.pin}` : undefined;
  const server = await startDevServer({ listenAddress: "127.0.0.1:0", dataDir: dir, logger: createLogger("error", () => undefined), ...(devHsm ? { devHsm } : {}) });
  const c = client(server);
  try {
    await must(c, "POST", "sys/mounts/kc", { type: "keychain" });
    await must(c, "POST", "kc/keystores/ks", token ? { type: "pkcs11", uri: `pkcs11:token=${token.label}` } : { type: "software" });
    console.log(`L1 keystore: ${token ? "pkcs11 (SoftHSM)" : "software (SoftHSM not installed)"}`);
    await must(c, "POST", "kc/keys/k", { keystore: "ks" });
    await must(c, "POST", "kc/key-configurations/cfg", { primary_key: "k" });
    await must(c, "POST", "kc/systems/bench", { key_configuration: "cfg" });
    await httpCases(server, c);
    await revokeCase(c);
    await rewrapCase(c);
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
    if (token) cleanupSoftHsm();
  }
}

await main();
