/**
 * Barbican certificate orders issued by a PKI mount: the CA named in the barbican block (or by a project's
 * namespace metadata) generates a key and certificate for a subject DN, or signs a CSR (simple-cmc); the
 * answer is a certificate container as Barbican shapes it. Also checked with python-barbicanclient.
 */
import { execFile, execFileSync } from "node:child_process";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BARBICANCLIENT_SKIP_REASON, PYTHON, barbican, hasBarbicanClient, idOf } from "../../../test/barbican.js";
import { api, quietLogger } from "../../../test/servers.js";
import { startDevServer, type RunningServer } from "../../server/server.js";
import { commonNameOf } from "../../engines/barbican/certificate-order.js";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "arca-barbican-cert-"));
let s: RunningServer;
let root: string;

async function pkiMount(mount: string, domain: string): Promise<void> {
  expect((await api(s.url, "POST", `sys/mounts/${mount}`, { token: root, body: { type: "pki" } })).status).toBe(204);
  expect((await api(s.url, "POST", `${mount}/root/generate/internal`, { token: root, body: { common_name: `${mount} Root`, key_type: "ec", ttl: "8760h" } })).status).toBe(200);
  await api(s.url, "POST", `${mount}/roles/barbican`, { token: root, body: { allowed_domains: domain, allow_subdomains: true, max_ttl: "720h", key_type: "ec" } });
}

function csrFor(cn: string): string {
  execFileSync("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, `${cn}.key`), "-out", join(dir, `${cn}.csr`), "-subj", `/CN=${cn}`], { stdio: "ignore" });
  return readFileSync(join(dir, `${cn}.csr`), "utf8");
}

/** The order's container: secret name → payload text. */
async function containerOf(project: string, orderRef: string): Promise<Record<string, string>> {
  const order = await barbican(s.url, "GET", `/v1/orders/${idOf(orderRef)}`, { project });
  expect(order.json).toMatchObject({ type: "certificate", status: "ACTIVE" });
  const c = await barbican(s.url, "GET", `/v1/containers/${idOf(String(order.json?.container_ref))}`, { project });
  expect(c.json).toMatchObject({ type: "certificate", status: "ACTIVE" });
  const out: Record<string, string> = {};
  for (const r of c.json?.secret_refs as Array<{ name: string; secret_ref: string }>) {
    out[r.name] = (await barbican(s.url, "GET", `/v1/secrets/${idOf(r.secret_ref)}/payload`, { project, headers: { Accept: "application/octet-stream" } })).text;
  }
  return out;
}

beforeAll(async () => {
  s = await startDevServer({ listenAddress: "127.0.0.1:0", logger: quietLogger, barbican: { pkiMount: "pki", pkiRole: "barbican" } });
  root = s.rootToken ?? "";
  await pkiMount("pki", "example.test");
  await pkiMount("pki-team", "team.test");
});
afterAll(async () => {
  await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("certificate orders", () => {
  it("custom (subject_dn): the CA generates the key; the container holds certificate, private key and intermediates", async () => {
    const r = await barbican(s.url, "POST", "/v1/orders", { project: "cert-p1", body: { type: "certificate", meta: { name: "web", subject_dn: "CN=web.example.test,O=Arca" } } });
    expect(r.status).toBe(202);
    expect(r.headers.get("location")).toBe(r.json?.order_ref);
    const c = await containerOf("cert-p1", String(r.json?.order_ref));
    expect(Object.keys(c).sort()).toEqual(["certificate", "intermediates", "private_key"]);
    const cert = new X509Certificate(c.certificate);
    expect(cert.subject).toContain("CN=web.example.test");
    expect(cert.checkPrivateKey(createPrivateKey(c.private_key))).toBe(true);
    expect(cert.verify(new X509Certificate(c.intermediates).publicKey)).toBe(true);
  });

  it("simple-cmc: a CSR (PEM, or base64 of PEM as barbicanclient sends it) is signed; no private key is stored", async () => {
    for (const csr of [csrFor("csr1.example.test"), Buffer.from(csrFor("csr2.example.test")).toString("base64")]) {
      const r = await barbican(s.url, "POST", "/v1/orders", { project: "cert-p1", body: { type: "certificate", meta: { request_type: "simple-cmc", request_data: csr } } });
      expect(r.status).toBe(202);
      const c = await containerOf("cert-p1", String(r.json?.order_ref));
      expect(Object.keys(c).sort()).toEqual(["certificate", "intermediates"]);
      expect(new X509Certificate(c.certificate).subject).toMatch(/CN=csr[12]\.example\.test/);
    }
  });

  it("refuses bad meta and what the role refuses with a Barbican 400, storing nothing", async () => {
    const before = (await barbican(s.url, "GET", "/v1/secrets", { project: "cert-p2" })).json?.total;
    const bad = [
      { request_type: "weird", subject_dn: "CN=a.example.test" },
      { subject_dn: "O=no-cn" },
      {},
      { request_type: "simple-cmc", request_data: "not a csr" },
      { request_type: "full-cmc", request_data: "x" },
      { request_type: "stored-key", container_ref: "x", subject_dn: "CN=a.example.test" },
      { subject_dn: "CN=a.example.test", ca_id: "some-ca" },
      { subject_dn: "CN=not-allowed.other.test" },
    ];
    for (const meta of bad) {
      const r = await barbican(s.url, "POST", "/v1/orders", { project: "cert-p2", body: { type: "certificate", meta } });
      expect(r.status, JSON.stringify(meta)).toBe(400);
      expect(r.json).toMatchObject({ code: 400, title: "Bad Request" });
    }
    expect((await barbican(s.url, "GET", "/v1/secrets", { project: "cert-p2" })).json?.total).toBe(before);
    expect((await barbican(s.url, "GET", "/v1/orders", { project: "cert-p2" })).json?.total).toBe(0);
  });

  it("a project's namespace (below the root) may name its own CA (barbican-pki-mount / barbican-pki-role)", async () => {
    await api(s.url, "POST", "sys/namespaces/cert-team", { token: root, body: { custom_metadata: { "barbican-pki-mount": "pki-team", "barbican-pki-role": "barbican" } } });
    const ok = await barbican(s.url, "POST", "/v1/orders", { project: "cert-team", body: { type: "certificate", meta: { subject_dn: "CN=svc.team.test" } } });
    expect(ok.status).toBe(202);
    const c = await containerOf("cert-team", String(ok.json?.order_ref));
    expect(new X509Certificate(c.certificate).issuer).toContain("CN=pki-team Root");
    // The configured CA's domain is not this project's CA's.
    expect((await barbican(s.url, "POST", "/v1/orders", { project: "cert-team", body: { type: "certificate", meta: { subject_dn: "CN=web.example.test" } } })).status).toBe(400);
  });

  it("a nested namespace's metadata (its parent's to write) does not pick a CA of the root: the configured one issues", async () => {
    await api(s.url, "POST", "sys/namespaces/cert-parent", { token: root });
    const nested = await api(s.url, "POST", "sys/namespaces/cert-child", { token: root, headers: { "X-Vault-Namespace": "cert-parent" }, body: { custom_metadata: { "barbican-pki-mount": "pki-team", "barbican-pki-role": "barbican" } } });
    expect(nested.status).toBeLessThan(300);
    expect((await barbican(s.url, "POST", "/v1/orders", { project: "cert-parent/cert-child", body: { type: "certificate", meta: { subject_dn: "CN=svc.team.test" } } })).status).toBe(400);
    const ok = await barbican(s.url, "POST", "/v1/orders", { project: "cert-parent/cert-child", body: { type: "certificate", meta: { subject_dn: "CN=nested.example.test" } } });
    expect(ok.status).toBe(202);
    expect(new X509Certificate((await containerOf("cert-parent/cert-child", String(ok.json?.order_ref))).certificate).issuer).toContain("CN=pki Root");
  });

  it("reads the CN of a subject DN", () => {
    expect(commonNameOf("CN=a.example,O=Org")).toBe("a.example");
    expect(commonNameOf("O=Org\\, Inc., cn = b.example")).toBe("b.example");
    expect(commonNameOf("O=Org")).toBeUndefined();
  });
});

const available = hasBarbicanClient();
if (!available) console.warn(BARBICANCLIENT_SKIP_REASON);

describe.skipIf(!available)("certificate orders with python-barbicanclient", () => {
  it("orders a certificate from a CSR and one for a subject DN, and reads the certificate container", async () => {
    const csr = Buffer.from(csrFor("client.example.test")).toString("base64");
    const { stdout } = await run(PYTHON, ["-c", CLIENT_FLOW, `${s.url}/barbican`, "cert-client", csr], { timeout: 60_000 });
    const out = JSON.parse(stdout) as Record<string, unknown>;
    expect(out).toMatchObject({ csr_status: "ACTIVE", csr_names: ["certificate", "intermediates"], dn_names: ["certificate", "intermediates", "private_key"] });
    expect(String(out.csr_cert)).toContain("-----BEGIN CERTIFICATE-----");
  }, 120_000);
});

const CLIENT_FLOW = `
import json, sys
from barbicanclient import client
bc = client.Client(endpoint=sys.argv[1], project_id=sys.argv[2])
o = bc.orders.get(bc.orders.create_certificate(name="from-csr", request_type="simple-cmc", request_data=sys.argv[3]).submit())
c = bc.containers.get(o.container_ref)
d = bc.orders.get(bc.orders.create_certificate(name="from-dn", subject_dn="CN=dn.example.test").submit())
cert = c.certificate.payload
print(json.dumps({
  "csr_status": o.status,
  "csr_names": sorted(c.secret_refs.keys()),
  "csr_cert": cert.decode() if isinstance(cert, bytes) else cert,
  "dn_names": sorted(bc.containers.get(d.container_ref).secret_refs.keys()),
}))
`;
