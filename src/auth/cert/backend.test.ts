import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { expectArcaError, initializedCore } from "../../../test/core.js";
import { X509Certificate } from "node:crypto";
import type { Core } from "../../core/core.js";
import type { Operation, Response } from "../../core/framework/request.js";
import type { SqliteStorage } from "../../storage/sqlite.js";
import { createCertBackend } from "./backend.js";
import { globMatch } from "./constraints.js";
import { TestPki, type TestCert } from "./test-pki.test-util.js";

let core: Core;
let storage: SqliteStorage;
let root: string;

let ca: TestCert;
let intermediate: TestCert;
let strangerCa: TestCert;
let client: TestCert;
let viaIntermediate: TestCert;
let stranger: TestCert;
let expired: TestCert;
let serverOnly: TestCert;
let pinned: TestCert;
let samePinnedSubject: TestCert;
let rich: TestCert;

const pki = new TestPki();

beforeAll(() => {
  ca = pki.make("ca", { subject: "/CN=test CA", ca: true });
  intermediate = pki.make("intermediate", { subject: "/CN=test intermediate", ca: true, issuer: ca });
  strangerCa = pki.make("stranger-ca", { subject: "/CN=test CA", ca: true }); // same name, other key
  client = pki.make("client", { subject: "/CN=svc-client", issuer: ca });
  viaIntermediate = pki.make("deep", { subject: "/CN=svc-deep", issuer: intermediate });
  stranger = pki.make("stranger", { subject: "/CN=svc-client", issuer: strangerCa });
  expired = pki.make("expired", { subject: "/CN=svc-client", issuer: ca, days: -1 });
  serverOnly = pki.make("server-only", { subject: "/CN=svc-client", issuer: ca, ext: ["extendedKeyUsage=serverAuth"] });
  pinned = pki.make("pinned", { subject: "/CN=pinned-leaf" });
  samePinnedSubject = pki.make("same-subject", { subject: "/CN=pinned-leaf" });
  rich = pki.make("rich", {
    subject: "/CN=rich/OU=payments/O=Example",
    issuer: ca,
    ext: ["extendedKeyUsage=clientAuth", "subjectAltName=DNS:api.example.com,email:ops@example.com,URI:spiffe://example/payments", "1.2.3.4.5=ASN1:UTF8String:gold!"],
  });
});
afterAll(() => pki.remove());

beforeEach(async () => {
  ({ core, storage, root } = await initializedCore({ cert: createCertBackend }));
  await call("update", "sys/auth/cert", { type: "cert" });
  await call("update", "sys/policies/acl/svc", { policy: 'path "secret/*" { capabilities = ["read"] }' });
});

afterEach(async () => {
  await storage.close();
});

async function call(operation: Operation, path: string, data: Record<string, unknown> = {}, opts: { token?: string | null; chain?: Buffer[] | null } = {}): Promise<Response | undefined> {
  const clientToken = opts.token === null ? undefined : (opts.token ?? root);
  const connection = opts.chain === null ? undefined : { peerCertificates: opts.chain ?? [] };
  return core.handleRequest(core.newRequest({ operation, path, data, clientToken, remoteAddress: "127.0.0.1", ...(connection ? { connection } : {}) }));
}

const certs = (op: Operation, path: string, data: Record<string, unknown> = {}) => call(op, `auth/cert/${path}`, data);
const login = (chain: Buffer[] | null, name?: string) => call("update", "auth/cert/login", name !== undefined ? { name } : {}, { token: null, chain });

describe("certs/", () => {
  it("creates, reads, lists and deletes entries; display_name defaults to the name", async () => {
    await certs("update", "certs/Web", { certificate: ca.pem, token_policies: "svc", token_ttl: "1h", allowed_common_names: "svc-*" });
    const read = await certs("read", "certs/web");
    expect(read?.data).toMatchObject({
      certificate: ca.pem,
      display_name: "Web",
      allowed_common_names: ["svc-*"],
      allowed_names: [],
      required_extensions: [],
      token_policies: ["svc"],
      token_ttl: 3600,
    });
    expect((await certs("list", "certs/"))?.data?.keys).toEqual(["web"]);
    // hvac's create_ca_certificate_role sends token_type "" when none is given.
    await certs("update", "certs/web", { token_type: "" });
    expect((await certs("read", "certs/web"))?.data?.token_type).toBe("default");
    await certs("delete", "certs/web");
    await expectArcaError(certs("read", "certs/web"), 404);
  });

  it("refuses an entry without a certificate, or with one that does not parse", async () => {
    await expectArcaError(certs("update", "certs/none", { token_policies: "svc" }), 400, "missing certificate");
    await expectArcaError(certs("update", "certs/junk", { certificate: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" }), 400, /failed to parse certificate/);
    await expectArcaError(certs("update", "certs/junk", { certificate: "not pem" }), 400, /failed to parse certificate/);
    await expectArcaError(certs("update", "certs/ext", { certificate: ca.pem, required_extensions: "1.2.3" }), 400, /oid:value/);
  });

  it("treats __proto__ as an ordinary name", async () => {
    await certs("update", "certs/__proto__", { certificate: ca.pem, token_policies: "svc" });
    expect((await certs("read", "certs/__proto__"))?.data?.token_policies).toEqual(["svc"]);
    expect((await certs("list", "certs/"))?.data?.keys).toEqual(["__proto__"]);
    const auth = (await login([client.der], "__proto__"))?.auth;
    expect(auth?.metadata.cert_name).toBe("__proto__");
    expect(({} as Record<string, unknown>).certificate).toBeUndefined();
  });
});

describe("login", () => {
  beforeEach(async () => {
    await certs("update", "certs/web", { certificate: ca.pem, token_policies: "svc", token_ttl: "1h", display_name: "web-clients" });
  });

  it("issues a token with the entry's policies and OpenBao's metadata for a certificate the CA issued", async () => {
    const auth = (await login([client.der]))?.auth;
    expect(auth?.policies).toEqual(["default", "svc"]);
    expect(auth?.leaseDuration).toBe(3600);
    expect(auth?.metadata).toEqual({
      cert_name: "web",
      common_name: "svc-client",
      serial_number: BigInt(`0x${new X509Certificate(client.der).serialNumber}`).toString(),
      subject_key_id: pki.keyId(client, "subjectKeyIdentifier"),
      authority_key_id: pki.keyId(ca, "subjectKeyIdentifier"),
    });
    expect(auth?.metadata.subject_key_id).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2})+$/);
    const self = await call("read", "auth/token/lookup-self", {}, { token: auth?.clientToken ?? "" });
    expect(self?.data?.display_name).toBe("cert-web-clients");
  });

  it("refuses a plain-HTTP request and a TLS request without a certificate, clearly", async () => {
    await expectArcaError(login(null), 400, /client certificate.*only sent over TLS/);
    await expectArcaError(login([]), 400, "client certificate must be supplied");
  });

  it("refuses a certificate from another CA with the same name, an expired one, and one not for client auth", async () => {
    for (const c of [stranger, expired, serverOnly]) await expectArcaError(login([c.der]), 400, "invalid certificate or no client certificate supplied");
    await expectArcaError(login([Buffer.from("garbage")]), 400, "invalid certificate or no client certificate supplied");
  });

  it("refuses a certificate from an impostor CA with the trusted CA's name and key identifier", async () => {
    const impostor = pki.make("impostor-ca", { subject: "/CN=test CA", ca: true, ski: pki.keyId(ca, "subjectKeyIdentifier") });
    const forged = pki.make("forged", { subject: "/CN=svc-client", issuer: impostor });
    expect(pki.keyId(forged, "authorityKeyIdentifier")).toBe(pki.keyId(ca, "subjectKeyIdentifier"));
    await expectArcaError(login([forged.der]), 400, "invalid certificate or no client certificate supplied");
    await expectArcaError(login([forged.der, impostor.der]), 400, "invalid certificate or no client certificate supplied");
  });

  it("refuses an entry's CA that has expired", async () => {
    const oldCa = pki.make("old-ca", { subject: "/CN=old CA", ca: true, days: -1 });
    const child = pki.make("old-child", { subject: "/CN=svc-client", issuer: oldCa });
    await certs("update", "certs/old", { certificate: oldCa.pem });
    await expectArcaError(login([child.der], "old"), 400, "invalid certificate or no client certificate supplied");
  });

  it("refuses a certificate the CA issued that fails the entry's allowed_common_names", async () => {
    await certs("update", "certs/web", { allowed_common_names: "admin-*" });
    await expectArcaError(login([client.der]), 400, "no chain matching all constraints could be found for this login certificate");
  });

  it("follows intermediates the client sends, and only those", async () => {
    await expectArcaError(login([viaIntermediate.der]), 400, "invalid certificate or no client certificate supplied");
    expect((await login([viaIntermediate.der, intermediate.der]))?.auth?.metadata.common_name).toBe("svc-deep");
    // A CA certificate is never a client certificate, even one the entry trusts.
    await expectArcaError(login([intermediate.der]), 400, "no chain matching all constraints could be found for this login certificate");
  });

  it("a pinned leaf admits that certificate only, not another with the same subject", async () => {
    await certs("update", "certs/pin", { certificate: pinned.pem, token_policies: "svc" });
    expect((await login([pinned.der], "pin"))?.auth?.metadata.cert_name).toBe("pin");
    await expectArcaError(login([samePinnedSubject.der], "pin"), 400, "invalid certificate or no client certificate supplied");
    await expectArcaError(login([samePinnedSubject.der]), 400, "invalid certificate or no client certificate supplied");
  });

  it("name picks the entry; another entry's CA does not count", async () => {
    await certs("update", "certs/other", { certificate: strangerCa.pem });
    expect((await login([stranger.der]))?.auth?.metadata.cert_name).toBe("other");
    await expectArcaError(login([stranger.der], "web"), 400, "invalid certificate or no client certificate supplied");
    await expectArcaError(login([client.der], "missing"), 400, "invalid certificate or no client certificate supplied");
    for (const bad of ["../web", "web/", "a b", "x".repeat(600)]) await expectArcaError(login([client.der], bad), 400, "invalid certificate or no client certificate supplied");
  });

  it("matches allowed_names, SAN, OU and required_extensions constraints", async () => {
    const set = (c: Record<string, unknown>) => certs("update", "certs/rich", { certificate: ca.pem, ...c });
    const ok = async (c: Record<string, unknown>) => {
      await set(c);
      expect((await login([rich.der], "rich"))?.auth).toBeDefined();
    };
    const refused = async (c: Record<string, unknown>) => {
      await set(c);
      await expectArcaError(login([rich.der], "rich"), 400, /no chain matching all constraints/);
    };
    await ok({ allowed_names: "*.example.com" });
    await ok({ allowed_names: "ops@*" });
    await refused({ allowed_names: "other" });
    await ok({ allowed_names: "", allowed_dns_sans: "api.*", allowed_email_sans: "*@example.com", allowed_uri_sans: "spiffe://example/*", allowed_organizational_units: "pay*" });
    await refused({ allowed_dns_sans: "", allowed_email_sans: "", allowed_uri_sans: "", allowed_organizational_units: "hr" });
    await ok({ allowed_organizational_units: "", required_extensions: "1.2.3.4.5:gold*" });
    await refused({ required_extensions: "1.2.3.4.5:silver" });
    await refused({ required_extensions: "1.2.3.4.6:*" });
  });
});

describe("globMatch", () => {
  it("matches * as any run, anchored at both ends", () => {
    expect(globMatch("*", "")).toBe(true);
    expect(globMatch("a*c", "abbc")).toBe(true);
    expect(globMatch("a*c", "abcd")).toBe(false);
    expect(globMatch("ab*ba", "aba")).toBe(false);
    expect(globMatch("*.example.com", "api.example.com")).toBe(true);
    expect(globMatch("api", "api2")).toBe(false);
  });
});
