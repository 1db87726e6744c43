// ACME orders end to end in-process: challenges (http-01, dns-01, tls-alpn-01) validated against loopback
// responders, finalize, download, revocation, account changes, EAB, and the validator's address policy.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { accountKey, dns01Value } from "../../../../test/acme-client.js";
import { pkiHarness, scratch } from "../pki-harness.test-util.js";
import { acmeHarness, MOUNT_URL, tableResolver } from "./acme-harness.test-util.js";
import { http01Responder, makeCsr, pollUntilNot, tlsAlpnResponder, type AuthzView, type OrderView } from "./acme-flow.test-util.js";

const tmp = scratch();
afterAll(() => tmp.cleanup());
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const problemType = (body: string): string => (JSON.parse(body) as { type: string }).type.replace("urn:ietf:params:acme:error:", "");

async function setup(acmeConfig: Record<string, unknown> = {}, addresses: Record<string, string[]> = {}) {
  const web = await http01Responder();
  const resolver = tableResolver({ "a.example.test": ["127.0.0.1"], "b.example.test": ["127.0.0.1"], ...addresses });
  const h = await acmeHarness({ resolver, acmeConfig: { http01_port: web.port, allowed_validation_networks: ["127.0.0.0/8"], ...acmeConfig } });
  cleanups.push(() => web.close(), () => h.close());
  const c = await h.client();
  if (acmeConfig.eab_policy === undefined) expect((await c.register()).status).toBe(201);
  return { h, c, web, resolver };
}

async function order(c: Awaited<ReturnType<typeof setup>>["c"], names: string[]): Promise<{ url: string; order: OrderView }> {
  const { reply, body } = await c.json<OrderView>(c.dir.newOrder, { identifiers: names.map((value) => ({ type: "dns", value })) });
  expect(reply.status).toBe(201);
  return { url: reply.headers.location!, order: body };
}

async function caPem(h: Awaited<ReturnType<typeof setup>>["h"]): Promise<string> {
  const r = await h.call("read", "ca/pem");
  return String(r?.raw?.body);
}

describe("ACME orders", () => {
  it("issues through http-01: order → challenge → ready → finalize → PEM chain that openssl verifies", async () => {
    const { h, c, web } = await setup();
    const { url, order: o } = await order(c, ["a.example.test", "b.example.test"]);
    expect(o.status).toBe("pending");
    for (const authzUrl of o.authorizations) {
      const { body: authz } = await c.json<AuthzView>(authzUrl);
      expect(authz.challenges.map((x) => x.type).sort()).toEqual(["dns-01", "http-01", "tls-alpn-01"]);
      const ch = authz.challenges.find((x) => x.type === "http-01")!;
      web.answers.set(ch.token, await c.keyAuthorization(ch.token));
      const started = await c.post(ch.url, {});
      expect(started.status).toBe(200);
      expect(started.headers.link).toContain(`<${authzUrl}>;rel="up"`);
      expect((await pollUntilNot<AuthzView>(c, authzUrl, ["pending"])).status).toBe("valid");
    }
    const listed = await c.json<{ orders: string[] }>(`${MOUNT_URL}/acme/orders`);
    expect(listed.body.orders).toEqual([url]);
    const ready = await c.json<OrderView>(url);
    expect(ready.body.status).toBe("ready");
    const { csr } = makeCsr(tmp, ["a.example.test", "b.example.test"]);
    const fin = await c.json<OrderView>(ready.body.finalize, { csr });
    expect(fin.body.status).toBe("valid");
    const cert = await c.post(fin.body.certificate!);
    expect(cert.status).toBe(200);
    expect(cert.headers.contentType).toBe("application/pem-certificate-chain");
    const chain = tmp.file("chain.pem", cert.body);
    const ca = tmp.file("ca.pem", await caPem(h));
    const v = tmp.openssl(["verify", "-CAfile", ca, "-untrusted", chain, chain]);
    expect(v.out).toContain("OK");
    const exts = tmp.openssl(["x509", "-in", chain, "-noout", "-ext", "subjectAltName,extendedKeyUsage"]).out;
    expect(exts).toMatch(/DNS:a\.example\.test, DNS:b\.example\.test/);
    expect(exts).toMatch(/TLS Web Server Authentication/);
  });

  it("refuses finalize before ready (orderNotReady) and a CSR naming other names (badCSR), keeping the order ready", async () => {
    const { c, web } = await setup();
    const { url, order: o } = await order(c, ["a.example.test"]);
    const early = await c.post(o.finalize, { csr: makeCsr(tmp, ["a.example.test"]).csr });
    expect(early.status).toBe(403);
    expect(problemType(early.body)).toBe("orderNotReady");
    const { body: authz } = await c.json<AuthzView>(o.authorizations[0]);
    const ch = authz.challenges.find((x) => x.type === "http-01")!;
    web.answers.set(ch.token, await c.keyAuthorization(ch.token));
    await c.post(ch.url, {});
    await pollUntilNot(c, o.authorizations[0], ["pending"]);
    const bad = await c.post(o.finalize, { csr: makeCsr(tmp, ["a.example.test", "evil.example.test"]).csr });
    expect(problemType(bad.body)).toBe("badCSR");
    expect((await c.json<OrderView>(url)).body.status).toBe("ready");
  });

  it("gives wildcards only dns-01 and validates the TXT record through the resolver", async () => {
    const { c, resolver } = await setup();
    const { url, order: o } = await order(c, ["*.example.test"]);
    const { body: authz } = await c.json<AuthzView>(o.authorizations[0]);
    expect(authz.wildcard).toBe(true);
    expect(authz.identifier.value).toBe("example.test");
    expect(authz.challenges.map((x) => x.type)).toEqual(["dns-01"]);
    const ch = authz.challenges[0];
    resolver.txtRecords.set("_acme-challenge.example.test", ["unrelated", dns01Value(await c.keyAuthorization(ch.token))]);
    await c.post(ch.url, {});
    expect((await pollUntilNot<AuthzView>(c, o.authorizations[0], ["pending"])).status).toBe("valid");
    const fin = await c.json<OrderView>(o.finalize, { csr: makeCsr(tmp, ["*.example.test"]).csr });
    expect(fin.body.status).toBe("valid");
    expect((await c.json<OrderView>(url)).body.certificate).toBeTruthy();
  });

  it("validates tls-alpn-01 against an RFC 8737 certificate", async () => {
    const { h, c } = await setup();
    const { order: o } = await order(c, ["a.example.test"]);
    const { body: authz } = await c.json<AuthzView>(o.authorizations[0]);
    const ch = authz.challenges.find((x) => x.type === "tls-alpn-01")!;
    const alpn = await tlsAlpnResponder(tmp, "a.example.test", await c.keyAuthorization(ch.token));
    cleanups.push(() => alpn.close());
    await h.call("write", "config/acme", { tls_alpn01_port: alpn.port });
    await c.post(ch.url, {});
    expect((await pollUntilNot<AuthzView>(c, o.authorizations[0], ["pending"])).status).toBe("valid");
  });

  it("marks the challenge and authorization invalid with the problem when the response is wrong (after retries)", async () => {
    const { c, web } = await setup();
    const { url, order: o } = await order(c, ["a.example.test"]);
    const { body: authz } = await c.json<AuthzView>(o.authorizations[0]);
    const ch = authz.challenges.find((x) => x.type === "http-01")!;
    web.answers.set(ch.token, "not-the-key-authorization");
    await c.post(ch.url, {});
    const done = await pollUntilNot<AuthzView>(c, o.authorizations[0], ["pending"]);
    expect(done.status).toBe("invalid");
    expect(done.challenges.find((x) => x.type === "http-01")!.error?.type).toBe("urn:ietf:params:acme:error:incorrectResponse");
    expect(web.hits()).toBe(3); // the first attempt and two retries
    expect((await c.json<OrderView>(url)).body.status).toBe("invalid");
  });

  it("refuses to validate at 127.0.0.1 or 169.254.169.254 unless allowed_validation_networks lists them", async () => {
    const { h, c, web } = await setup({ allowed_validation_networks: [] }, { "a.example.test": ["127.0.0.1"], "b.example.test": ["169.254.169.254"] });
    for (const name of ["a.example.test", "b.example.test"]) {
      const { order: o } = await order(c, [name]);
      const { body: authz } = await c.json<AuthzView>(o.authorizations[0]);
      const ch = authz.challenges.find((x) => x.type === "http-01")!;
      web.answers.set(ch.token, await c.keyAuthorization(ch.token));
      await c.post(ch.url, {});
      const done = await pollUntilNot<AuthzView>(c, o.authorizations[0], ["pending"]);
      expect(done.status).toBe("invalid");
      const err = done.challenges.find((x) => x.type === "http-01")!.error!;
      expect(err.type).toBe("urn:ietf:params:acme:error:connection");
      expect(err.detail).toMatch(/allowed_validation_networks/);
    }
    // An IP identifier is judged the same way, and a redirect may not leave the name.
    const ip = await c.json<OrderView>(c.dir.newOrder, { identifiers: [{ type: "ip", value: "127.0.0.1" }] });
    const { body: ipAuthz } = await c.json<AuthzView>(ip.body.authorizations[0]);
    await c.post(ipAuthz.challenges.find((x) => x.type === "http-01")!.url, {});
    expect((await pollUntilNot<AuthzView>(c, ip.body.authorizations[0], ["pending"])).status).toBe("invalid");
    expect(web.hits()).toBe(0);
    await h.call("write", "config/acme", { allowed_validation_networks: ["127.0.0.0/8"] });
    web.redirect.to = "http://169.254.169.254/latest/meta-data/";
    const { order: o2 } = await order(c, ["a.example.test"]);
    const { body: a2 } = await c.json<AuthzView>(o2.authorizations[0]);
    await c.post(a2.challenges.find((x) => x.type === "http-01")!.url, {});
    const redirected = await pollUntilNot<AuthzView>(c, o2.authorizations[0], ["pending"]);
    expect(redirected.status).toBe("invalid");
    expect(redirected.challenges.find((x) => x.type === "http-01")!.error!.detail).toMatch(/redirected off the identifier's host/);
  });

  async function issued(s: Awaited<ReturnType<typeof setup>>): Promise<{ der: string; keyFile: string; pem: string }> {
    const { c, web } = s;
    const { order: o } = await order(c, ["a.example.test"]);
    const { body: authz } = await c.json<AuthzView>(o.authorizations[0]);
    const ch = authz.challenges.find((x) => x.type === "http-01")!;
    web.answers.set(ch.token, await c.keyAuthorization(ch.token));
    await c.post(ch.url, {});
    await pollUntilNot(c, o.authorizations[0], ["pending"]);
    const { csr, keyFile } = makeCsr(tmp, ["a.example.test"]);
    const fin = await c.json<OrderView>(o.finalize, { csr });
    const pem = (await c.post(fin.body.certificate!)).body;
    const leaf = pem.split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n";
    const der = Buffer.from(leaf.replace(/-----[A-Z ]+-----|\s/g, ""), "base64").toString("base64url");
    return { der, keyFile, pem: leaf };
  }

  it("revokes by the ordering account into the CRL, then answers alreadyRevoked; other accounts may not", async () => {
    const s = await setup();
    const { der, pem } = await issued(s);
    const stranger = await s.h.client();
    await stranger.register();
    const refused = await stranger.post(stranger.dir.revokeCert, { certificate: der });
    expect(problemType(refused.body)).toBe("unauthorized");
    const r = await s.c.post(s.c.dir.revokeCert, { certificate: der, reason: 1 });
    expect(r.status).toBe(200);
    expect(problemType((await s.c.post(s.c.dir.revokeCert, { certificate: der })).body)).toBe("alreadyRevoked");
    const crl = tmp.file("acme.crl", String((await s.h.call("read", "crl/pem"))?.raw?.body));
    const serial = tmp.openssl(["x509", "-in", tmp.file("rev.pem", pem), "-noout", "-serial"]).out.trim().split("=")[1];
    expect(tmp.openssl(["crl", "-in", crl, "-noout", "-text"]).out.replace(/:/g, "").toUpperCase()).toContain(serial.toUpperCase());
    expect(problemType((await s.c.post(s.c.dir.revokeCert, { certificate: der, reason: 7 })).body)).toBe("badRevocationReason");
  });

  it("revokes when signed by the certificate's own key (jwk)", async () => {
    const s = await setup();
    const { der, keyFile } = await issued(s);
    const { createPrivateKey, createPublicKey } = await import("node:crypto");
    const { importPKCS8, exportJWK } = await import("jose");
    const keyPem = createPrivateKey(String(tmp.openssl(["pkey", "-in", keyFile]).out)).export({ type: "pkcs8", format: "pem" }).toString();
    const privateKey = await importPKCS8(keyPem, "ES256");
    const jwk = await exportJWK(createPublicKey(keyPem));
    const r = await s.c.post(s.c.dir.revokeCert, { certificate: der }, { key: { alg: "ES256", privateKey, jwk }, jwk });
    expect(r.status).toBe(200);
  });

  it("rolls the account key over (key-change) and deactivates accounts", async () => {
    const { c } = await setup();
    const newKey = await accountKey("ES384");
    // The inner JWS: the new key (jwk), no nonce (RFC 8555 §7.3.5).
    const { FlattenedSign } = await import("jose");
    const innerJws = await new FlattenedSign(new TextEncoder().encode(JSON.stringify({ account: c.kid, oldKey: c.key.jwk })))
      .setProtectedHeader({ alg: "ES384", jwk: newKey.jwk, url: c.dir.keyChange })
      .sign(newKey.privateKey);
    const r = await c.post(c.dir.keyChange, innerJws);
    expect(r.status).toBe(200);
    const oldKey = c.key;
    c.key = newKey;
    expect((await c.post(c.kid!)).status).toBe(200);
    c.key = oldKey;
    expect(problemType((await c.post(c.kid!)).body)).toBe("malformed"); // the old key's signature no longer verifies
    c.key = newKey;
    const d = await c.json<{ status: string }>(c.kid!, { status: "deactivated" });
    expect(d.body.status).toBe("deactivated");
    expect(problemType((await c.post(c.dir.newOrder, { identifiers: [{ type: "dns", value: "a.example.test" }] })).body)).toBe("unauthorized");
  });

  it("requires an external account binding when eab_policy says so, and consumes the EAB key", async () => {
    const { h } = await setup({ eab_policy: "new-account-required" });
    const c = await h.client();
    const without = await c.register();
    expect(problemType(without.body)).toBe("externalAccountRequired");
    const eab = (await h.call("write", "acme/new-eab"))!.data as { id: string; key: string };
    const { FlattenedSign } = await import("jose");
    const binding = await new FlattenedSign(new TextEncoder().encode(JSON.stringify(c.key.jwk)))
      .setProtectedHeader({ alg: "HS256", kid: eab.id, url: c.dir.newAccount })
      .sign(Buffer.from(eab.key, "base64url"));
    const r = await c.register({ termsOfServiceAgreed: true, externalAccountBinding: binding });
    expect(r.status).toBe(201);
    const other = await h.client();
    const reused = await new FlattenedSign(new TextEncoder().encode(JSON.stringify(other.key.jwk)))
      .setProtectedHeader({ alg: "HS256", kid: eab.id, url: other.dir.newAccount })
      .sign(Buffer.from(eab.key, "base64url"));
    expect(problemType((await other.register({ externalAccountBinding: reused })).body)).toBe("unauthorized");
  });

  /** The ARI certID (RFC 9773 §4.1) of a PEM certificate, as openssl reads it. */
  function certIdOf(pem: string): string {
    const text = tmp.openssl(["x509", "-in", tmp.file(`ari-${Math.random()}.pem`, pem), "-noout", "-serial", "-ext", "authorityKeyIdentifier"]).out;
    const serialHex = /serial=([0-9A-F]+)/.exec(text)![1];
    const aki = /keyid:([0-9A-F:]+)/i.exec(text)?.[1] ?? /\n\s+([0-9A-F:]{20,})/i.exec(text)![1];
    return `${Buffer.from(aki.replace(/:/g, ""), "hex").toString("base64url")}.${Buffer.from(serialHex, "hex").toString("base64url")}`;
  }

  it("answers ARI renewal-info for an issued certificate, and lets only its account replace it once", async () => {
    const s = await setup();
    const { pem } = await issued(s);
    const certId = certIdOf(pem);
    const r = await s.h.transport("GET", `${MOUNT_URL}/acme/renewal-info/${certId}`);
    expect(r.status).toBe(200);
    const w = JSON.parse(r.body) as { suggestedWindow: { start: string; end: string } };
    expect(Date.parse(w.suggestedWindow.start)).toBeLessThan(Date.parse(w.suggestedWindow.end));
    expect(r.headers.retryAfter).toBe(21600);
    const stranger = await s.h.client();
    await stranger.register();
    expect(problemType((await stranger.post(stranger.dir.newOrder, { identifiers: [{ type: "dns", value: "a.example.test" }], replaces: certId })).body)).toBe("malformed");
    expect((await s.c.post(s.c.dir.newOrder, { identifiers: [{ type: "dns", value: "a.example.test" }], replaces: certId })).status).toBe(201);
    expect(problemType((await s.c.post(s.c.dir.newOrder, { identifiers: [{ type: "dns", value: "a.example.test" }], replaces: certId })).body)).toBe("alreadyReplaced");
  });

  it("signs once when two finalize requests race", async () => {
    const { h, c, web } = await setup();
    const { url, order: o } = await order(c, ["a.example.test"]);
    const { body: authz } = await c.json<AuthzView>(o.authorizations[0]);
    const ch = authz.challenges.find((x) => x.type === "http-01")!;
    web.answers.set(ch.token, await c.keyAuthorization(ch.token));
    await c.post(ch.url, {});
    await pollUntilNot(c, o.authorizations[0], ["pending"]);
    const { csr } = makeCsr(tmp, ["a.example.test"]);
    const before = (await h.dump("certs/")).size;
    const bodies = [await c.signed({ url: o.finalize, payload: { csr } }), await c.signed({ url: o.finalize, payload: { csr } })];
    const [a, b] = await Promise.all(bodies.map((body) => c.postRaw(o.finalize, body)));
    expect([a.status, b.status].sort()).toEqual([200, 403]);
    expect(problemType((a.status === 403 ? a : b).body)).toBe("orderNotReady");
    expect((await h.dump("certs/")).size - before).toBe(1);
    expect((await c.json<OrderView>(url)).body.status).toBe("valid");
  });

  it("offers the chains of a cross-signed issuer as Link rel=alternate, each verifiable to its own root", async () => {
    const s = await setup();
    const roots = [pkiHarness(), pkiHarness()];
    cleanups.push(...roots.map((r) => () => r.close()));
    const csr = (await s.h.call("write", "intermediate/generate/internal", { common_name: "Arca Cross-signed Intermediate", key_type: "ec", key_bits: 256 }))!.data!.csr as string;
    const signed: string[] = [];
    const rootPems: string[] = [];
    for (const [i, r] of roots.entries()) {
      rootPems.push((await r.data("write", "root/generate/internal", { common_name: `Cross Root ${i}`, key_type: "ec", key_bits: 256, ttl: "8760h" })).certificate as string);
      signed.push((await r.data("write", "root/sign-intermediate", { csr, common_name: "Arca Cross-signed Intermediate", ttl: "4000h" })).certificate as string);
    }
    const first = await s.h.call("write", "intermediate/set-signed", { certificate: `${signed[0]}\n${rootPems[0]}` });
    const interId = (first!.data!.imported_issuers as string[])[0];
    await s.h.call("write", "issuers/import/bundle", { pem_bundle: `${signed[1]}\n${rootPems[1]}` });
    const c = await s.h.client("ES256", `${MOUNT_URL}/issuer/${interId}/acme/directory`);
    await c.register();
    const { body: o } = await c.json<OrderView>(c.dir.newOrder, { identifiers: [{ type: "dns", value: "a.example.test" }] });
    const { body: authz } = await c.json<AuthzView>(o.authorizations[0]);
    const ch = authz.challenges.find((x) => x.type === "http-01")!;
    s.web.answers.set(ch.token, await c.keyAuthorization(ch.token));
    await c.post(ch.url, {});
    await pollUntilNot(c, o.authorizations[0], ["pending"]);
    const fin = await c.json<OrderView>(o.finalize, { csr: makeCsr(tmp, ["a.example.test"]).csr });
    const main = await c.post(fin.body.certificate!);
    const alternates = (main.headers.link ?? []).filter((l) => l.endsWith('rel="alternate"'));
    expect(alternates).toHaveLength(1);
    const alt = await c.post(/^<([^>]+)>/.exec(alternates[0])![1]);
    expect(alt.status).toBe(200);
    expect(alt.body).not.toBe(main.body);
    const verifyWith = (chain: string, rootPem: string): string => {
      const f = tmp.file(`x-${Math.random()}.pem`, chain);
      return tmp.openssl(["verify", "-CAfile", tmp.file(`r-${Math.random()}.pem`, rootPem), "-untrusted", f, f]).out;
    };
    const [mainRoot, altRoot] = main.body.includes(signed[0].trim().split("\n")[1]) ? rootPems : [rootPems[1], rootPems[0]];
    expect(verifyWith(main.body, mainRoot)).toMatch(/OK/);
    expect(verifyWith(alt.body, altRoot)).toMatch(/OK/);
    expect(verifyWith(alt.body, mainRoot)).not.toMatch(/: OK/);
  });
});
