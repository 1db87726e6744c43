// tidy_acme: expired orders (with their authorizations), stale accounts and expired nonces are removed.
import { afterEach, describe, expect, it } from "vitest";
import { acmeHarness } from "./acme-harness.test-util.js";
import { AK, getAcme, putAcme, type AccountRecord, type OrderRecord } from "./acme-store.js";

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((h) => h.close()));
});

describe("tidy_acme", () => {
  it("removes expired orders and their authorizations, stale accounts and expired nonces; keeps live ones", async () => {
    const h = await acmeHarness();
    open.push(h);
    const live = await h.client();
    await live.register();
    await live.json(live.dir.newOrder, { identifiers: [{ type: "dns", value: "live.example.test" }] });
    const gone = await h.client();
    await gone.register();
    const { reply } = await gone.json(gone.dir.newOrder, { identifiers: [{ type: "dns", value: "old.example.test" }] });
    const orderId = reply.headers.location!.split("/").pop()!;
    const old = (await getAcme<OrderRecord>(h.view, AK.order(orderId)))!;
    await putAcme(h.view, AK.order(orderId), { ...old, expires: Date.now() - 1000 });
    const deactivated = await h.client();
    await deactivated.register();
    await deactivated.json(deactivated.kid!, { status: "deactivated" });
    const deactivatedId = deactivated.kid!.split("/").pop()!;
    const acc = (await getAcme<AccountRecord>(h.view, AK.account(deactivatedId)))!;
    await putAcme(h.view, AK.account(deactivatedId), { ...acc, statusChangedAt: Date.now() - 3600_000 });
    await putAcme(h.view, AK.usedNonce("expiredexpiredexpired1"), { expires: Date.now() - 1 });

    const t = await h.call("write", "tidy", { tidy_acme: true, acme_account_safety_buffer: "10m" });
    expect(t?.status).toBe(202);
    const s = (await h.call("read", "tidy-status"))!.data!;
    expect(s.acme_orders_deleted_count).toBe(1);
    expect(s.acme_account_deleted_count).toBe(1);
    expect(s.acme_nonces_deleted_count).toBe(1);
    expect(s.acme_account_revoked_count).toBe(0);
    expect(await getAcme(h.view, AK.order(orderId))).toBeUndefined();
    for (const a of old.authzIds) expect(await getAcme(h.view, AK.authz(a))).toBeUndefined();
    expect(await getAcme(h.view, AK.account(deactivatedId))).toBeUndefined();
    expect(await getAcme(h.view, AK.usedNonce("expiredexpiredexpired1"))).toBeUndefined();
    // The live account and its order remain and keep working.
    expect((await live.post(live.kid!)).status).toBe(200);
    expect((await h.acmeState()).filter((k) => k.startsWith("acme/orders/"))).toHaveLength(1);
  });
});
