/**
 * Custody canary (issue 4, "Proof"): unique secret strings are planted through every endpoint family
 * that takes or hands out secrets, then the server's logs, its audit file and the raw bytes of its SQLite
 * files are searched for them in plaintext, hex, base64 and base64url. None may be there: the audit file
 * holds them only as `hmac-sha256:` values, storage only as barrier ciphertext, the log not at all.
 *
 * What counts as secret follows OpenBao. Values, passwords, secret IDs, tokens, accessors, token `meta`,
 * KV custom_metadata and keys are held to the rule. KV custom_metadata and token `meta` are not secret
 * in OpenBao (anyone with metadata or lookup access reads them), but its audit devices HMAC every string
 * in request data and auth metadata, and our barrier encrypts every value, so they must not surface
 * either: we hold them to the same rule, which is stricter than needed. A token's display_name is not
 * secret and OpenBao writes it in clear in the audit entry's `auth` block: it is planted as the one
 * value expected in plaintext (in the audit file only), which also shows the scan would see a leak.
 * Policies, KV paths, user and role names are identifiers (plain in OpenBao's audit `path` and in
 * storage keys): no canaries go there.
 *
 * Everything happens in beforeAll (plant, then stop the server so every write is flushed); the tests
 * only inspect what was collected, so their order does not matter (the suite shuffles).
 */
import { constants, createCipheriv, generateKeyPairSync, publicEncrypt, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/server/log.js";
import { startDevServer, type RunningServer } from "../../src/server/server.js";

type Place = "log" | "audit" | "storage";

/** A value that must not leak, under a label that says where it came from. */
interface Secret {
  label: string;
  value: Buffer;
  /** Places where this value is in the clear by design (OpenBao does the same). */
  plainIn?: Place[];
}

/** A request that is meant to fail: its body must echo no secret. */
interface Failure {
  what: string;
  status: number;
  text: string;
}

interface Reply {
  status: number;
  text: string;
  json: Record<string, unknown> | undefined;
}

const SQLITE_FILES = ["arca.db", "arca.db-wal", "arca.db-shm"];

const dir = mkdtempSync(join(tmpdir(), "arca-custody-"));
const dataDir = join(dir, "data");
const auditFile = join(dir, "audit.log");
const captured: string[] = [];
const secrets: Secret[] = [];
const failures: Failure[] = [];
/** HMACs sys/audit-hash gave for values exactly as they crossed the wire, by label. */
const auditHashes = new Map<string, string>();
/** SQLite files read while the server still ran (the WAL is checkpointed and removed at close). */
const liveStorage = new Map<string, Buffer>();
const closedStorage = new Map<string, Buffer>();
let auditText = "";
let server: RunningServer | undefined;

function canary(purpose: string, plainIn?: Place[]): string {
  const value = `canary-${purpose}-${randomBytes(8).toString("hex")}`;
  secrets.push({ label: `canary ${purpose}`, value: Buffer.from(value), ...(plainIn ? { plainIn } : {}) });
  return value;
}

/** Records a value the server handed out (token, accessor, generated secret) to search for. */
function handedOut(label: string, value: unknown): string {
  if (typeof value !== "string" || value === "") throw new Error(`${label}: expected a non-empty string, got ${JSON.stringify(value)}`);
  secrets.push({ label, value: Buffer.from(value) });
  return value;
}

async function call(method: string, path: string, opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== undefined) headers["X-Vault-Token"] = opts.token;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers["Content-Type"] ??= "application/json";
  }
  const res = await fetch(`${server!.url}/v1/${path}`, { method, headers, body });
  const text = await res.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

/** A call that must succeed; returns its JSON (or {} for 204). */
async function ok(method: string, path: string, opts: Parameters<typeof call>[2] = {}): Promise<Record<string, unknown>> {
  const r = await call(method, path, opts);
  if (r.status >= 400) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
  return r.json ?? {};
}

/** A call that must fail; its body is kept for the error-echo test. */
async function fails(what: string, method: string, path: string, opts: Parameters<typeof call>[2] = {}): Promise<void> {
  const r = await call(method, path, opts);
  if (r.status < 400) throw new Error(`${what}: expected an error, got ${r.status} ${r.text}`);
  failures.push({ what, status: r.status, text: r.text });
}

const dataOf = (r: Record<string, unknown>): Record<string, unknown> => r.data as Record<string, unknown>;
const authOf = (r: Record<string, unknown>): { client_token: string; accessor: string } => r.auth as { client_token: string; accessor: string };
const wrapOf = (r: Record<string, unknown>): { token: string; accessor: string } => r.wrap_info as { token: string; accessor: string };

/** Records a login's token and accessor. */
function loggedIn(label: string, r: Record<string, unknown>): string {
  const a = authOf(r);
  handedOut(`${label} accessor`, a.accessor);
  return handedOut(`${label} token`, a.client_token);
}

async function hashFor(label: string, wireValue: string, root: string): Promise<void> {
  const r = await ok("POST", "sys/audit-hash/file", { token: root, body: { input: wireValue } });
  auditHashes.set(label, dataOf(r).hash as string);
}

/** BYOK wrapping as OpenBao's transit import expects: RSA-OAEP(ephemeral AES key) ‖ AES-KWP(material). */
function wrapForImport(wrappingPem: string, material: Buffer): string {
  const ephemeral = randomBytes(32);
  const head = publicEncrypt({ key: wrappingPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, ephemeral);
  const kwp = createCipheriv("id-aes256-wrap-pad", ephemeral, Buffer.from("A65959A6", "hex"));
  return Buffer.concat([head, kwp.update(material), kwp.final()]).toString("base64");
}

async function plantKv(root: string): Promise<void> {
  const v2 = canary("kv2-value");
  await ok("POST", "secret/data/app/db", { token: root, body: { data: { password: v2, user: "app" } } });
  const patched = canary("kv2-patch");
  await ok("PATCH", "secret/data/app/db", { token: root, body: { data: { api_key: patched } }, headers: { "Content-Type": "application/merge-patch+json" } });
  const meta = canary("kv2-custom-metadata");
  await ok("POST", "secret/metadata/app/db", { token: root, body: { custom_metadata: { owner_note: meta } } });
  await ok("GET", "secret/data/app/db", { token: root });
  await hashFor("kv2 value", v2, root);

  await ok("POST", "sys/mounts/kv1", { token: root, body: { type: "kv", options: { version: "1" } } });
  const v1 = canary("kv1-value");
  await ok("POST", "kv1/app/db", { token: root, body: { password: v1 } });
  await ok("GET", "kv1/app/db", { token: root });
  await hashFor("kv1 value", v1, root);

  await fails("KV v2 write with a stale cas", "POST", "secret/data/app/db", { token: root, body: { options: { cas: 1 }, data: { password: canary("kv2-cas-reject") } } });
  await fails("KV v2 patch of a missing key", "PATCH", "secret/data/app/none", {
    token: root,
    body: { data: { password: canary("kv2-patch-missing") } },
    headers: { "Content-Type": "application/merge-patch+json" },
  });
  await fails("KV v2 write whose data is not a map", "POST", "secret/data/app/bad", { token: root, body: { data: canary("kv2-not-a-map") } });
  await fails("write to an unmounted path", "POST", "nowhere/app/db", { token: root, body: { password: canary("unmounted") } });
}

async function plantTransit(root: string): Promise<void> {
  await ok("POST", "sys/mounts/transit", { token: root, body: { type: "transit" } });
  await ok("POST", "transit/keys/k", { token: root, body: {} });
  const plain = canary("transit-plaintext");
  const b64 = Buffer.from(plain).toString("base64");
  const enc = await ok("POST", "transit/encrypt/k", { token: root, body: { plaintext: b64 } });
  const dec = await ok("POST", "transit/decrypt/k", { token: root, body: { ciphertext: dataOf(enc).ciphertext } });
  expect(dataOf(dec).plaintext).toBe(b64);
  await hashFor("transit plaintext (base64)", b64, root);
  const mac = canary("transit-hmac-input");
  await ok("POST", "transit/hmac/k", { token: root, body: { input: Buffer.from(mac).toString("base64") } });
  const dk = await ok("POST", "transit/datakey/plaintext/k", { token: root, body: {} });
  secrets.push({ label: "transit data key", value: Buffer.from(dataOf(dk).plaintext as string, "base64") });

  // The imported material is itself a canary: 32 ASCII bytes make a valid AES-256 key.
  const material = canary("byok-key");
  expect(material).toHaveLength(32);
  const pem = dataOf(await ok("GET", "transit/wrapping_key", { token: root })).public_key as string;
  await ok("POST", "transit/keys/imported/import", { token: root, body: { ciphertext: wrapForImport(pem, Buffer.from(material)) } });
  await ok("POST", "transit/encrypt/imported", { token: root, body: { plaintext: b64 } });

  await fails("transit encrypt with a plaintext that is not base64", "POST", "transit/encrypt/k", { token: root, body: { plaintext: canary("transit-not-base64") } });
  await fails("transit encrypt with a key version that does not exist", "POST", "transit/encrypt/k", {
    token: root,
    body: { plaintext: Buffer.from(canary("transit-bad-version")).toString("base64"), key_version: 99 },
  });
}

async function plantUserpass(root: string): Promise<void> {
  await ok("POST", "sys/auth/userpass", { token: root, body: { type: "userpass" } });
  const password = canary("userpass-password");
  await ok("POST", "auth/userpass/users/alice", { token: root, body: { password, token_policies: "default" } });
  loggedIn("userpass login", await ok("POST", "auth/userpass/login/alice", { body: { password } }));
  await hashFor("userpass password", password, root);
  const changed = canary("userpass-new-password");
  await ok("POST", "auth/userpass/users/alice/password", { token: root, body: { password: changed } });
  loggedIn("userpass login after a password change", await ok("POST", "auth/userpass/login/alice", { body: { password: changed } }));

  await fails("userpass login with a wrong password", "POST", "auth/userpass/login/alice", { body: { password: canary("userpass-wrong-password") } });
  await fails("userpass login as an unknown user", "POST", "auth/userpass/login/nobody", { body: { password: canary("userpass-unknown-user") } });
  await fails("userpass user with a bad token_ttl", "POST", "auth/userpass/users/bob", { token: root, body: { password: canary("userpass-rejected-user"), token_ttl: "soon" } });
}

async function plantAppRole(root: string): Promise<void> {
  await ok("POST", "sys/auth/approle", { token: root, body: { type: "approle" } });
  await ok("POST", "auth/approle/role/provisioner", { token: root, body: { token_policies: "default" } });
  const roleId = handedOut("approle role_id", dataOf(await ok("GET", "auth/approle/role/provisioner/role-id", { token: root })).role_id);
  const custom = canary("approle-custom-secret-id");
  const c = await ok("POST", "auth/approle/role/provisioner/custom-secret-id", { token: root, body: { secret_id: custom, metadata: { note: canary("approle-secret-id-metadata") } } });
  handedOut("approle custom secret_id accessor", dataOf(c).secret_id_accessor);
  loggedIn("approle login (custom secret_id)", await ok("POST", "auth/approle/login", { body: { role_id: roleId, secret_id: custom } }));
  await hashFor("approle custom secret_id", custom, root);
  const g = dataOf(await ok("POST", "auth/approle/role/provisioner/secret-id", { token: root, body: {} }));
  const generated = handedOut("approle generated secret_id", g.secret_id);
  handedOut("approle generated secret_id accessor", g.secret_id_accessor);
  await ok("POST", "auth/approle/role/provisioner/secret-id/lookup", { token: root, body: { secret_id: generated } });
  loggedIn("approle login (generated secret_id)", await ok("POST", "auth/approle/login", { body: { role_id: roleId, secret_id: generated } }));

  await fails("approle login with a wrong secret_id", "POST", "auth/approle/login", { body: { role_id: roleId, secret_id: canary("approle-wrong-secret-id") } });
  await fails("approle login with an unknown role_id", "POST", "auth/approle/login", { body: { role_id: canary("approle-unknown-role-id"), secret_id: generated } });
  await fails("approle custom secret_id for a missing role", "POST", "auth/approle/role/missing/custom-secret-id", { token: root, body: { secret_id: canary("approle-missing-role") } });
  await fails("approle custom secret_id reused", "POST", "auth/approle/role/provisioner/custom-secret-id", { token: root, body: { secret_id: custom } });
}

async function plantTokens(root: string): Promise<void> {
  const created = await ok("POST", "auth/token/create", {
    token: root,
    body: { policies: ["default"], meta: { ticket: canary("token-meta") }, display_name: canary("token-display-name", ["audit"]) },
  });
  const child = loggedIn("token create", created);
  // The child's own requests carry its display_name (clear, by design) and meta (hashed) in the audit `auth` block.
  await ok("GET", "auth/token/lookup-self", { token: child });
  const customId = canary("token-custom-id");
  loggedIn("token create with a custom id", await ok("POST", "auth/token/create", { token: root, body: { id: customId, policies: ["default"] } }));
  await ok("GET", "auth/token/lookup-self", { token: customId });
  await ok("POST", "auth/token/lookup", { token: root, body: { token: child } });
  await hashFor("custom token id", customId, root);
  await hashFor("root token", root, root);

  await fails("request with an unknown token", "GET", "secret/data/app/db", { token: canary("unknown-token") });
  await fails("token lookup of an unknown token", "POST", "auth/token/lookup", { token: root, body: { token: canary("token-lookup-unknown") } });
  await fails("token create reusing a custom id", "POST", "auth/token/create", { token: root, body: { id: customId } });
  await fails("token create with a forbidden custom id", "POST", "auth/token/create", { token: root, body: { id: `hvs.${canary("token-hvs-id")}` } });
  await fails("KV write with a token lacking the policy", "POST", "secret/data/app/db", { token: child, body: { data: { password: canary("kv2-denied") } } });
}

async function plantWrapping(root: string): Promise<void> {
  const value = canary("wrapped-value");
  const w = wrapOf(await ok("POST", "sys/wrapping/wrap", { token: root, body: { value }, headers: { "X-Vault-Wrap-TTL": "5m" } }));
  handedOut("wrapping token (sys/wrapping/wrap)", w.token);
  handedOut("wrapping accessor (sys/wrapping/wrap)", w.accessor);
  await ok("POST", "sys/wrapping/lookup", { body: { token: w.token } });
  expect(dataOf(await ok("POST", "sys/wrapping/unwrap", { token: w.token }))).toEqual({ value });
  await hashFor("wrapped value", value, root);
  // Any response can be wrapped: a KV read whose canary then sits in sys/wrap/ until unwrapped.
  const kv = wrapOf(await ok("GET", "secret/data/app/db", { token: root, headers: { "X-Vault-Wrap-TTL": "5m" } }));
  handedOut("wrapping token (KV read)", kv.token);
  handedOut("wrapping accessor (KV read)", kv.accessor);
  const pending = wrapOf(await ok("POST", "sys/wrapping/wrap", { token: root, body: { still_wrapped: canary("wrapped-never-unwrapped") }, headers: { "X-Vault-Wrap-TTL": "5m" } }));
  handedOut("wrapping token (left wrapped)", pending.token);
  const rewrapped = wrapOf(await ok("POST", "sys/wrapping/rewrap", { token: root, body: { token: kv.token } }));
  handedOut("wrapping token (rewrapped)", rewrapped.token);

  await fails("unwrap with an unknown token", "POST", "sys/wrapping/unwrap", { token: root, body: { token: canary("unwrap-unknown") } });
  await fails("wrapping lookup of an unknown token", "POST", "sys/wrapping/lookup", { body: { token: canary("wrap-lookup-unknown") } });
  await fails("unwrap twice", "POST", "sys/wrapping/unwrap", { token: w.token });
  await fails("wrap without a wrap TTL", "POST", "sys/wrapping/wrap", { token: root, body: { value: canary("wrap-no-ttl") } });
}

/** PEM body → DER. */
const pemDer = (pem: string): Buffer => Buffer.from(pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, ""), "base64");

/** A seal and unseal over the API: the unseal key crosses the wire and the audit device is reopened. */
async function plantUnseal(root: string): Promise<void> {
  await ok("PUT", "sys/seal", { token: root });
  await fails("unseal with a wrong key", "PUT", "sys/unseal", { body: { key: Buffer.from(canary("unseal-wrong-key")).toString("base64") } });
  await fails("request while sealed", "POST", "secret/data/app/db", { token: root, body: { data: { password: canary("kv2-while-sealed") } } });
  await ok("PUT", "sys/unseal", { body: { key: server!.unsealKey } });
  await ok("GET", "secret/data/app/db", { token: root });
}

/**
 * Fail closed with canaries in the requests: an audit failure is an internal error, and internal errors
 * are the one path that writes a request's context (id, path, message) to the log. The file device is
 * disabled so that only a device that cannot write (/dev/full) remains; both go through the core API
 * because over HTTP the enable or disable response would itself fail closed.
 */
async function plantLoggedErrors(root: string): Promise<void> {
  await server!.core.audit.enable({ path: "full/", type: "file", description: "", options: { file_path: "/dev/full" }, local: false });
  await server!.core.audit.disable("file/");
  await fails("KV write no audit device can record", "POST", "secret/data/app/db", { token: root, body: { data: { password: canary("kv2-unauditable") } } });
  await fails("userpass login no audit device can record", "POST", "auth/userpass/login/alice", { body: { password: canary("userpass-unauditable") } });
  // Denied before audit (a 403, not an audit failure), but the error body must not echo the token either.
  await fails("unknown token while no audit device can record", "GET", "secret/data/app/db", { token: canary("token-unauditable") });
}

async function plantPki(root: string): Promise<void> {
  await ok("POST", "sys/mounts/pki", { token: root, body: { type: "pki" } });
  // `exported` returns the CA key once; it is then kept only under the barrier.
  const gen = await ok("POST", "pki/root/generate/exported", { token: root, body: { common_name: "Custody Root", key_type: "ec", key_bits: 256, ttl: "87600h" } });
  secrets.push({ label: "PKI CA private key", value: pemDer(dataOf(gen).private_key as string) });
  await ok("POST", "pki/roles/web", { token: root, body: { allowed_domains: "example.test", allow_subdomains: true, max_ttl: "72h", key_type: "ec" } });
  const issued = dataOf(await ok("POST", "pki/issue/web", { token: root, body: { common_name: "app.example.test" } }));
  expect(issued.private_key).toMatch(/PRIVATE KEY/);
  secrets.push({ label: "PKI issued private key", value: pemDer(issued.private_key as string) });
}

beforeAll(async () => {
  server = await startDevServer({ listenAddress: "127.0.0.1:0", logger: createLogger("debug", (line) => captured.push(line)), dataDir });
  const root = server.rootToken!;
  secrets.push({ label: "root token", value: Buffer.from(root) });
  secrets.push({ label: "dev unseal key", value: Buffer.from(server.unsealKey!, "base64") });
  await ok("PUT", "sys/audit/file", { token: root, body: { type: "file", options: { file_path: auditFile } } });

  await plantKv(root);
  await plantTransit(root);
  await plantUserpass(root);
  await plantAppRole(root);
  await plantTokens(root);
  await plantWrapping(root);
  await plantPki(root);
  await plantUnseal(root);
  await plantLoggedErrors(root);

  for (const f of SQLITE_FILES) if (existsSync(join(dataDir, f))) liveStorage.set(f, readFileSync(join(dataDir, f)));
  await server.stop();
  server = undefined;
  for (const f of SQLITE_FILES) if (existsSync(join(dataDir, f))) closedStorage.set(f, readFileSync(join(dataDir, f)));
  auditText = readFileSync(auditFile, "utf8");
}, 120_000);

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * The byte strings a leaked value could appear as. Base64 depends on where the value starts in the
 * encoded blob, so each of the three alignments is covered by the characters that encode only the
 * value's bits. Values longer than 48 bytes (DER keys) are searched by a 32-byte window starting at a
 * multiple of 48 bytes: at that alignment its base64 falls inside one 64-character PEM line, and any copy
 * of the whole value contains the window.
 */
function forms(secret: Buffer): { form: string; needle: Buffer }[] {
  const v = secret.length > 48 ? secret.subarray(48 * Math.floor(secret.length / 96), 48 * Math.floor(secret.length / 96) + 32) : secret;
  const out = [
    { form: "plaintext", needle: v },
    { form: "hex", needle: Buffer.from(v.toString("hex")) },
    { form: "HEX", needle: Buffer.from(v.toString("hex").toUpperCase()) },
  ];
  for (let shift = 0; shift < 3; shift++) {
    const b64 = Buffer.concat([Buffer.alloc(shift), v]).toString("base64");
    const first = Math.ceil((8 * shift) / 6);
    const end = Math.floor((8 * (shift + v.length)) / 6);
    const inner = b64.slice(first, end);
    out.push({ form: `base64+${shift}`, needle: Buffer.from(inner) });
    out.push({ form: `base64url+${shift}`, needle: Buffer.from(inner.replace(/\+/g, "-").replace(/\//g, "_")) });
  }
  return out;
}

/** Every (secret, form) found in the haystack, as "label (form)". */
function findIn(haystack: Buffer, candidates: Secret[]): string[] {
  const found: string[] = [];
  for (const s of candidates) for (const f of forms(s.value)) if (haystack.includes(f.needle)) found.push(`${s.label} (${f.form})`);
  return found;
}

const notPlainIn = (place: Place): Secret[] => secrets.filter((s) => !s.plainIn?.includes(place));

describe("custody canary", () => {
  it("the scan finds a value in each form it claims to cover, at any offset", () => {
    const v = Buffer.from(`canary-selfcheck-${randomBytes(8).toString("hex")}`);
    const s: Secret = { label: "self", value: v };
    const blobs = [
      Buffer.concat([Buffer.from("x"), v]),
      Buffer.from(`0x${v.toString("hex").toUpperCase()}`),
      ...[0, 1, 2].map((pad) => Buffer.from(Buffer.concat([randomBytes(pad), v, randomBytes(2)]).toString("base64"))),
      ...[0, 1, 2].map((pad) => Buffer.from(Buffer.concat([randomBytes(pad), v]).toString("base64url"))),
    ];
    for (const b of blobs) expect(findIn(b, [s]), b.toString()).not.toEqual([]);
    // A PEM inside JSON (escaped newlines), as a key would sit in a response or a log line.
    const key = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    const pem = key.export({ type: "pkcs8", format: "pem" });
    const der = key.export({ type: "pkcs8", format: "der" });
    expect(findIn(Buffer.from(JSON.stringify({ private_key: pem })), [{ label: "pem", value: der }])).toContain("pem (base64+0)");
    expect(findIn(Buffer.from(JSON.stringify({ private_key: pem })), [{ label: "other", value: randomBytes(der.length) }])).toEqual([]);
  });

  it("planted secrets through every endpoint family (the scan has something to find)", () => {
    const labels = secrets.map((s) => s.label).join("\n");
    for (const family of ["kv2", "kv1", "transit", "byok", "userpass", "approle", "token", "wrap", "PKI", "root token", "unseal key"]) expect(labels).toContain(family);
    expect(captured.length).toBeGreaterThan(0);
    expect(auditText.split("\n").length).toBeGreaterThan(50);
    expect(closedStorage.get("arca.db")?.length).toBeGreaterThan(0);
  });

  it("finds no secret, token or key in the server's log lines", () => {
    // The fail-closed requests (a KV write and a login) each left an "internal error" line.
    expect(captured.filter((l) => l.includes("internal error")).length, captured.join("\n")).toBeGreaterThanOrEqual(2);
    const log = Buffer.from(captured.join("\n"));
    expect(findIn(log, notPlainIn("log"))).toEqual([]);
    // Also any token by shape, including ones this test did not see (service, batch, recovery).
    expect(captured.join("\n")).not.toMatch(/\bhv[sbr]\.[A-Za-z0-9]{20,}/);
  });

  it("finds no secret in the audit file; there they are HMACs that sys/audit-hash reproduces", () => {
    expect(findIn(Buffer.from(auditText), notPlainIn("audit"))).toEqual([]);
    expect(auditHashes.size).toBeGreaterThanOrEqual(8);
    for (const [label, hash] of auditHashes) {
      expect(hash, label).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
      expect(auditText.includes(hash), `${label} as its HMAC in the audit file`).toBe(true);
    }
    // Every token field in every entry is an HMAC (or empty for unauthenticated requests).
    for (const line of auditText.trim().split("\n")) {
      for (const m of line.matchAll(/"(client_token|token)":"([^"]*)"/g)) expect(m[2] === "" || m[2].startsWith("hmac-sha256:"), `${m[1]} in ${line.slice(0, 120)}`).toBe(true);
    }
  });

  it("sees a non-secret value in clear where OpenBao writes it (control: the scan would notice a leak)", () => {
    const display = secrets.find((s) => s.label === "canary token-display-name")!;
    expect(findIn(Buffer.from(auditText), [display])).toContain("canary token-display-name (plaintext)");
  });

  it("finds no secret in the raw SQLite files, while running and after close", () => {
    for (const [when, files] of [
      ["running", liveStorage],
      ["closed", closedStorage],
    ] as const) {
      for (const [file, bytes] of files) expect(findIn(bytes, notPlainIn("storage")), `${when}: ${file}`).toEqual([]);
    }
  });

  it("echoes no secret in the body of any failing request", () => {
    expect(failures.length).toBeGreaterThanOrEqual(20);
    for (const f of failures) {
      expect(f.status, f.what).toBeGreaterThanOrEqual(400);
      expect(findIn(Buffer.from(f.text), secrets), `${f.what}: ${f.text}`).toEqual([]);
    }
  });
});
