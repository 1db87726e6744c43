// HYOK sync through a second Arca dev server's Transit (the customer's): the customer withdraws access in the
// ways they can (policy, token, server down) and the key moves to FORBIDDEN / UNKNOWN, refusing everything
// beneath it — cached plaintext included — and back to ENABLED when access returns.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { backendHarness } from "../../../test/backend-harness.js";
import { api, devServer } from "../../../test/servers.js";
import type { OutboundPolicy } from "../../common/outbound-guard.js";
import type { RunningServer } from "../../server/server.js";
import { namespaceKeySourceOf } from "../../core/namespaces/namespace-key-source.js";
import { createKeychainBackendWith } from "./backend.js";

const LAB: OutboundPolicy = { allowHttp: true, allowedNetworks: ["127.0.0.0/8"] };

let customer: RunningServer;
const sys = (method: string, path: string, body?: unknown, server = customer) => api(server.url, method, path, { token: server.rootToken, body });

async function writePolicy(name: string, rules: string): Promise<void> {
  expect((await sys("PUT", `sys/policies/acl/${name}`, { policy: rules })).status).toBeLessThan(300);
}
const GRANT = 'path "customer-transit/encrypt/*" { capabilities = ["update"] }\npath "customer-transit/decrypt/*" { capabilities = ["update"] }';
const NONE = 'path "customer-transit/keys" { capabilities = ["list"] }';

async function customerToken(policy: string, server = customer): Promise<string> {
  const r = await sys("POST", "auth/token/create", { policies: [policy], no_default_policy: true }, server);
  return (r.body?.auth as { client_token: string }).client_token;
}

beforeAll(async () => {
  customer = await devServer();
  expect((await sys("POST", "sys/mounts/customer-transit", { type: "transit" })).status).toBeLessThan(300);
  expect((await sys("POST", "customer-transit/keys/l1", {})).status).toBeLessThan(300);
});
afterAll(async () => {
  await customer?.stop();
});

function setup(options: Record<string, string> = { hyok_sync_interval: "10s" }) {
  const backend = createKeychainBackendWith({ options: () => options, outbound: LAB });
  const h = backendHarness(backend, { point: "kc/", type: "keychain" });
  let clock = Date.now();
  /** Runs the periodic hook `seconds` later than the last run. */
  const tick = (seconds = 11) => backend.periodic({ storage: h.view, now: new Date((clock += seconds * 1000)) });
  return { ...h, tick };
}

type H = ReturnType<typeof setup>;
const data = (r: Awaited<ReturnType<H["call"]>>): Record<string, unknown> => (r?.data ?? {});

async function hyokChain(h: H, token: string, address = customer.url): Promise<{ plaintext: string; ciphertext: string }> {
  await h.call("write", "keystores/cust", { type: "transit", address, token, mount: "customer-transit" });
  await h.call("write", "keys/k", { keystore: "cust", origin: "hyok", native_id: address === customer.url ? "l1" : "k" });
  await h.call("write", "key-configurations/c", { primary_key: "k" });
  await h.call("write", "systems/s", { key_configuration: "c" });
  return data(await h.call("update", "systems/s/datakey", { bits: 256 })) as { plaintext: string; ciphertext: string };
}

const state = async (h: H): Promise<string> => data(await h.call("read", "keys/k")).state as string;
const decrypt = (h: H, ciphertext: string) => h.call("update", "systems/s/decrypt", { ciphertext });

describe("HYOK sync (transit)", () => {
  let h: H;
  beforeEach(() => {
    h = setup();
  });
  afterEach(async () => {
    await h.close();
  });

  it("follows the customer's policy: FORBIDDEN refuses decryption at once (cached keys too), ENABLED again when restored", async () => {
    await writePolicy("flip", GRANT);
    const dk = await hyokChain(h, await customerToken("flip"));
    expect(data(await decrypt(h, dk.ciphertext)).plaintext).toBe(dk.plaintext);
    expect(data(await h.call("read", "keys/k"))).toMatchObject({ state: "ENABLED", origin: "hyok", native_id: "l1" });

    await writePolicy("flip", NONE);
    await h.tick();
    expect(await state(h)).toBe("FORBIDDEN");
    // L2 and L3 were in the cache from the first decrypt: the refusal does not depend on the customer's Transit.
    expect((await h.fails("update", "systems/s/decrypt", { ciphertext: dk.ciphertext })).message).toMatch(/FORBIDDEN/);
    expect((await h.fails("update", "systems/s/datakey", { bits: 256 })).status).toBe(400);

    await writePolicy("flip", GRANT);
    await h.tick();
    expect(await state(h)).toBe("ENABLED");
    expect(data(await decrypt(h, dk.ciphertext)).plaintext).toBe(dk.plaintext);
  });

  it("tells the namespace key source's listeners when a HYOK key is back to ENABLED (a namespace it sealed reopens)", async () => {
    await writePolicy("back", GRANT);
    await hyokChain(h, await customerToken("back"));
    const told: string[] = [];
    const unsubscribe = namespaceKeySourceOf(h.backend)?.onKeyUsable?.(async (name) => {
      told.push(name);
    });
    expect(unsubscribe).toBeTypeOf("function");
    await writePolicy("back", NONE);
    await h.tick();
    expect(await state(h)).toBe("FORBIDDEN");
    expect(told).toEqual([]);
    await writePolicy("back", GRANT);
    await h.tick();
    expect(await state(h)).toBe("ENABLED");
    expect(told).toEqual(["k"]);
    unsubscribe?.();
  });

  it("a revoked token is FORBIDDEN; the sync waits for its interval", async () => {
    await writePolicy("hyok", GRANT);
    const token = await customerToken("hyok");
    await hyokChain(h, token);
    await h.tick();
    await sys("POST", "auth/token/revoke", { token });
    await h.tick(5); // within hyok_sync_interval (10s) of the last run: no probe yet
    expect(await state(h)).toBe("ENABLED");
    await h.tick(6);
    expect(await state(h)).toBe("FORBIDDEN");
  });

  it("an unreachable Transit is UNKNOWN, and refuses decryption too", async () => {
    const other = await devServer();
    try {
      await sys("POST", "sys/mounts/customer-transit", { type: "transit" }, other);
      const dk = await hyokChain(h, other.rootToken ?? "", other.url);
      await other.stop();
      await h.tick();
      expect(await state(h)).toBe("UNKNOWN");
      expect((await h.fails("update", "systems/s/decrypt", { ciphertext: dk.ciphertext })).message).toMatch(/UNKNOWN/);
    } finally {
      await other.stop().catch(() => undefined);
    }
  });

  it("leaves states an operator set alone, and never shows the token", async () => {
    await writePolicy("hyok", GRANT);
    const token = await customerToken("hyok");
    await hyokChain(h, token);
    const ks = data(await h.call("read", "keystores/cust"));
    expect(ks).toMatchObject({ type: "transit", address: customer.url, mount: "customer-transit" });
    expect(JSON.stringify(ks)).not.toContain(token);
    await h.call("update", "keys/k/revoke");
    await h.tick();
    expect(await state(h)).toBe("REVOKED");
  });
});
