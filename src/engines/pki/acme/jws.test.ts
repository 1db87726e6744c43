// Every JWS rule of RFC 8555 §6 (jws.ts): each refusal is a problem document and stores nothing.
import { afterEach, describe, expect, it } from "vitest";
import { accountKey } from "../../../../test/acme-client.js";
import { acmeHarness, MOUNT_URL } from "./acme-harness.test-util.js";
import { consumeNonce, issueNonce, NONCE_TTL_MS, NonceKeys } from "./nonces.js";

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((h) => h.close()));
});
async function harness(...args: Parameters<typeof acmeHarness>) {
  const h = await acmeHarness(...args);
  open.push(h);
  return h;
}

const problemType = (body: string): string => (JSON.parse(body) as { type: string }).type;

describe("ACME JWS rules", () => {
  it("serves the directory in all four OpenBao forms, and nonces by HEAD and GET", async () => {
    const h = await harness();
    await h.call("write", "roles/web", { allow_any_name: true });
    const issuer = (await h.call("list", "issuers/"))?.data?.keys as string[];
    for (const prefix of ["", "roles/web/", `issuer/${issuer[0]}/`, `issuer/${issuer[0]}/roles/web/`]) {
      const r = await h.transport("GET", `${MOUNT_URL}/${prefix}acme/directory`);
      expect(r.status).toBe(200);
      const d = JSON.parse(r.body) as Record<string, string>;
      expect(d.newAccount).toBe(`${MOUNT_URL}/${prefix}acme/new-account`);
      expect(d.newNonce).toBe(`${MOUNT_URL}/${prefix}acme/new-nonce`);
      expect(r.headers.replayNonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    }
    // The harness has no HEAD (a plain read is a GET): 204 No Content (RFC 8555 §7.2); acme-http.test.ts covers HEAD.
    const head = await h.transport("GET", `${MOUNT_URL}/acme/new-nonce`);
    expect(head.status).toBe(204);
    expect(head.headers.replayNonce).toBeTruthy();
    expect(head.headers.link).toContain(`<${MOUNT_URL}/acme/directory>;rel="index"`);
  });

  it("creates an account for a key once, and answers the same account for it again", async () => {
    const h = await harness();
    const c = await h.client("ES256");
    const first = await c.register();
    expect(first.status).toBe(201);
    expect(first.headers.location).toMatch(new RegExp(`^${MOUNT_URL}/acme/account/`));
    const again = await c.register({ onlyReturnExisting: true });
    expect(again.status).toBe(200);
    expect(again.headers.location).toBe(first.headers.location);
  });

  it("accepts RS256, ES384 and EdDSA account keys", async () => {
    const h = await harness();
    for (const alg of ["RS256", "ES384", "EdDSA"] as const) {
      const c = await h.client(alg);
      expect((await c.register()).status).toBe(201);
    }
  });

  it("refuses onlyReturnExisting for an unknown key with accountDoesNotExist", async () => {
    const h = await harness();
    const c = await h.client();
    const r = await c.register({ onlyReturnExisting: true });
    expect(r.status).toBe(400);
    expect(r.headers.contentType).toBe("application/problem+json");
    expect(problemType(r.body)).toBe("urn:ietf:params:acme:error:accountDoesNotExist");
    expect(await h.acmeState()).toEqual([]);
  });

  it("refuses a bad signature (malformed), storing nothing", async () => {
    const h = await harness();
    const c = await h.client();
    const other = await accountKey("ES256");
    // Signed by another key than the jwk it presents.
    const body = await c.signed({ url: c.dir.newAccount, payload: { termsOfServiceAgreed: true }, jwk: c.key.jwk, key: { ...other, jwk: c.key.jwk } });
    const r = await c.postRaw(c.dir.newAccount, body);
    expect(r.status).toBe(400);
    expect(problemType(r.body)).toBe("urn:ietf:params:acme:error:malformed");
    expect(r.headers.replayNonce).toBeTruthy();
    expect(await h.acmeState()).toEqual([]);
  });

  it("refuses a url other than the request's (unauthorized), storing nothing", async () => {
    const h = await harness();
    const c = await h.client();
    const body = await c.signed({ url: `${MOUNT_URL}/acme/new-order`, payload: { termsOfServiceAgreed: true }, jwk: c.key.jwk });
    const r = await c.postRaw(c.dir.newAccount, body);
    expect(r.status).toBe(403);
    expect(problemType(r.body)).toBe("urn:ietf:params:acme:error:unauthorized");
    expect(await h.acmeState()).toEqual([]);
  });

  it("refuses a reused nonce with badNonce and a fresh Replay-Nonce, storing nothing", async () => {
    const h = await harness();
    const c = await h.client();
    const nonce = await c.nonce();
    expect((await c.postRaw(c.dir.newAccount, await c.signed({ url: c.dir.newAccount, payload: { termsOfServiceAgreed: true }, nonce }))).status).toBe(201);
    const before = await h.acmeState();
    const c2 = await h.client();
    const r = await c2.postRaw(c2.dir.newAccount, await c2.signed({ url: c2.dir.newAccount, payload: { termsOfServiceAgreed: true }, nonce }));
    expect(r.status).toBe(400);
    expect(problemType(r.body)).toBe("urn:ietf:params:acme:error:badNonce");
    expect(r.headers.replayNonce).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(r.headers.replayNonce).not.toBe(nonce);
    expect(await h.acmeState()).toEqual(before);
  });

  it("refuses a nonce never issued", async () => {
    const h = await harness();
    const c = await h.client();
    const r = await c.postRaw(c.dir.newAccount, await c.signed({ url: c.dir.newAccount, payload: {}, nonce: "AAAAAAAAAAAAAAAAAAAAAA" }));
    expect(problemType(r.body)).toBe("urn:ietf:params:acme:error:badNonce");
  });

  it("refuses a header with both jwk and kid (malformed), storing nothing", async () => {
    const h = await harness();
    const c = await h.client();
    await c.register();
    const before = await h.acmeState();
    const r = await c.postRaw(c.dir.newOrder, await c.signed({ url: c.dir.newOrder, payload: { identifiers: [{ type: "dns", value: "a.example.test" }] }, jwk: c.key.jwk, kid: c.kid }));
    expect(r.status).toBe(400);
    expect(problemType(r.body)).toBe("urn:ietf:params:acme:error:malformed");
    expect(await h.acmeState()).toEqual(before);
  });

  it("refuses an unknown kid with accountDoesNotExist, storing nothing", async () => {
    const h = await harness();
    const c = await h.client();
    const r = await c.postRaw(c.dir.newOrder, await c.signed({ url: c.dir.newOrder, payload: { identifiers: [{ type: "dns", value: "a.example.test" }] }, kid: `${MOUNT_URL}/acme/account/AAAAAAAAAAAAAAAAAAAAAA` }));
    expect(r.status).toBe(400);
    expect(problemType(r.body)).toBe("urn:ietf:params:acme:error:accountDoesNotExist");
    expect(await h.acmeState()).toEqual([]);
  });

  it("refuses a wrong Content-Type with a 415 problem document, storing nothing", async () => {
    const h = await harness();
    const c = await h.client();
    const body = await c.signed({ url: c.dir.newAccount, payload: { termsOfServiceAgreed: true } });
    for (const type of ["application/json", "application/octet-stream"]) {
      const r = await c.postRaw(c.dir.newAccount, body, type);
      expect(r.status).toBe(415);
      expect(r.headers.contentType).toBe("application/problem+json");
      expect(problemType(r.body)).toBe("urn:ietf:params:acme:error:malformed");
    }
    expect(await h.acmeState()).toEqual([]);
  });

  it("refuses algorithms outside RS256/ES256/ES384/EdDSA and a private jwk", async () => {
    const h = await harness();
    const c = await h.client();
    const forged = async (alg: string, jwk: unknown): Promise<string> =>
      JSON.stringify({ protected: Buffer.from(JSON.stringify({ alg, nonce: await c.nonce(), url: c.dir.newAccount, jwk })).toString("base64url"), payload: "", signature: "AAAA" });
    for (const alg of ["ES512", "HS256", "none"]) {
      const r = await c.postRaw(c.dir.newAccount, await forged(alg, c.key.jwk));
      expect(problemType(r.body)).toBe("urn:ietf:params:acme:error:badSignatureAlgorithm");
    }
    const priv = await c.postRaw(c.dir.newAccount, await forged("ES256", { ...c.key.jwk, d: "AAAA" }));
    expect(problemType(priv.body)).toBe("urn:ietf:params:acme:error:badPublicKey");
    const general = await c.postRaw(c.dir.newAccount, JSON.stringify({ payload: "", signatures: [] }));
    expect(problemType(general.body)).toBe("urn:ietf:params:acme:error:malformed");
    const junk = await c.postRaw(c.dir.newAccount, "{not json");
    expect(problemType(junk.body)).toBe("urn:ietf:params:acme:error:malformed");
    expect(await h.acmeState()).toEqual([]);
  });

  it("mints nonces without storing them, and refuses expired or forged ones", async () => {
    const h = await harness();
    for (let i = 0; i < 20; i++) await h.transport("HEAD", `${MOUNT_URL}/acme/new-nonce`);
    expect([...(await h.dump("acme/")).keys()]).toEqual(["acme/nonce-key"]);
    const keys = new NonceKeys();
    const stale = await issueNonce(h.view, keys, Date.now() - NONCE_TTL_MS - 1);
    expect(await consumeNonce(h.view, keys, stale)).toBe(false);
    const good = await issueNonce(h.view, keys);
    const raw = Buffer.from(good, "base64url");
    raw[raw.length - 1] ^= 1;
    expect(await consumeNonce(h.view, keys, raw.toString("base64url"))).toBe(false);
    // Another mount's key does not verify this one's nonces.
    const other = await harness();
    expect(await consumeNonce(other.view, new NonceKeys(), good)).toBe(false);
    expect(await consumeNonce(h.view, keys, good)).toBe(true);
    expect(await consumeNonce(h.view, keys, good)).toBe(false);
  });

  it("refuses accounts without an external account binding once eab_policy is always-required", async () => {
    const h = await harness();
    const c = await h.client();
    await c.register();
    await h.call("write", "config/acme", { eab_policy: "always-required" });
    const r = await c.post(c.dir.newOrder, { identifiers: [{ type: "dns", value: "a.example.test" }] });
    expect(problemType(r.body)).toBe("urn:ietf:params:acme:error:externalAccountRequired");
  });

  it("lets exactly one of two concurrent requests with the same nonce through", async () => {
    const h = await harness();
    const a = await h.client();
    const b = await h.client();
    const nonce = await a.nonce();
    const [ra, rb] = await Promise.all([
      a.postRaw(a.dir.newAccount, await a.signed({ url: a.dir.newAccount, payload: { termsOfServiceAgreed: true }, nonce })),
      b.postRaw(b.dir.newAccount, await b.signed({ url: b.dir.newAccount, payload: { termsOfServiceAgreed: true }, nonce })),
    ]);
    expect([ra.status, rb.status].sort()).toEqual([201, 400]);
    expect(problemType((ra.status === 400 ? ra : rb).body)).toBe("urn:ietf:params:acme:error:badNonce");
    expect((await h.acmeState()).filter((k) => k.startsWith("acme/accounts/"))).toHaveLength(1);
  });

  it("answers a disabled ACME with a problem document and no nonce", async () => {
    const h = await harness();
    await h.call("write", "config/acme", { enabled: false });
    const r = await h.transport("GET", `${MOUNT_URL}/acme/directory`);
    expect(r.status).toBe(403);
    expect(r.headers.contentType).toBe("application/problem+json");
    expect(r.headers.replayNonce).toBeUndefined();
  });
});
