// Directory policy: a role directory signs under its role (names refused at new-order, rejectedIdentifier),
// config/acme default_directory_policy (role:<name>, forbid) and allowed_roles / allowed_issuers.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { dns01Value } from "../../../../test/acme-client.js";
import { scratch } from "../pki-harness.test-util.js";
import { makeCsr, pollUntilNot, type AuthzView, type OrderView } from "./acme-flow.test-util.js";
import { acmeHarness, MOUNT_URL, tableResolver } from "./acme-harness.test-util.js";
import type { AcmeResolver } from "./validation/resolver.js";

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((h) => h.close()));
});
const tmp = scratch();
afterAll(() => tmp.cleanup());

async function harness(resolver?: AcmeResolver) {
  const h = await acmeHarness({ resolver });
  open.push(h);
  await h.call("write", "roles/web", { allowed_domains: "example.test", allow_subdomains: true, allow_wildcard_certificates: false, key_type: "ec" });
  return h;
}
const problemType = (body: string): string => (JSON.parse(body) as { type: string }).type.replace("urn:ietf:params:acme:error:", "");
const order = (value: string) => ({ identifiers: [{ type: "dns", value }] });

describe("ACME directory policy", () => {
  it("a role directory refuses names (and wildcards) its role would not sign, at new-order", async () => {
    const h = await harness();
    const c = await h.client("ES256", `${MOUNT_URL}/roles/web/acme/directory`);
    await c.register();
    const ok = await c.post(c.dir.newOrder, order("a.example.test"));
    expect(ok.status, ok.body).toBe(201);
    const other = await c.post(c.dir.newOrder, order("a.example.org"));
    expect(problemType(other.body)).toBe("rejectedIdentifier");
    expect(problemType((await c.post(c.dir.newOrder, order("*.example.test"))).body)).toBe("rejectedIdentifier");
    expect((await h.acmeState()).filter((k) => k.startsWith("acme/orders/"))).toHaveLength(1);
  });

  it("default_directory_policy role:<name> applies the role to the default directory; forbid closes it", async () => {
    const h = await harness();
    const c = await h.client();
    await c.register();
    expect((await c.post(c.dir.newOrder, order("a.example.org"))).status).toBe(201); // sign-verbatim
    await h.call("write", "config/acme", { default_directory_policy: "role:web" });
    expect(problemType((await c.post(c.dir.newOrder, order("b.example.org"))).body)).toBe("rejectedIdentifier");
    await h.call("write", "config/acme", { default_directory_policy: "forbid" });
    const r = await h.transport("GET", `${MOUNT_URL}/acme/directory`);
    expect(r.status).toBe(403);
    expect(problemType(r.body)).toBe("unauthorized");
    expect((await h.transport("GET", `${MOUNT_URL}/roles/web/acme/directory`)).status).toBe(200);
    expect((await h.fails("write", "config/acme", { default_directory_policy: "maybe" })).message).toMatch(/default_directory_policy/);
  });

  it("allowed_roles and allowed_issuers close the directories of other roles and issuers", async () => {
    const h = await harness();
    await h.call("write", "roles/other", { allow_any_name: true });
    await h.call("write", "config/acme", { allowed_roles: ["web"], allowed_issuers: ["nonexistent"] });
    expect((await h.transport("GET", `${MOUNT_URL}/roles/web/acme/directory`)).status).toBe(200);
    expect((await h.transport("GET", `${MOUNT_URL}/roles/other/acme/directory`)).status).toBe(403);
    const issuer = ((await h.call("list", "issuers/"))!.data!.keys as string[])[0];
    expect((await h.transport("GET", `${MOUNT_URL}/issuer/${issuer}/acme/directory`)).status).toBe(403);
  });

  it("a role directory signs a CSR without a CN (names in SANs only) under its role", async () => {
    const resolver = tableResolver({});
    const h = await harness(resolver);
    const c = await h.client("ES256", `${MOUNT_URL}/roles/web/acme/directory`);
    await c.register();
    const { body: o } = await c.json<OrderView>(c.dir.newOrder, order("a.example.test"));
    const { body: authz } = await c.json<AuthzView>(o.authorizations[0]);
    const ch = authz.challenges.find((x) => x.type === "dns-01")!;
    resolver.txtRecords.set("_acme-challenge.a.example.test", [dns01Value(await c.keyAuthorization(ch.token))]);
    await c.post(ch.url, {});
    expect((await pollUntilNot<AuthzView>(c, o.authorizations[0], ["pending"])).status).toBe("valid");
    const fin = await c.json<OrderView>(o.finalize, { csr: makeCsr(tmp, ["a.example.test"], { cn: "" }).csr });
    expect(fin.body.status).toBe("valid");
    const pem = (await c.post(fin.body.certificate!)).body;
    expect(tmp.openssl(["x509", "-in", tmp.file("nocn.pem", pem), "-noout", "-ext", "subjectAltName"]).out).toContain("DNS:a.example.test");
  });
});
