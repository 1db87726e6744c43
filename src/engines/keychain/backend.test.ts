/**
 * The keychain engine on the dev-only software keystore (runs everywhere): states and their effect on the
 * chain, revoke as a kill switch, crypto-shredding, rotation re-wrap, bindings between systems, bad input.
 * The HSM (SoftHSM) side, policies and namespaces are in keychain-hsm.test.ts and keychain-core.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { backendHarness } from "../../../test/backend-harness.js";
import { createKeychainBackendWith } from "./backend.js";
import { KeyCache } from "./key-cache.js";
import { KeystoreRegistry, type KeystoreProvider, type KeystoreType } from "./keystore.js";
import { softwareKeystoreType } from "./keystore-software.js";

/** A cache that remembers a copy of every plaintext put in it, so storage can be scanned for them. */
class WatchedCache extends KeyCache {
  readonly seen: Buffer[] = [];
  override put(id: string, key: Buffer, startedAt: number): void {
    this.seen.push(Buffer.from(key));
    super.put(id, key, startedAt);
  }
}

const OPTIONS = { allow_software_keystore: "true", min_pending_window: "1s" };

function setup(options: Record<string, string> = OPTIONS, cache = new WatchedCache(10_000)) {
  const backend = createKeychainBackendWith({ options: () => options, cache });
  const h = backendHarness(backend, { point: "kc/", type: "keychain" });
  return { ...h, cache, periodic: (at: Date) => backend.periodic({ storage: h.view, now: at }) };
}

type H = ReturnType<typeof setup>;

async function chain(h: H, key = "k1", cfg = "c1", systems: string[] = ["s1"]): Promise<void> {
  if (!(await h.call("read", "keystores/soft"))) await h.call("write", "keystores/soft", { type: "software" });
  await h.call("write", `keys/${key}`, { keystore: "soft" });
  await h.call("write", `key-configurations/${cfg}`, { primary_key: key });
  for (const s of systems) await h.call("write", `systems/${s}`, { key_configuration: cfg, region: "eu-de-1", labels: { team: "a" } });
}

async function datakey(h: H, system = "s1", bits = 256): Promise<{ plaintext: string; ciphertext: string }> {
  const r = await h.call("update", `systems/${system}/datakey`, { bits });
  return r?.data as { plaintext: string; ciphertext: string };
}

async function decrypt(h: H, ciphertext: string, system = "s1"): Promise<string> {
  const r = await h.call("update", `systems/${system}/decrypt`, { ciphertext });
  return (r?.data as { plaintext: string }).plaintext;
}

async function keyState(h: H, name = "k1"): Promise<string> {
  return ((await h.call("read", `keys/${name}`))?.data as { state: string }).state;
}

describe("keychain engine (software keystore)", () => {
  let h: H;
  beforeEach(() => {
    h = setup();
  });
  afterEach(async () => {
    await h.close();
  });

  it("makes data keys that decrypt under their system, with the GET shape of the issue", async () => {
    await chain(h);
    const dk = await datakey(h);
    expect(Buffer.from(dk.plaintext, "base64")).toHaveLength(32);
    expect(await decrypt(h, dk.ciphertext)).toBe(dk.plaintext);
    const small = await datakey(h, "s1", 128);
    expect(Buffer.from(small.plaintext, "base64")).toHaveLength(16);
    const key = (await h.call("read", "keys/k1"))?.data ?? {};
    for (const field of ["name", "state", "origin", "keystore", "native_id", "algorithm", "primary_version", "versions", "key_configurations", "created_at", "updated_at"]) {
      expect(key).toHaveProperty(field);
    }
    expect(key).toMatchObject({ name: "k1", state: "ENABLED", origin: "generated", keystore: "soft", algorithm: "AES256", primary_version: 1, key_configurations: ["c1"] });
  });

  it("refuses the software keystore unless the mount allows it", async () => {
    const strict = setup({});
    try {
      const err = await strict.fails("write", "keystores/soft", { type: "software" });
      expect(err.status).toBe(400);
      expect(err.message).toMatch(/development only/);
    } finally {
      await strict.close();
    }
  });

  it("disable stops new data keys and systems but decryption goes on; enable restores", async () => {
    await chain(h);
    const dk = await datakey(h);
    await h.call("update", "keys/k1/disable");
    expect(await keyState(h)).toBe("DISABLED");
    expect((await h.fails("update", "systems/s1/datakey", {})).message).toMatch(/DISABLED/);
    expect((await h.fails("write", "systems/s2", { key_configuration: "c1" })).status).toBe(400);
    expect((await h.fails("write", "key-configurations/c2", { primary_key: "k1" })).status).toBe(400);
    expect(await decrypt(h, dk.ciphertext)).toBe(dk.plaintext);
    await h.call("update", "keys/k1/enable");
    expect(await keyState(h)).toBe("ENABLED");
    expect(await decrypt(h, (await datakey(h)).ciphertext)).toBeTruthy();
  });

  it("revoke cuts off everything beneath and zeroes the cache before it returns; enable restores without loss", async () => {
    await chain(h);
    const dk = await datakey(h);
    expect(h.cache.size).toBeGreaterThan(0);
    const cached = [...h.cache.seen];
    await h.call("update", "keys/k1/revoke");
    expect(h.cache.size).toBe(0);
    expect(await keyState(h)).toBe("REVOKED");
    expect((await h.fails("update", "systems/s1/decrypt", { ciphertext: dk.ciphertext })).message).toMatch(/REVOKED/);
    expect((await h.fails("update", "systems/s1/datakey", {})).status).toBe(400);
    expect(cached.length).toBeGreaterThan(0);
    await h.call("update", "keys/k1/enable");
    expect(await decrypt(h, dk.ciphertext)).toBe(dk.plaintext);
  });

  it("zeroes the cached plaintext buffers themselves on revoke and cleanup (seal)", async () => {
    const plain = new KeyCache(10);
    const a = Buffer.alloc(32, 7);
    plain.put("x", a, plain.generation);
    plain.clear();
    expect(a.equals(Buffer.alloc(32))).toBe(true);
    await chain(h);
    await datakey(h);
    expect(h.cache.size).toBeGreaterThan(0);
    await h.backend.cleanup();
    expect(h.cache.size).toBe(0);
  });

  it("a revoke written by another node (invalidate) refuses at once and zeroes this node's cached plaintext", async () => {
    await h.backend.initialize({ storage: h.view });
    await chain(h);
    const dk = await datakey(h);
    expect(await decrypt(h, dk.ciphertext)).toBe(dk.plaintext);
    expect(h.cache.size).toBeGreaterThan(0);
    // Another node's revoke: the stored record changes behind this backend's back, then its hook runs.
    const stored = JSON.parse((await h.view.get("keys/k1"))!.toString("utf8")) as { state: string };
    await h.view.put("keys/k1", Buffer.from(JSON.stringify({ ...stored, state: "REVOKED" }), "utf8"));
    const genBefore = h.cache.generation;
    await h.backend.invalidate("keys/k1");
    expect(h.cache.size).toBe(0);
    expect(h.cache.generation).not.toBe(genBefore); // an unwrap running now does not put its result back
    expect(h.cache.seen.length).toBeGreaterThan(0);
    expect((await h.fails("update", "systems/s1/decrypt", { ciphertext: dk.ciphertext })).message).toMatch(/REVOKED/);
    expect((await h.fails("update", "systems/s1/datakey", {})).message).toMatch(/REVOKED/);
  });

  it("invalidate of a system or configuration zeroes plaintext without cutting off running requests; of an index, nothing", async () => {
    await chain(h, "k1", "c1", ["s1", "s2"]);
    await datakey(h, "s1");
    const filled = h.cache.size;
    expect(filled).toBeGreaterThan(0);
    const gen = h.cache.generation;
    await h.backend.invalidate("index/config-systems/c1/s2");
    expect(h.cache.size).toBe(filled);
    await h.backend.invalidate("systems/s2");
    expect(h.cache.size).toBe(0);
    expect(h.cache.generation).toBe(gen);
    await datakey(h, "s1");
    await h.backend.invalidate("key-configurations/c1");
    expect(h.cache.size).toBe(0);
    expect(h.cache.generation).toBe(gen);
    expect(await datakey(h, "s1")).toBeDefined();
  });

  it("invalidate of a key still usable zeroes plaintext without cutting off running requests; a destroyed version or no view is strict", async () => {
    await chain(h);
    const strict = async (): Promise<void> => {
      await datakey(h);
      const gen = h.cache.generation;
      await h.backend.invalidate("keys/k1");
      expect(h.cache.size).toBe(0);
      expect(h.cache.generation).not.toBe(gen);
    };
    await strict(); // before initialize: the record cannot be read, so the change counts as a revoke
    await h.backend.initialize({ storage: h.view });
    const dk = await datakey(h);
    for (const state of ["ENABLED", "DISABLED"]) {
      const stored = JSON.parse((await h.view.get("keys/k1"))!.toString("utf8")) as Record<string, unknown>;
      await h.view.put("keys/k1", Buffer.from(JSON.stringify({ ...stored, state }), "utf8"));
      await h.backend.invalidate("index/key-configs/x"); // the record cache reads the new state
      expect(await decrypt(h, dk.ciphertext)).toBe(dk.plaintext);
      expect(h.cache.size).toBeGreaterThan(0);
      const gen = h.cache.generation;
      await h.backend.invalidate("keys/k1");
      expect(h.cache.size).toBe(0);
      expect(h.cache.generation).toBe(gen);
    }
    const stored = JSON.parse((await h.view.get("keys/k1"))!.toString("utf8")) as { versions: Record<string, Record<string, unknown>> };
    stored.versions["1"] = { ...stored.versions["1"], destroyed_at: new Date().toISOString() };
    await h.view.put("keys/k1", Buffer.from(JSON.stringify({ ...stored, state: "ENABLED" }), "utf8"));
    await h.backend.invalidate("keys/k1");
    expect(h.cache.generation).not.toBe(0);
    const gen = h.cache.generation;
    await h.backend.invalidate("keys/k1");
    expect(h.cache.generation).toBe(gen + 1);
    await h.backend.invalidate("keystores/soft");
    expect(h.cache.generation).toBe(gen + 2);
  });

  it("evicts (and zeroes) past its bound", () => {
    const c = new KeyCache(2);
    const bufs = [Buffer.alloc(4, 1), Buffer.alloc(4, 2), Buffer.alloc(4, 3)];
    bufs.forEach((b, i) => c.put(`k${i}`, b, c.generation));
    expect(c.size).toBe(2);
    expect(bufs[0].equals(Buffer.alloc(4))).toBe(true);
    expect(c.get("k2")).toBe(bufs[2]);
    // An unwrap that started before a clear is not cached (and is zeroed).
    const gen = c.generation;
    c.clear();
    const late = Buffer.alloc(4, 9);
    c.put("late", late, gen);
    expect(c.size).toBe(0);
    expect(late.equals(Buffer.alloc(4))).toBe(true);
  });

  it("revoke cuts off 1,000 systems at once: every one refuses right after revoke returns", async () => {
    const names = Array.from({ length: 1000 }, (_, i) => `sys-${i}`);
    await chain(h, "k1", "c1", []);
    for (let i = 0; i < names.length; i += 50) {
      await Promise.all(names.slice(i, i + 50).map((s) => h.call("write", `systems/${s}`, { key_configuration: "c1" })));
    }
    const cts = new Map<string, string>();
    for (let i = 0; i < names.length; i += 50) {
      await Promise.all(names.slice(i, i + 50).map(async (s) => cts.set(s, (await datakey(h, s)).ciphertext)));
    }
    await h.call("update", "keys/k1/revoke");
    const results = await Promise.allSettled(names.map((s) => decrypt(h, cts.get(s)!, s)));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(0);
    const graph = (await h.call("read", "graph"))?.data as { counts: { systems: number }; keys: Array<{ state: string }> };
    expect(graph.counts.systems).toBe(1000);
    expect(graph.keys[0].state).toBe("REVOKED");
  }, 60_000);

  it("a data key of one system does not unwrap under another (even in the same configuration)", async () => {
    await chain(h, "k1", "c1", ["s1", "s2"]);
    const dk = await datakey(h, "s1");
    const err = await h.fails("update", "systems/s2/decrypt", { ciphertext: dk.ciphertext });
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/authentication failed/);
  });

  it("schedule-deletion refuses like REVOKED, cancel → DISABLED, and the window's end shreds for good", async () => {
    await chain(h);
    const dk = await datakey(h);
    expect((await h.fails("update", "keys/k1/schedule-deletion", { pending_window: "0s" })).message).toMatch(/at least/);
    await h.call("update", "keys/k1/schedule-deletion", { pending_window: "1h" });
    expect(await keyState(h)).toBe("PENDING_DELETION");
    expect((await h.fails("update", "systems/s1/decrypt", { ciphertext: dk.ciphertext })).message).toMatch(/PENDING_DELETION/);
    expect((await h.fails("update", "keys/k1/enable")).status).toBe(400);
    await h.call("update", "keys/k1/cancel-deletion");
    expect(await keyState(h)).toBe("DISABLED");
    expect(await decrypt(h, dk.ciphertext)).toBe(dk.plaintext);

    await h.call("update", "keys/k1/schedule-deletion", { pending_window: "1h" });
    await h.periodic(new Date(Date.now() + 30 * 60_000));
    expect(await keyState(h)).toBe("PENDING_DELETION");
    await h.periodic(new Date(Date.now() + 2 * 3600_000));
    expect(await keyState(h)).toBe("DELETED");
    expect((await h.fails("update", "keys/k1/cancel-deletion")).status).toBe(400);
    expect((await h.fails("update", "keys/k1/enable")).status).toBe(400);
    // The material is gone from the keystore.
    expect([...(await h.dump("software-l1/")).keys()]).toHaveLength(0);

    // A new key of the same name is a new identity: nothing old opens, even when the configuration is
    // pointed at it by name.
    await h.call("write", "keys/k1", { keystore: "soft" });
    expect(await keyState(h)).toBe("ENABLED");
    expect((await h.fails("update", "systems/s1/decrypt", { ciphertext: dk.ciphertext })).message).toMatch(/no longer exists/);
    expect((await h.fails("patch", "key-configurations/c1", { primary_key: "k1" })).status).toBe(400);
  });

  it("rotate makes a new version and re-wraps every configuration in the background, with progress on GET", async () => {
    await chain(h, "k1", "c0", ["s0"]);
    for (let i = 1; i < 20; i++) await h.call("write", `key-configurations/c${i}`, { primary_key: "k1" });
    const dk = await datakey(h, "s0");
    const before = (await h.dump("key-configurations/")).get("key-configurations/c0")!.toString();
    await h.call("update", "keys/k1/rotate");
    for (let i = 0; i < 100; i++) {
      const k = (await h.call("read", "keys/k1"))?.data as { rewrap?: { state: string } };
      if (k.rewrap?.state === "done") break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const k = (await h.call("read", "keys/k1"))?.data as { primary_version: number; versions: unknown[]; rewrap: { state: string; total: number; done: number } };
    expect(k.primary_version).toBe(2);
    expect(k.versions).toHaveLength(2);
    expect(k.rewrap).toMatchObject({ state: "done", total: 20, done: 20 });
    for (let i = 0; i < 20; i++) expect(((await h.call("read", `key-configurations/c${i}`))?.data as { primary_key_version: number }).primary_key_version).toBe(2);
    expect((await h.dump("key-configurations/")).get("key-configurations/c0")!.toString()).not.toBe(before);
    // Old data keys still decrypt (their L3 did not change; the L2 above it is the same key).
    h.cache.clear();
    expect(await decrypt(h, dk.ciphertext, "s0")).toBe(dk.plaintext);
  });

  it("PATCH primary_key moves a configuration to another L1; the old one then no longer matters", async () => {
    await chain(h);
    await h.call("write", "keys/k2", { keystore: "soft" });
    const dk = await datakey(h);
    // A background job: the PATCH answers with it running, GET shows its progress until it is done.
    const r = await h.call("patch", "key-configurations/c1", { primary_key: "k2" });
    expect(r?.data).toMatchObject({ primary_key: "k1", job: { target_key: "k2", state: "running", total: 1, done: 0 } });
    let cfg: Record<string, unknown> | undefined;
    for (let i = 0; i < 200 && (cfg?.job as { state?: string } | undefined)?.state !== "done"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      cfg = (await h.call("read", "key-configurations/c1"))?.data ?? undefined;
    }
    expect(cfg).toMatchObject({ primary_key: "k2", job: { state: "done", total: 1, done: 1, failed: 0 } });
    expect((await h.call("read", "keys/k2"))?.data).toMatchObject({ key_configurations: ["c1"] });
    await h.call("update", "keys/k1/revoke");
    h.cache.clear();
    expect(await decrypt(h, dk.ciphertext)).toBe(dk.plaintext);
    await h.call("update", "keys/k2/revoke");
    expect((await h.fails("update", "systems/s1/decrypt", { ciphertext: dk.ciphertext })).message).toMatch(/REVOKED/);
  });

  it("refuses deleting keystores and configurations that are in use; systems unlink", async () => {
    await chain(h);
    expect((await h.fails("delete", "keystores/soft")).message).toMatch(/holds keys/);
    expect((await h.fails("delete", "key-configurations/c1")).message).toMatch(/has systems/);
    const dk = await datakey(h);
    await h.call("delete", "systems/s1");
    expect((await h.fails("update", "systems/s1/decrypt", { ciphertext: dk.ciphertext })).status).toBe(404);
    await h.call("delete", "key-configurations/c1");
    expect((await h.call("read", "keys/k1"))?.data).toMatchObject({ key_configurations: [] });
  });

  it("stores no L2, L3 or L4 plaintext", async () => {
    await chain(h, "k1", "c1", ["s1", "s2"]);
    const dks = [await datakey(h, "s1"), await datakey(h, "s2"), await datakey(h, "s1", 128)];
    await h.call("update", "keys/k1/rotate");
    const secrets = [...h.cache.seen, ...dks.map((d) => Buffer.from(d.plaintext, "base64"))];
    expect(h.cache.seen.length).toBeGreaterThanOrEqual(3); // one L2, two L3
    const stored = await h.dump();
    for (const [path, value] of stored) {
      for (const s of secrets) {
        expect(value.includes(s), path).toBe(false);
        expect(value.includes(Buffer.from(s.toString("base64"))), path).toBe(false);
        expect(value.includes(Buffer.from(s.toString("hex"))), path).toBe(false);
      }
    }
  });

  it("answers bad input with 4xx", async () => {
    await chain(h);
    const cases: Array<[string, string, Record<string, unknown>]> = [
      ["write", "keystores/x", { type: "nope" }],
      ["write", "keystores/x", {}],
      ["write", "keystores/soft", { type: "software" }],
      ["write", "keystores/bad name", { type: "software" }],
      ["write", "keys/k1", { keystore: "soft" }],
      ["write", "keys/k9", {}],
      ["write", "keys/k9", { keystore: "missing" }],
      ["write", "keys/k9", { keystore: "soft", origin: "stolen" }],
      ["write", "keys/k9", { keystore: "soft", algorithm: "DES" }],
      ["write", "keys/k9", { keystore: "soft", origin: "hyok", native_id: "x" }],
      ["write", "keys/k9", { keystore: "soft", algorithm: "RSA3072" }],
      ["update", "keys/nope/revoke", {}],
      ["update", "keys/k1/cancel-deletion", {}],
      ["update", "keys/k1/schedule-deletion", { pending_window: "forever" }],
      ["write", "key-configurations/c9", {}],
      ["write", "key-configurations/c9", { primary_key: "nope" }],
      ["write", "key-configurations/c1", { primary_key: "k1" }],
      ["patch", "key-configurations/c1", {}],
      ["write", "systems/s9", {}],
      ["write", "systems/s9", { key_configuration: "nope" }],
      ["write", "systems/s1", { key_configuration: "c1" }],
      ["write", "systems/s9", { key_configuration: "c1", labels: "not a map" }],
      ["update", "systems/s1/datakey", { bits: 512 }],
      ["update", "systems/s1/datakey", { bits: "many" }],
      ["update", "systems/s1/decrypt", {}],
      ["update", "systems/s1/decrypt", { ciphertext: "not base64!!" }],
      ["update", "systems/s1/decrypt", { ciphertext: Buffer.alloc(40, 1).toString("base64") }],
      ["update", "systems/s1/decrypt", { ciphertext: "AQAAAAE=" }],
      ["update", "systems/nope/datakey", {}],
    ];
    for (const [op, path, data] of cases) {
      const err = await h.fails(op as "write", path, data);
      expect(err.status, `${op} ${path} ${JSON.stringify(data)}`).toBeGreaterThanOrEqual(400);
      expect(err.status, `${op} ${path}`).toBeLessThan(500);
    }
  });

  it("treats __proto__ and constructor as ordinary names and labels", async () => {
    await chain(h, "__proto__", "constructor", ["__proto__"]);
    await h.call("write", "systems/s2", { key_configuration: "constructor", labels: JSON.parse('{"__proto__":"x","toString":"y"}') as Record<string, string> });
    const dk = await datakey(h, "__proto__");
    expect(await decrypt(h, dk.ciphertext, "__proto__")).toBe(dk.plaintext);
    expect((await h.call("read", "systems/s2"))?.data).toMatchObject({ labels: { toString: "y" } });
    expect(Object.prototype).not.toHaveProperty("x");
    await h.call("update", "keys/__proto__/revoke");
    expect((await h.fails("update", "systems/__proto__/decrypt", { ciphertext: dk.ciphertext })).status).toBe(400);
  });

  it("an unwrap under way when revoke returns does not answer (a slow keystore, registered as its own type)", async () => {
    let release: () => void = () => undefined;
    let gate: Promise<void> | undefined;
    // The software keystore, with unwraps held at a gate the test opens: a slow HSM or remote keystore.
    const slow: KeystoreType = {
      type: "slow",
      origins: ["generated"],
      parse: (input, ctx) => softwareKeystoreType.parse(input, ctx),
      open(settings, ctx): KeystoreProvider {
        const inner = softwareKeystoreType.open(settings, ctx);
        return {
          createKey: (req) => inner.createKey(req),
          wrap: (ref, pt, aad) => inner.wrap(ref, pt, aad),
          unwrap: async (ref, blob, aad) => {
            if (gate) await gate;
            return inner.unwrap(ref, blob, aad);
          },
          probe: (ref) => inner.probe(ref),
          destroy: (ref) => inner.destroy(ref),
        };
      },
    };
    const backend = createKeychainBackendWith({ options: () => OPTIONS, keystoreTypes: new KeystoreRegistry([slow]) });
    const s = backendHarness(backend, { point: "kc/", type: "keychain" });
    try {
      await s.call("write", "keystores/slow", { type: "slow" });
      await s.call("write", "keys/k1", { keystore: "slow" });
      await s.call("write", "key-configurations/c1", { primary_key: "k1" });
      await s.call("write", "systems/s1", { key_configuration: "c1" });
      const dk = (await s.call("update", "systems/s1/datakey", {}))?.data as { ciphertext: string };
      await backend.cleanup(); // nothing cached: the next decrypt must unwrap L2 in the keystore
      gate = new Promise((r) => (release = r));
      const pending = s.call("update", "systems/s1/decrypt", { ciphertext: dk.ciphertext }).then(
        () => "answered",
        (err: Error) => err.message,
      );
      await new Promise((r) => setTimeout(r, 20));
      await s.call("update", "keys/k1/revoke");
      release();
      expect(await pending).toMatch(/revoked while this request ran/);
    } finally {
      release();
      await s.close();
    }
  });

  it("rotates a system's L3: old data keys still decrypt, rewrap moves them to the new version", async () => {
    await chain(h);
    const old = await datakey(h);
    expect((await h.call("update", "systems/s1/rotate"))?.data).toMatchObject({ latest_version: 2 });
    const fresh = await datakey(h);
    expect(Buffer.from(fresh.ciphertext, "base64").readUInt32BE(1)).toBe(2);
    expect(await decrypt(h, old.ciphertext)).toBe(old.plaintext);
    const moved = ((await h.call("update", "systems/s1/rewrap", { ciphertext: old.ciphertext }))?.data as { ciphertext: string }).ciphertext;
    expect(Buffer.from(moved, "base64").readUInt32BE(1)).toBe(2);
    expect(await decrypt(h, moved)).toBe(old.plaintext);
    await h.call("update", "keys/k1/disable");
    expect((await h.fails("update", "systems/s1/rotate")).status).toBe(400);
    expect((await h.fails("update", "systems/s1/rewrap", { ciphertext: old.ciphertext })).status).toBe(400);
    expect(await decrypt(h, moved)).toBe(old.plaintext);
  });
  describe("every L1 state transition", () => {
    type Action = "disable" | "enable" | "revoke" | "schedule-deletion" | "cancel-deletion" | "rotate";
    const ACTIONS: Action[] = ["disable", "enable", "revoke", "schedule-deletion", "cancel-deletion", "rotate"];
    /**
     * Where each action leads from each state; absent = refused with a 400 and no change. FORBIDDEN and
     * UNKNOWN are reached only through the HYOK sync (branch keychain-byok-hyok), whose tests cover them.
     */
    const TABLE: Record<string, Partial<Record<Action, string>>> = {
      ENABLED: { disable: "DISABLED", enable: "ENABLED", revoke: "REVOKED", "schedule-deletion": "PENDING_DELETION", rotate: "ENABLED" },
      DISABLED: { disable: "DISABLED", enable: "ENABLED", revoke: "REVOKED", "schedule-deletion": "PENDING_DELETION" },
      REVOKED: { enable: "ENABLED", revoke: "REVOKED", "schedule-deletion": "PENDING_DELETION" },
      PENDING_DELETION: { "cancel-deletion": "DISABLED" },
      DELETED: {},
      PENDING_IMPORT: { "schedule-deletion": "PENDING_DELETION" },
    };

    // Software material behind a type that can also import (byok), so PENDING_IMPORT is reachable.
    const mixed: KeystoreType = {
      type: "mixed",
      origins: ["generated", "byok"],
      parse: (input, ctx) => softwareKeystoreType.parse(input, ctx),
      open(settings, ctx): KeystoreProvider {
        const inner = softwareKeystoreType.open(settings, ctx);
        return {
          createKey: (req) => inner.createKey(req),
          importParams: async () => ({ publicKey: "", wrappingKey: { uri: "w", owned: true } }),
          wrap: (ref, pt, aad) => inner.wrap(ref, pt, aad),
          unwrap: (ref, blob, aad) => inner.unwrap(ref, blob, aad),
          probe: (ref) => inner.probe(ref),
          destroy: (ref) => inner.destroy(ref),
        };
      },
    };

    async function reach(t: ReturnType<typeof backendHarness>, periodic: (ms: number) => Promise<void>, state: string): Promise<void> {
      await t.call("write", "keys/k", { keystore: "m", origin: state === "PENDING_IMPORT" ? "byok" : "generated" });
      if (state === "DISABLED") await t.call("update", "keys/k/disable");
      if (state === "REVOKED") await t.call("update", "keys/k/revoke");
      if (state === "PENDING_DELETION" || state === "DELETED") await t.call("update", "keys/k/schedule-deletion", { pending_window: "1h" });
      if (state === "DELETED") await periodic(Date.now() + 2 * 3600_000);
    }

    for (const [from, allowed] of Object.entries(TABLE)) {
      it(`from ${from}`, async () => {
        for (const action of ACTIONS) {
          const backend = createKeychainBackendWith({ options: () => OPTIONS, keystoreTypes: new KeystoreRegistry([mixed]) });
          const t = backendHarness(backend, { point: "kc/", type: "keychain" });
          try {
            await t.call("write", "keystores/m", { type: "mixed" });
            await reach(t, (ms) => backend.periodic({ storage: t.view, now: new Date(ms) }), from);
            const read = async () => ((await t.call("read", "keys/k"))?.data as { state: string }).state;
            expect(await read(), `reaching ${from}`).toBe(from);
            const to = allowed[action];
            if (to) {
              await t.call("update", `keys/k/${action}`, { pending_window: "1h" });
              expect(await read(), `${from} --${action}-->`).toBe(to);
            } else {
              expect((await t.fails("update", `keys/k/${action}`, { pending_window: "1h" })).status, `${from} --${action}--> refused`).toBe(400);
              expect(await read(), `${from} unchanged by ${action}`).toBe(from);
            }
          } finally {
            await t.close();
          }
        }
      });
    }
  });
});
