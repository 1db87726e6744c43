// HA cache coherence of the engines: two servers on one PostgreSQL table. What an engine keeps in memory
// from its storage must follow a write made on the other server (the engines' invalidate hooks): a
// keychain revoke on A refuses on B (and seals there the namespace that L1 seals), a transit rotation or
// config change on A is used on B, a PKI role or default-issuer change on A is used on B. Deadlines are
// generous: these are correctness properties, not latency figures.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgresAvailable, POSTGRES_SKIP_REASON, startPgCluster, type PgCluster } from "../../test/postgres.js";
import { api, freshServer } from "../../test/servers.js";
import { eventually } from "../../test/hsm-servers.js";
import type { RunningServer } from "./server.js";

const available = postgresAvailable();
if (!available) console.warn(POSTGRES_SKIP_REASON);

const DEADLINE_MS = 10_000;

describe.skipIf(!available)("HA: engine caches follow writes made on the other server", () => {
  let pg: PgCluster;
  let a: RunningServer;
  let b: RunningServer;
  let root: string;
  const started: RunningServer[] = [];

  beforeAll(async () => {
    pg = await startPgCluster();
    for (let i = 0; i < 2; i++) started.push(await freshServer({ type: "postgresql", connectionUrl: pg.url, table: "ha_engines", haEnabled: true }));
    [a, b] = started;
    const init = await api(a.url, "PUT", "sys/init", { body: { secret_shares: 1, secret_threshold: 1 } });
    const { keys_base64: keys, root_token: token } = init.body as { keys_base64: string[]; root_token: string };
    root = token;
    for (const s of [a, b]) expect((await api(s.url, "PUT", "sys/unseal", { body: { key: keys[0] } })).body?.sealed).toBe(false);
  }, 60_000);
  afterAll(async () => {
    for (const s of started) await s.stop().catch(() => undefined);
    pg?.stop();
  });

  /** A write on `s`, retried until `s` knows the mount (made on the other server a moment ago). */
  const writeOn = async (s: RunningServer, path: string, body: Record<string, unknown> = {}): Promise<Record<string, unknown> | undefined> => {
    let last: Awaited<ReturnType<typeof api>> | undefined;
    await eventually(async () => {
      last = await api(s.url, "POST", path, { token: root, body });
      return last.status !== 404 && last.status !== 405;
    }, DEADLINE_MS);
    expect([200, 204], JSON.stringify(last!.body?.errors)).toContain(last!.status);
    return last!.body?.data as Record<string, unknown> | undefined;
  };

  /** A keychain mount made on A with the (test-only) software keystore `soft`. Cases run in any order. */
  const keychainMount = async (path: string): Promise<void> => {
    expect((await api(a.url, "POST", `sys/mounts/${path}`, { token: root, body: { type: "keychain", options: { allow_software_keystore: "true" } } })).status).toBe(204);
    await writeOn(a, `${path}/keystores/soft`, { type: "software" });
  };

  it("a keychain revoke on A refuses data keys and decryption on B (B had the chain cached)", async () => {
    await keychainMount("kc");
    await writeOn(a, "kc/keys/k1", { keystore: "soft" });
    await writeOn(a, "kc/key-configurations/c1", { primary_key: "k1" });
    await writeOn(a, "kc/systems/s1", { key_configuration: "c1", region: "eu-de-1" });
    // B serves the chain, so its record and plaintext caches hold it.
    const dk = (await writeOn(b, "kc/systems/s1/datakey", {})) as { plaintext: string; ciphertext: string };
    expect(((await writeOn(b, "kc/systems/s1/decrypt", { ciphertext: dk.ciphertext })) as { plaintext: string }).plaintext).toBe(dk.plaintext);

    expect((await api(a.url, "POST", "kc/keys/k1/revoke", { token: root })).status).toBe(200);
    await eventually(async () => {
      const [made, opened] = await Promise.all([
        api(b.url, "POST", "kc/systems/s1/datakey", { token: root, body: {} }),
        api(b.url, "POST", "kc/systems/s1/decrypt", { token: root, body: { ciphertext: dk.ciphertext } }),
      ]);
      return made.status === 400 && opened.status === 400;
    }, DEADLINE_MS);
    const refused = await api(b.url, "POST", "kc/systems/s1/decrypt", { token: root, body: { ciphertext: dk.ciphertext } });
    expect(JSON.stringify(refused.body?.errors)).toMatch(/REVOKED/);
  });

  it("a keychain revoke on A seals, on B, the namespace that L1 seals (B had it open)", async () => {
    await keychainMount("kc-ns");
    await writeOn(a, "kc-ns/keys/ns-l1", { keystore: "soft" });
    const created = await api(a.url, "POST", "sys/namespaces/tenant", { token: root, body: { seal: { type: "keychain", mount: "kc-ns", key: "ns-l1" } } });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const inTenant = (s: RunningServer, method: string, path: string, body?: unknown) =>
      api(s.url, method, path, { token: root, headers: { "X-Vault-Namespace": "tenant" }, ...(body !== undefined ? { body } : {}) });
    expect((await inTenant(a, "POST", "sys/mounts/kv", { type: "kv" })).status).toBe(204);
    expect((await inTenant(a, "PUT", "kv/db", { password: "pw" })).status).toBe(204);
    await eventually(async () => (await inTenant(b, "GET", "kv/db")).status === 200, DEADLINE_MS);

    expect((await api(a.url, "POST", "kc-ns/keys/ns-l1/revoke", { token: root })).status).toBe(200);
    await eventually(async () => (await inTenant(b, "GET", "kv/db")).status === 503, DEADLINE_MS);
    expect(((await inTenant(b, "GET", "kv/db")).body?.errors as string[])[0]).toBe("namespace is sealed");
  });

  it("a transit rotation and a min_decryption_version change on A are used on B", async () => {
    expect((await api(a.url, "POST", "sys/mounts/transit", { token: root, body: { type: "transit" } })).status).toBe(204);
    await writeOn(a, "transit/keys/t1");
    const plaintext = Buffer.from("hello").toString("base64");
    const v1 = ((await writeOn(b, "transit/encrypt/t1", { plaintext })) as { ciphertext: string }).ciphertext;
    expect(v1.startsWith("vault:v1:")).toBe(true);
    await writeOn(a, "transit/keys/t1/rotate");
    await eventually(async () => {
      const r = await api(b.url, "POST", "transit/encrypt/t1", { token: root, body: { plaintext } });
      return (r.body?.data as { ciphertext?: string } | undefined)?.ciphertext?.startsWith("vault:v2:") === true;
    }, DEADLINE_MS);
    await writeOn(a, "transit/keys/t1/config", { min_decryption_version: 2 });
    await eventually(async () => (await api(b.url, "POST", "transit/decrypt/t1", { token: root, body: { ciphertext: v1 } })).status === 400, DEADLINE_MS);
  });

  it("a PKI role change and a new default issuer on A are used on B", async () => {
    expect((await api(a.url, "POST", "sys/mounts/pki", { token: root, body: { type: "pki" } })).status).toBe(204);
    const first = (await writeOn(a, "pki/root/generate/internal", { common_name: "First Root", issuer_name: "first", ttl: "8760h" })) as { issuer_id: string };
    await writeOn(a, "pki/roles/web", { allowed_domains: "example.com", allow_subdomains: true });
    const issued = (await writeOn(b, "pki/issue/web", { common_name: "a.example.com" })) as { issuing_ca: string };
    expect(issued.issuing_ca).toContain("BEGIN CERTIFICATE");
    expect((await api(b.url, "POST", "pki/issue/web", { token: root, body: { common_name: "a.example.org" } })).status).toBe(400);

    await writeOn(a, "pki/roles/web", { allowed_domains: "example.org", allow_subdomains: true });
    await eventually(async () => (await api(b.url, "POST", "pki/issue/web", { token: root, body: { common_name: "a.example.org" } })).status === 200, DEADLINE_MS);

    const second = (await writeOn(a, "pki/root/generate/internal", { common_name: "Second Root", issuer_name: "second", ttl: "8760h" })) as { issuer_id: string; certificate: string };
    expect(second.issuer_id).not.toBe(first.issuer_id);
    await writeOn(a, "pki/config/issuers", { default: second.issuer_id });
    await eventually(async () => {
      const r = await api(b.url, "POST", "pki/issue/web", { token: root, body: { common_name: "b.example.org" } });
      return (r.body?.data as { issuing_ca?: string } | undefined)?.issuing_ca === second.certificate;
    }, DEADLINE_MS);
  });
});
