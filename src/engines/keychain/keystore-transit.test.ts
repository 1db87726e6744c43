// HYOK through a second Arca dev server's Transit (the customer's): wrap/unwrap, the outbound guard, and what
// the customer's withdrawals (policy, token, key) do to probes and unwraps.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, devServer } from "../../../test/servers.js";
import { silentLogger } from "../../core/framework/system-view.js";
import { ArcaError } from "../../common/errors.js";
import { STRICT_OUTBOUND, type OutboundPolicy } from "../../common/outbound-guard.js";
import type { KeyValueStore } from "../../storage/storage.js";
import type { RunningServer } from "../../server/server.js";
import type { KeystoreContext, KeystoreProvider, KeystoreSettings } from "./keystore.js";
import { transitKeystoreType } from "./keystore-transit.js";

const LAB: OutboundPolicy = { allowHttp: true, allowedNetworks: ["127.0.0.0/8"] };
// The transit provider keeps no records of its own: storage is never touched.
const ctx: KeystoreContext = { keyManager: undefined, storage: {} as KeyValueStore, allowSoftware: false, logger: silentLogger };

let customer: RunningServer;
let root: string;

const sys = (method: string, path: string, body?: unknown) => api(customer.url, method, path, { token: root, body });

async function customerToken(policy: string): Promise<string> {
  const r = await sys("POST", "auth/token/create", { policies: [policy], no_default_policy: true });
  return (r.body?.auth as { client_token: string }).client_token;
}

async function writePolicy(name: string, paths: string[]): Promise<void> {
  const rules = paths.map((p) => `path "${p}" { capabilities = ["update"] }`).join("\n");
  expect((await sys("PUT", `sys/policies/acl/${name}`, { policy: rules })).status).toBeLessThan(300);
}

async function keystore(token: string, policy: OutboundPolicy = LAB): Promise<{ provider: KeystoreProvider; settings: KeystoreSettings }> {
  const type = transitKeystoreType(() => policy);
  const parsed = await type.parse({ address: customer.url, token, mount: "customer-transit" }, ctx);
  const settings = { type: "transit", ...parsed };
  return { provider: type.open(settings, ctx), settings };
}

beforeAll(async () => {
  customer = await devServer();
  root = customer.rootToken ?? "";
  expect((await sys("POST", "sys/mounts/customer-transit", { type: "transit" })).status).toBeLessThan(300);
  for (const k of ["l1", "l1-deleted"]) expect((await sys("POST", `customer-transit/keys/${k}`, {})).status).toBeLessThan(300);
  await writePolicy("hyok", ["customer-transit/encrypt/*", "customer-transit/decrypt/*"]);
});
afterAll(async () => {
  await customer?.stop();
});

describe("transit keystore (HYOK)", () => {
  it("keeps the token a secret: config holds address and mount, secrets the token", async () => {
    const token = await customerToken("hyok");
    const { settings } = await keystore(token);
    expect(settings.config).toEqual({ address: customer.url, mount: "customer-transit" });
    expect(settings.secrets).toEqual({ token });
    expect(JSON.stringify(settings.config)).not.toContain(token);
  });

  it("refuses plain http and loopback unless the server config allows them", async () => {
    const type = transitKeystoreType(() => STRICT_OUTBOUND);
    await expect(type.parse({ address: customer.url, token: "t" }, ctx)).rejects.toThrow(/plain http is not allowed/);
    const httpsLoopback = customer.url.replace("http:", "https:");
    await expect(type.parse({ address: httpsLoopback, token: "t" }, ctx)).rejects.toThrow(/127\.0\.0\.1, which is a loopback/);
    await expect(type.parse({ address: "https://169.254.169.254/latest", token: "t" }, ctx)).rejects.toThrow(/link-local/);
    await expect(type.parse({ address: "https://[fd00:ec2::254]/", token: "t" }, ctx)).rejects.toThrow(/private/);
    const lab = transitKeystoreType(() => ({ allowHttp: true, allowedNetworks: [] }));
    await expect(lab.parse({ address: customer.url, token: "t" }, ctx)).rejects.toThrow(/loopback/);
  });

  it("checks input: token required, mount and ca_cert well-formed", async () => {
    const type = transitKeystoreType(() => LAB);
    for (const bad of [{}, { token: "" }, { token: 5 }, { token: "t", mount: "../sys" }, { token: "t", ca_cert: "not a pem" }, { token: "t", namespace: "a b" }]) {
      const err = await type.parse({ address: customer.url, ...bad }, ctx).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ArcaError);
      expect((err as ArcaError).status).toBe(400);
    }
  });

  it("wraps and unwraps through the customer's Transit; associated data binds the blob", async () => {
    const { provider } = await keystore(await customerToken("hyok"));
    const ref = await provider.attach!("l1", "AES256");
    expect(ref).toMatchObject({ uri: "l1", owned: false });
    const l2 = Buffer.alloc(32, 7);
    const blob = await provider.wrap(ref, l2, Buffer.from("l2-a"));
    expect(blob.toString()).toMatch(/^vault:v1:/);
    expect(await provider.unwrap(ref, blob, Buffer.from("l2-a"))).toEqual(l2);
    await expect(provider.unwrap(ref, blob, Buffer.from("l2-b"))).rejects.toThrow(/does not belong here/);
    await expect(provider.createKey({ label: "x", algorithm: "AES256" })).rejects.toThrow(/origin=hyok/);
    await expect(provider.attach!("no such/key", "AES256")).rejects.toThrow(/native_id/);
  });

  it("a policy withdrawn is FORBIDDEN and refuses unwraps; restored, it is ENABLED again", async () => {
    await writePolicy("hyok-flip", ["customer-transit/encrypt/l1", "customer-transit/decrypt/l1"]);
    const { provider } = await keystore(await customerToken("hyok-flip"));
    const ref = await provider.attach!("l1", "AES256");
    const blob = await provider.wrap(ref, Buffer.alloc(32, 1), Buffer.from("a"));
    expect(await provider.probe(ref)).toBe("ENABLED");
    await writePolicy("hyok-flip", ["customer-transit/encrypt/other"]);
    expect(await provider.probe(ref)).toBe("FORBIDDEN");
    const err = await provider.unwrap(ref, blob, Buffer.from("a")).catch((e: unknown) => e);
    expect((err as ArcaError).status).toBe(400);
    await writePolicy("hyok-flip", ["customer-transit/encrypt/l1", "customer-transit/decrypt/l1"]);
    expect(await provider.probe(ref)).toBe("ENABLED");
    expect(await provider.unwrap(ref, blob, Buffer.from("a"))).toEqual(Buffer.alloc(32, 1));
  });

  it("a revoked token is FORBIDDEN", async () => {
    const token = await customerToken("hyok");
    const { provider } = await keystore(token);
    const ref = await provider.attach!("l1", "AES256");
    expect((await sys("POST", "auth/token/revoke", { token })).status).toBeLessThan(300);
    expect(await provider.probe(ref)).toBe("FORBIDDEN");
  });

  it("a deleted key is FORBIDDEN, and a key re-created under its name is not taken for it", async () => {
    const { provider } = await keystore(await customerToken("hyok"));
    const ref = await provider.attach!("l1-deleted", "AES256");
    expect((await sys("POST", "customer-transit/keys/l1-deleted/config", { deletion_allowed: true })).status).toBeLessThan(300);
    expect((await sys("DELETE", "customer-transit/keys/l1-deleted")).status).toBeLessThan(300);
    expect(await provider.probe(ref)).toBe("FORBIDDEN");
    expect((await sys("POST", "customer-transit/keys/l1-deleted", {})).status).toBeLessThan(300);
    expect(await provider.probe(ref)).toBe("FORBIDDEN");
    await expect(provider.wrap(ref, Buffer.alloc(32), Buffer.from("a"))).rejects.toThrow(/deleted or replaced/);
  });

  it("an unreachable Transit is UNKNOWN (not FORBIDDEN)", async () => {
    const other = await devServer();
    await api(other.url, "POST", "sys/mounts/customer-transit", { token: other.rootToken, body: { type: "transit" } });
    const type = transitKeystoreType(() => LAB);
    const settings = { type: "transit", ...(await type.parse({ address: other.url, token: other.rootToken ?? "", mount: "customer-transit" }, ctx)) };
    const provider = type.open(settings, ctx);
    const ref = await provider.attach!("k", "AES256");
    await other.stop();
    expect(await provider.probe(ref)).toBe("UNKNOWN");
    const err = await provider.unwrap(ref, Buffer.from("vault:v1:x"), Buffer.from("a")).catch((e: unknown) => e);
    expect((err as ArcaError).status).toBe(503);
  });

  it("does not follow redirects (to metadata or anywhere)", async () => {
    let followed = false;
    const target: Server = createServer((_req, res) => {
      followed = true;
      res.end("{}");
    });
    await new Promise<void>((r) => target.listen(0, "127.0.0.1", r));
    const redirector: Server = createServer((_req, res) => {
      res.writeHead(307, { Location: `http://127.0.0.1:${(target.address() as AddressInfo).port}/v1/customer-transit/encrypt/l1` });
      res.end();
    });
    await new Promise<void>((r) => redirector.listen(0, "127.0.0.1", r));
    try {
      const type = transitKeystoreType(() => LAB);
      const address = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}`;
      const provider = type.open({ type: "transit", ...(await type.parse({ address, token: "secret-token-value" }, ctx)) }, ctx);
      const err = await provider.attach!("l1", "AES256").catch((e: unknown) => e);
      expect((err as ArcaError).message).toMatch(/redirect \(307\)/);
      expect((err as ArcaError).message).not.toContain("secret-token-value");
      expect(followed).toBe(false);
    } finally {
      redirector.close();
      target.close();
    }
  });

  it("speaks https with the keystore's ca_cert (and refuses a server it does not trust)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "arca-transit-tls-"));
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-subj", "/CN=transit", "-days", "2", "-addext", "subjectAltName=IP:127.0.0.1"], { cwd: dir, stdio: "ignore" });
    const cert = readFileSync(join(dir, "cert.pem"), "utf8");
    // A stand-in Transit: "encrypts" by base64 behind the vault:v1: prefix; enough to carry the TLS path.
    const fake = createHttpsServer({ cert, key: readFileSync(join(dir, "key.pem")) }, (req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        const input = JSON.parse(body) as { plaintext?: string; ciphertext?: string };
        const data = req.url?.includes("/encrypt/") ? { ciphertext: `vault:v1:${input.plaintext ?? ""}` } : { plaintext: (input.ciphertext ?? "").slice(9) };
        res.setHeader("Content-Type", "application/json");
        res.end(JSON.stringify({ data }));
      });
    });
    await new Promise<void>((r) => fake.listen(0, "127.0.0.1", r));
    try {
      const strictHttpLoopback: OutboundPolicy = { allowHttp: false, allowedNetworks: ["127.0.0.1/32"] };
      const type = transitKeystoreType(() => strictHttpLoopback);
      const address = `https://127.0.0.1:${(fake.address() as AddressInfo).port}`;
      const trusted = type.open({ type: "transit", ...(await type.parse({ address, token: "t", ca_cert: cert }, ctx)) }, ctx);
      const ref = await trusted.attach!("k", "AES256");
      const blob = await trusted.wrap(ref, Buffer.alloc(32, 3), Buffer.from("aad"));
      expect(await trusted.unwrap(ref, blob, Buffer.from("aad"))).toEqual(Buffer.alloc(32, 3));
      const untrusted = type.open({ type: "transit", ...(await type.parse({ address, token: "t" }, ctx)) }, ctx);
      const err = await untrusted.attach!("k", "AES256").catch((e: unknown) => e);
      expect((err as ArcaError).status).toBe(503);
      expect(await untrusted.probe(ref)).toBe("UNKNOWN");
    } finally {
      fake.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a host name: every address it resolves to must be allowed, and the connection goes to those", async () => {
    const port = new URL(customer.url).port;
    const token = await customerToken("hyok");
    // localhost is 127.0.0.1 and, on most systems, ::1: allowing only the IPv4 loopback refuses the name then.
    const both = transitKeystoreType(() => ({ allowHttp: true, allowedNetworks: ["127.0.0.0/8", "::1/128"] }));
    const provider = both.open({ type: "transit", ...(await both.parse({ address: `http://localhost:${port}`, token, mount: "customer-transit" }, ctx)) }, ctx);
    expect((await provider.attach!("l1", "AES256")).uri).toBe("l1");
  });
});
