// The per-server state machine against an in-memory "server" that counts shares like Arca's Shamir seal,
// a scripted clock and captured logs.
import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../server/log.js";
import { UnsealerHttpError, type SealStatus, type UnsealClient, type UnsealResult } from "./http-client.js";
import type { ShareSource } from "./share-source.js";
import { backoffDelay, Unsealer, unsealBody } from "./unsealer.js";

const INTERVAL = 100;
const BACKOFF_MAX = 800;

/** A sealed server needing `threshold` distinct shares out of `good`; a wrong share fails the combination. */
class FakeServer {
  sealed = true;
  initialized = true;
  down = false;
  pending: string[] = [];
  nonce = "";
  posts: string[] = [];
  constructor(
    readonly good: Set<string>,
    readonly threshold: number,
  ) {}

  status(): SealStatus {
    return { initialized: this.initialized, sealed: this.sealed, t: this.threshold, n: this.good.size, progress: this.pending.length, nonce: this.nonce };
  }

  unseal(key: string): UnsealResult {
    this.posts.push(key);
    if (!this.sealed) return { ok: true, status: this.status() };
    if (this.pending.length === 0) this.nonce = randomBytes(4).toString("hex");
    if (!this.pending.includes(key)) this.pending.push(key);
    if (this.pending.length < this.threshold) return { ok: true, status: this.status() };
    const ok = this.pending.every((k) => this.good.has(k));
    this.pending = [];
    this.nonce = "";
    if (!ok) return { ok: false, httpStatus: 400, errors: ["invalid key: the unseal keys given do not open this server"] };
    this.sealed = false;
    return { ok: true, status: this.status() };
  }

  seal(): void {
    this.sealed = true;
    this.pending = [];
    this.nonce = "";
  }
}

class FakeClient implements UnsealClient {
  constructor(readonly servers: Map<string, FakeServer>) {}
  async sealStatus(url: string): Promise<SealStatus> {
    const s = this.get(url);
    return s.status();
  }
  async unseal(url: string, body: Buffer): Promise<UnsealResult> {
    const s = this.get(url);
    const parsed = JSON.parse(body.toString("utf8")) as { key: string };
    return s.unseal(parsed.key);
  }
  private get(url: string): FakeServer {
    const s = this.servers.get(url);
    if (!s || s.down) throw new UnsealerHttpError("ECONNREFUSED: connect ECONNREFUSED");
    return s;
  }
}

class FakeShares implements ShareSource {
  readonly handedOut: Buffer[] = [];
  failing = false;
  constructor(readonly shares: Buffer[]) {}
  get count(): number {
    return this.shares.length;
  }
  async reveal(i: number): Promise<Buffer> {
    if (this.failing) throw new Error("HSM token not present");
    const b = Buffer.from(this.shares[i]);
    this.handedOut.push(b);
    return b;
  }
}

interface Rig {
  unsealer: Unsealer;
  servers: Map<string, FakeServer>;
  shares: FakeShares;
  logs: string[];
  clock: { t: number };
  secrets: Buffer[];
}

function rig(opts: { servers: Record<string, FakeServer>; shares: Buffer[] }): Rig {
  const servers = new Map(Object.entries(opts.servers));
  const shares = new FakeShares(opts.shares);
  const logs: string[] = [];
  const clock = { t: 1_000_000 };
  const unsealer = new Unsealer({
    servers: [...servers.keys()],
    client: new FakeClient(servers),
    shares,
    logger: createLogger("debug", (l) => logs.push(l)),
    intervalMs: INTERVAL,
    backoffMaxMs: BACKOFF_MAX,
    now: () => clock.t,
  });
  return { unsealer, servers, shares, logs, clock, secrets: opts.shares };
}

function hex(b: Buffer): string {
  return b.toString("hex");
}

/** Every encoding of every share that could plausibly end up in a log line. */
function assertLogsClean(r: Rig): void {
  const text = r.logs.join("");
  for (const s of r.secrets) {
    for (const enc of [s.toString("hex"), s.toString("hex").toUpperCase(), s.toString("base64"), s.toString("base64url"), s.toString("latin1")]) {
      expect(text.includes(enc)).toBe(false);
    }
  }
  for (const l of r.logs) expect(() => JSON.parse(l) as unknown).not.toThrow();
}

function entries(r: Rig): Array<Record<string, unknown>> {
  return r.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe("Unsealer state machine", () => {
  const s1 = randomBytes(33);
  const s2 = randomBytes(33);
  const s3 = randomBytes(33);
  const good = new Set([hex(s1), hex(s2), hex(s3)]);
  let current: Rig | undefined;

  afterEach(async () => {
    if (current) {
      await current.unsealer.stop();
      assertLogsClean(current);
      // Every plaintext the source handed out was wiped after use.
      for (const b of current.shares.handedOut) expect(b.every((x) => x === 0)).toBe(true);
    }
    current = undefined;
  });

  it("posts each share once and stops when the server unseals", async () => {
    const a = new FakeServer(good, 2);
    const r = (current = rig({ servers: { "https://a": a }, shares: [s1, s2] }));
    await r.unsealer.tick();
    expect(a.sealed).toBe(false);
    expect(a.posts).toEqual([hex(s1), hex(s2)]);
    await r.unsealer.tick();
    expect(a.posts).toHaveLength(2);
    expect(r.unsealer.servers()[0]).toMatchObject({ state: "unsealed", failures: 0, unsealAttempts: 0 });
    const unsealed = entries(r).find((e) => e.msg === "server unsealed");
    expect(unsealed).toMatchObject({ server: "https://a", state: "unsealed", attempt: 1 });
  });

  it("stops after the first share when that already unseals (threshold 1)", async () => {
    const a = new FakeServer(new Set([hex(s1)]), 1);
    const r = (current = rig({ servers: { "https://a": a }, shares: [s1, s2] }));
    await r.unsealer.tick();
    expect(a.sealed).toBe(false);
    expect(a.posts).toEqual([hex(s1)]);
  });

  it("contributes once per unseal attempt and waits for other key holders", async () => {
    const a = new FakeServer(good, 3);
    const r = (current = rig({ servers: { "https://a": a }, shares: [s1] }));
    await r.unsealer.tick();
    expect(a.posts).toEqual([hex(s1)]);
    expect(a.status().progress).toBe(1);
    for (let i = 0; i < 5; i++) {
      r.clock.t += INTERVAL;
      await r.unsealer.tick();
    }
    expect(a.posts).toHaveLength(1);
    expect(r.unsealer.servers()[0].state).toBe("waiting");
    // Humans add the rest.
    a.unseal(hex(s2));
    a.unseal(hex(s3));
    expect(a.sealed).toBe(false);
    await r.unsealer.tick();
    expect(r.unsealer.servers()[0].state).toBe("unsealed");
    expect(a.posts).toHaveLength(3);
  });

  it("joins a new attempt when progress was reset", async () => {
    const a = new FakeServer(good, 3);
    const r = (current = rig({ servers: { "https://a": a }, shares: [s1] }));
    await r.unsealer.tick();
    a.pending = []; // `sys/unseal reset=true`, or a restart
    a.nonce = "";
    r.clock.t += INTERVAL;
    await r.unsealer.tick();
    expect(a.posts).toEqual([hex(s1), hex(s1)]);
    expect(a.status().progress).toBe(1);
  });

  it("unseals again in a new sealed period", async () => {
    const a = new FakeServer(good, 2);
    const r = (current = rig({ servers: { "https://a": a }, shares: [s1, s2] }));
    await r.unsealer.tick();
    expect(a.sealed).toBe(false);
    a.seal();
    r.clock.t += INTERVAL;
    await r.unsealer.tick();
    expect(a.sealed).toBe(false);
    expect(a.posts).toHaveLength(4);
  });

  it("backs off exponentially from a server that rejects the share, and says why", async () => {
    const stranger = new FakeServer(new Set(["00".repeat(33)]), 1);
    const r = (current = rig({ servers: { "https://stranger": stranger }, shares: [s1] }));
    const postTimes: number[] = [];
    const start = r.clock.t;
    for (let t = 0; t <= 3000; t += 10) {
      r.clock.t = start + t;
      const before = stranger.posts.length;
      await r.unsealer.tick();
      if (stranger.posts.length > before) postTimes.push(t);
    }
    expect(stranger.sealed).toBe(true);
    // 0, +200, +400, +800 (capped), +800, …
    const gaps = postTimes.slice(1).map((t, i) => t - postTimes[i]);
    expect(gaps.slice(0, 4)).toEqual([200, 400, 800, 800]);
    expect(postTimes.length).toBeLessThanOrEqual(6);
    const rejected = entries(r).filter((e) => e.state === "rejected");
    expect(rejected.length).toBe(postTimes.length);
    expect(rejected[0]).toMatchObject({ level: "error", server: "https://stranger", attempt: 1, http_status: 400, retry_in_ms: 200 });
    expect(String(rejected[0].msg)).toContain("rejected the unseal share");
  });

  it("keeps unsealing the others while one server is down, and backs off from it", async () => {
    const a = new FakeServer(good, 2);
    const b = new FakeServer(good, 2);
    b.down = true;
    const r = (current = rig({ servers: { "https://a": a, "https://b": b }, shares: [s1, s2] }));
    await r.unsealer.tick();
    expect(a.sealed).toBe(false);
    const vb = r.unsealer.servers()[1];
    expect(vb).toMatchObject({ state: "unreachable", failures: 1 });
    expect(vb.nextAttemptAt - r.clock.t).toBe(200);
    r.clock.t += 200;
    await r.unsealer.tick();
    expect(r.unsealer.servers()[1]).toMatchObject({ state: "unreachable", failures: 2 });
    b.down = false;
    r.clock.t += 400;
    await r.unsealer.tick();
    expect(b.sealed).toBe(false);
    expect(r.unsealer.servers()[1]).toMatchObject({ state: "unsealed", failures: 0, nextAttemptAt: 0 });
    const warns = entries(r).filter((e) => e.state === "unreachable");
    expect(warns.map((e) => e.attempt)).toEqual([1, 2]);
    expect(warns[0]).toMatchObject({ level: "warn", server: "https://b" });
  });

  it("treats an HSM failure as a backoff, not a crash", async () => {
    const a = new FakeServer(good, 2);
    const r = (current = rig({ servers: { "https://a": a }, shares: [s1, s2] }));
    r.shares.failing = true;
    await r.unsealer.tick();
    expect(a.posts).toHaveLength(0);
    expect(r.unsealer.servers()[0]).toMatchObject({ state: "hsm-error", failures: 1 });
    r.shares.failing = false;
    r.clock.t += 200;
    await r.unsealer.tick();
    expect(a.sealed).toBe(false);
  });

  it("leaves uninitialised servers alone", async () => {
    const a = new FakeServer(good, 2);
    a.initialized = false;
    const r = (current = rig({ servers: { "https://a": a }, shares: [s1] }));
    await r.unsealer.tick();
    expect(a.posts).toHaveLength(0);
    expect(r.unsealer.servers()[0].state).toBe("uninitialized");
  });

  it("logs state changes at info and repeats only at debug", async () => {
    const a = new FakeServer(good, 2);
    a.sealed = false;
    const r = (current = rig({ servers: { "https://a": a }, shares: [s1, s2] }));
    for (let i = 0; i < 3; i++) await r.unsealer.tick();
    const lines = entries(r).filter((e) => e.server === "https://a");
    expect(lines.map((e) => e.level)).toEqual(["info", "debug", "debug"]);
  });

  it("start() polls on its own and stop() ends it", async () => {
    const a = new FakeServer(good, 2);
    const servers = new Map([["https://a", a]]);
    const logs: string[] = [];
    const shares = new FakeShares([s1, s2]);
    const u = new Unsealer({ servers: ["https://a"], client: new FakeClient(servers), shares, logger: createLogger("info", (l) => logs.push(l)), intervalMs: 20, backoffMaxMs: 100 });
    u.start();
    await new Promise((r) => setTimeout(r, 30));
    expect(a.sealed).toBe(false);
    a.seal();
    await new Promise((r) => setTimeout(r, 60));
    expect(a.sealed).toBe(false);
    await u.stop();
    a.seal();
    await new Promise((r) => setTimeout(r, 60));
    expect(a.sealed).toBe(true);
    expect(logs.at(-1)).toContain("unsealer stopped");
    current = { unsealer: u, servers, shares, logs, clock: { t: 0 }, secrets: [s1, s2] };
  });
});

describe("helpers", () => {
  it("backoffDelay doubles from 2×interval and caps", () => {
    expect([1, 2, 3, 4, 10, 100].map((f) => backoffDelay(100, 1000, f))).toEqual([200, 400, 800, 1000, 1000, 1000]);
  });

  it("unsealBody is the JSON a server expects, hex-encoded", () => {
    const share = randomBytes(33);
    const body = unsealBody(share);
    expect(JSON.parse(body.toString("utf8"))).toEqual({ key: share.toString("hex") });
  });
});
