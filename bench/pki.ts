// PKI leaf issuance, in-process through the backend (route → fields → role → sign → store), on SQLite
// storage. Cases: issue/:role and sign/:role with a P-256 CA key in software; the same with the CA key in
// SoftHSM, beside raw SoftHSM signing (KeyManager Signer, same key type, same concurrency) in the same run.
//
//   npx tsx bench/pki.ts                       # 3 s per case, 16 in flight, in-memory SQLite
//   npx tsx bench/pki.ts --seconds 2 --concurrency 32 --file   # file-backed SQLite (WAL, synchronous=FULL)
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cleanupSoftHsm, createSoftHsmToken, softHsmAvailable, SOFTHSM_SKIP_REASON } from "../test/softhsm.js";
import type { Operation } from "../dist/core/framework/request.js";
import { StorageView } from "../dist/core/view.js";
import { HsmRegistry } from "../dist/hsm/hsm-registry.js";
import type { KeyManager } from "../dist/hsm/key-manager.js";
import { Pkcs11KeyManager } from "../dist/hsm/pkcs11-key-manager.js";
import { SqliteStorage } from "../dist/storage/sqlite.js";
import { createPkiBackendWith } from "../dist/engines/pki/backend.js";
import { backendRequest } from "../test/backend-request.js";
import { measureClosedLoop, type BenchResult } from "./stats.js";

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "3" },
    concurrency: { type: "string", default: "16" },
    file: { type: "boolean", default: false },
  },
});
const SECONDS = Number(args.seconds);
const CONCURRENCY = Number(args.concurrency);

function measure(name: string, op: () => Promise<unknown>): Promise<BenchResult> {
  return measureClosedLoop(name, op, { seconds: SECONDS, concurrency: CONCURRENCY, warmup: 50 });
}

function mount(km: KeyManager | undefined, dir: string) {
  const storage = new SqliteStorage({ path: args.file ? join(dir, `pki-${Math.random().toString(36).slice(2)}.db`) : ":memory:" });
  const view = new StorageView(storage, "logical/pki/");
  const backend = createPkiBackendWith({ keyManager: km });
  const call = async (operation: Operation, path: string, data: Record<string, unknown>) => {
    const m = backend.resolve(path, operation);
    const req = backendRequest({ point: "pki/", type: "pki" }, operation, path, data);
    const r = await backend.handle(req, m, view);
    if (!r?.data && operation !== "update") throw new Error(`no data from ${path}`);
    return r?.data ?? {};
  };
  return { call, close: () => storage.close() };
}

function csrPem(dir: string): string {
  const key = join(dir, "leaf.key");
  return execFileSync(
    "openssl",
    ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-subj", "/CN=bench.example.com", "-addext", "subjectAltName=DNS:bench.example.com"],
    { encoding: "utf8" },
  );
}

async function caseSet(label: string, m: ReturnType<typeof mount>, type: "internal" | "kms", csr: string): Promise<BenchResult[]> {
  await m.call("update", `root/generate/${type}`, { common_name: `Bench ${label}`, key_type: "ec", key_bits: 256, ttl: "87600h" });
  await m.call("update", "roles/web", { allowed_domains: "example.com", allow_subdomains: "true", key_type: "ec", max_ttl: "720h" });
  const issue = await measure(`issue/:role  (P-256 leaf keygen + sign), CA ${label}`, () =>
    m.call("update", "issue/web", { common_name: "bench.example.com", ttl: "24h" }),
  );
  const sign = await measure(`sign/:role   (CSR parse+verify + sign),  CA ${label}`, () =>
    m.call("update", "sign/web", { csr, common_name: "bench.example.com", alt_names: "bench.example.com", ttl: "24h0m0s", exclude_cn_from_sans: "true" }),
  );
  return [issue, sign];
}

function print(results: BenchResult[]): void {
  for (const r of results) {
    console.log(`${r.name.padEnd(64)} ${r.ops.toFixed(0).padStart(7)} /s   p50 ${r.p50.toFixed(2)} ms   p99 ${r.p99.toFixed(2)} ms`);
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "arca-bench-pki-"));
  const csr = csrPem(dir);
  console.log(`pki bench: ${SECONDS}s per case, ${CONCURRENCY} in flight, storage ${args.file ? "SQLite file (WAL, synchronous=FULL)" : "SQLite :memory:"}`);
  const results: BenchResult[] = [];
  const soft = mount(undefined, dir);
  results.push(...(await caseSet("in software", soft, "internal", csr)));
  await soft.close();

  if (!softHsmAvailable()) {
    console.log(SOFTHSM_SKIP_REASON);
  } else {
    const token = createSoftHsmToken({ label: "bench-pki" });
    const registry = new HsmRegistry([{ name: "soft", lib: token.libPath, tokenLabel: token.label, pin: token.pin }]);
    const km = new Pkcs11KeyManager({ tokens: registry });
    const hsm = mount(km, dir);
    const hsmResults = await caseSet("in SoftHSM", hsm, "kms", csr);
    // Raw signing with the same key type through the same KeyManager, 300-byte TBS-sized input.
    const raw = await km.createKey({ algorithm: "ec-p256", label: "bench-raw" });
    const signer = await km.createSigner(raw.uri);
    const tbs = Buffer.alloc(300, 7);
    const rawResult = await measure("raw SoftHSM ECDSA P-256 sign (KeyManager Signer)", () => signer.sign(tbs, { hash: "sha256" }));
    results.push(...hsmResults, rawResult);
    await hsm.close();
    registry.close();
    cleanupSoftHsm();
    print(results);
    console.log(`issue with CA in SoftHSM / raw SoftHSM signing: ${(hsmResults[0].ops / rawResult.ops).toFixed(2)}×`);
    console.log(`sign  with CA in SoftHSM / raw SoftHSM signing: ${(hsmResults[1].ops / rawResult.ops).toFixed(2)}×`);
    rmSync(dir, { recursive: true, force: true });
    return;
  }
  print(results);
  rmSync(dir, { recursive: true, force: true });
}

await main();
