import { describe, expect, it } from "vitest";
import { SessionPool, SessionPoolClosedError } from "./session-pool.js";

function pool(max: number) {
  let next = 0;
  const closed: number[] = [];
  const p = new SessionPool<number>({ max, open: () => ++next, close: (h) => closed.push(h) });
  return { p, closed };
}

describe("SessionPool", () => {
  it("opens lazily up to max, then queues FIFO", async () => {
    const { p } = pool(2);
    const a = await p.acquire();
    const b = await p.acquire();
    expect([a.handle, b.handle]).toEqual([1, 2]);
    const order: number[] = [];
    const w1 = p.acquire().then((s) => (order.push(1), s));
    const w2 = p.acquire().then((s) => (order.push(2), s));
    expect(p.waiting).toBe(2);
    p.release(b);
    p.release(a);
    const [s1, s2] = await Promise.all([w1, w2]);
    expect(order).toEqual([1, 2]);
    expect([s1.handle, s2.handle]).toEqual([2, 1]);
    expect(p.size).toBe(2);
  });

  it("a broken session is closed and a waiter gets a fresh one", async () => {
    const { p, closed } = pool(1);
    const a = await p.acquire();
    const w = p.acquire();
    p.release(a, true);
    expect(closed).toEqual([1]);
    expect((await w).handle).toBe(2);
  });

  it("reset retires idle sessions now and busy ones on release", async () => {
    const { p, closed } = pool(2);
    const a = await p.acquire();
    const b = await p.acquire();
    p.release(a);
    p.reset();
    expect(closed).toEqual([1]);
    p.release(b);
    expect(closed).toEqual([1, 2]);
    expect(p.size).toBe(0);
    expect((await p.acquire()).handle).toBe(3);
  });

  it("close rejects waiters", async () => {
    const { p } = pool(1);
    await p.acquire();
    const w = p.acquire();
    p.close();
    await expect(w).rejects.toBeInstanceOf(SessionPoolClosedError);
    await expect(p.acquire()).rejects.toBeInstanceOf(SessionPoolClosedError);
  });

  it("open failures reject acquire without leaking a slot", async () => {
    let fail = true;
    const p = new SessionPool<number>({ max: 1, open: () => { if (fail) throw new Error("no"); return 7; }, close: () => {} });
    await expect(p.acquire()).rejects.toThrow("no");
    fail = false;
    expect((await p.acquire()).handle).toBe(7);
  });
});
