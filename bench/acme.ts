// ACME: complete orders per second — new-order → authorization → http-01 challenge (validated by the server
// against a loopback responder) → finalize with a CSR → certificate download — with a built-in client
// (test/acme-client.ts, JWS by jose), in-process through the PKI backend on SQLite. Beside it, in the same
// run and on the same mount, PKI issue/:role and sign/:role (bench/pki's cases). CA key in software, then in
// SoftHSM.
//
//   npm run build && npx tsx bench/acme.ts                 # 5 s per case, 16 in flight, in-memory SQLite
//   npx tsx bench/acme.ts --seconds 3 --concurrency 16 --file
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { AcmeTestClient, accountKey, type AcmeReply, type Transport } from "../test/acme-client.js";
import { cleanupSoftHsm, createSoftHsmToken, softHsmAvailable, SOFTHSM_SKIP_REASON } from "../test/softhsm.js";
import { rawMediaType, type Operation, type Response } from "../dist/core/framework/request.js";
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
    seconds: { type: "string", default: "5" },
    concurrency: { type: "string", default: "16" },
    file: { type: "boolean", default: false },
  },
});
const SECONDS = Number(args.seconds);
const CONCURRENCY = Number(args.concurrency);
const MOUNT_URL = "https://ca.bench/v1/pki";
const NAME = "bench.example.test";
const PKI_MOUNT = { point: "pki/", type: "pki" };

/** `op(worker)`: each of the CONCURRENCY workers has its own index (its own ACME account). */
function measure(name: string, op: (worker: number) => Promise<unknown>, warmup = 20): Promise<BenchResult> {
  return measureClosedLoop(name, op, { seconds: SECONDS, concurrency: CONCURRENCY, warmup });
}

function reply(resp: Response | undefined): AcmeReply {
  const raw = resp?.raw;
  if (!raw) return { status: 204, headers: {}, body: "" };
  const h = raw.headers ?? {};
  return { status: raw.status, headers: { replayNonce: h.replayNonce, location: h.location, link: h.link, retryAfter: h.retryAfter, contentType: raw.contentType }, body: typeof raw.body === "string" ? raw.body : raw.body.toString("utf8") };
}

function mount(km: KeyManager | undefined, dir: string) {
  const storage = new SqliteStorage({ path: args.file ? join(dir, `acme-${Math.random().toString(36).slice(2)}.db`) : ":memory:" });
  const view = new StorageView(storage, "logical/pki/");
  const resolver = { addresses: async () => ["127.0.0.1"], txt: async () => [] };
  const backend = createPkiBackendWith({ keyManager: km, acmeValidation: { resolver: () => resolver, retryDelaysMs: [50, 100] } });
  const handle = async (operation: Operation, path: string, data: Record<string, unknown>, body?: Buffer, contentType?: string): Promise<Response | undefined> => {
    const m = backend.resolve(path, operation);
    const mediaType = rawMediaType(contentType);
    const req = backendRequest(PKI_MOUNT, operation, path, data, body && mediaType ? { mediaType, bytes: body } : undefined);
    return backend.handle(req, m, view);
  };
  const transport: Transport = async (method, url, body, contentType) => {
    const path = url.slice(MOUNT_URL.length + 1);
    return reply(method === "POST" ? await handle("update", path, {}, Buffer.from(body ?? ""), contentType) : await handle("read", path, {}));
  };
  return { handle, transport, close: async () => { await backend.cleanup(); await storage.close(); } };
}

/** The http-01 responder every order's challenge is answered by. */
async function responder(): Promise<{ port: number; answers: Map<string, string>; close: () => Promise<void> }> {
  const answers = new Map<string, string>();
  const server = createServer((req, res) => {
    const a = answers.get((req.url ?? "").replace("/.well-known/acme-challenge/", ""));
    res.writeHead(a ? 200 : 404).end(a ?? "");
  });
  server.keepAliveTimeout = 1;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { port: (server.address() as AddressInfo).port, answers, close: () => new Promise((r) => server.close(() => r())) };
}

interface OrderBody { status: string; authorizations: string[]; finalize: string; certificate?: string }
interface AuthzBody { status: string; challenges: Array<{ type: string; url: string; token: string }> }

async function completeOrder(c: AcmeTestClient, web: { answers: Map<string, string> }, csr: string): Promise<void> {
  const { body: order } = await c.json<OrderBody>(c.dir.newOrder, { identifiers: [{ type: "dns", value: NAME }] });
  const authzUrl = order.authorizations[0];
  const { body: authz } = await c.json<AuthzBody>(authzUrl);
  const ch = authz.challenges.find((x) => x.type === "http-01")!;
  web.answers.set(ch.token, await c.keyAuthorization(ch.token));
  await c.json(ch.url, {});
  for (;;) {
    const { body } = await c.json<AuthzBody>(authzUrl);
    if (body.status === "valid") break;
    if (body.status !== "pending") throw new Error(`authorization ${body.status}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  web.answers.delete(ch.token);
  const { body: done } = await c.json<OrderBody>(order.finalize, { csr });
  if (done.status !== "valid" || !done.certificate) throw new Error(`order ${done.status}`);
  const cert = await c.post(done.certificate);
  if (cert.status !== 200 || !cert.body.includes("BEGIN CERTIFICATE")) throw new Error(`download ${cert.status}`);
}

async function caseSet(label: string, m: ReturnType<typeof mount>, type: "internal" | "kms", csrDer: string, csrPem: string, port: number, web: { answers: Map<string, string> }): Promise<BenchResult[]> {
  await m.handle("update", `root/generate/${type}`, { common_name: `Bench ACME ${label}`, key_type: "ec", key_bits: 256, ttl: "87600h" });
  await m.handle("update", "roles/web", { allowed_domains: "example.test", allow_subdomains: "true", key_type: "ec", max_ttl: "720h" });
  await m.handle("update", "config/cluster", { path: MOUNT_URL });
  await m.handle("update", "config/acme", { enabled: true, allowed_validation_networks: ["127.0.0.0/8"], http01_port: port });
  const clients: AcmeTestClient[] = [];
  for (let i = 0; i < CONCURRENCY; i++) {
    const c = await new AcmeTestClient(m.transport, `${MOUNT_URL}/acme/directory`, await accountKey("ES256")).init();
    await c.register();
    clients.push(c);
  }
  const acme = await measure(`ACME complete order (http-01, finalize, download), CA ${label}`, (w) => completeOrder(clients[w], web, csrDer), 4);
  const issue = await measure(`pki issue/:role (P-256 keygen + sign),                CA ${label}`, () => m.handle("update", "issue/web", { common_name: NAME, ttl: "24h" }));
  const sign = await measure(`pki sign/:role (CSR + sign),                          CA ${label}`, () =>
    m.handle("update", "sign/web", { csr: csrPem, common_name: NAME, alt_names: NAME, ttl: "24h0m0s", exclude_cn_from_sans: "true" }),
  );
  return [acme, issue, sign];
}

function print(results: BenchResult[]): void {
  for (const r of results) console.log(`${r.name.padEnd(76)} ${r.ops.toFixed(1).padStart(8)} /s   p50 ${r.p50.toFixed(2)} ms   p99 ${r.p99.toFixed(2)} ms`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "arca-bench-acme-"));
  execFileSync("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "leaf.key"), "-outform", "DER", "-out", join(dir, "leaf.der"), "-subj", `/CN=${NAME}`, "-addext", `subjectAltName=DNS:${NAME}`], { stdio: "ignore" });
  const csrDer = readFileSync(join(dir, "leaf.der")).toString("base64url");
  const csrPem = execFileSync("openssl", ["req", "-inform", "DER", "-in", join(dir, "leaf.der")], { encoding: "utf8" });
  const web = await responder();
  console.log(`acme bench: ${SECONDS}s per case, ${CONCURRENCY} in flight, storage ${args.file ? "SQLite file (WAL, synchronous=FULL)" : "SQLite :memory:"}`);
  const results: BenchResult[] = [];
  const soft = mount(undefined, dir);
  results.push(...(await caseSet("in software", soft, "internal", csrDer, csrPem, web.port, web)));
  await soft.close();
  if (!softHsmAvailable()) console.log(SOFTHSM_SKIP_REASON);
  else {
    const token = createSoftHsmToken({ label: "bench-acme" });
    const registry = new HsmRegistry([{ name: "soft", lib: token.libPath, tokenLabel: token.label, pin: token.pin }]);
    const hsm = mount(new Pkcs11KeyManager({ tokens: registry }), dir);
    results.push(...(await caseSet("in SoftHSM", hsm, "kms", csrDer, csrPem, web.port, web)));
    await hsm.close();
    registry.close();
    cleanupSoftHsm();
  }
  print(results);
  await web.close();
  rmSync(dir, { recursive: true, force: true });
}

await main();
