// The order and authorization state machines beyond the happy path: expiry, deactivation, and validation of
// a target that never answers (bounded by the timeout, and never holding up other requests).
import { createServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { acmeHarness, tableResolver } from "./acme-harness.test-util.js";
import { pollUntilNot, type AuthzView, type OrderView } from "./acme-flow.test-util.js";
import { AK, getAcme, putAcme, type OrderRecord } from "./acme-store.js";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(extra: Parameters<typeof acmeHarness>[0] = {}, port = 80) {
  const h = await acmeHarness({ resolver: tableResolver({ "a.example.test": ["127.0.0.1"] }), acmeConfig: { allowed_validation_networks: ["127.0.0.0/8"], http01_port: port }, ...extra });
  cleanups.push(() => h.close());
  const c = await h.client();
  await c.register();
  const { reply, body } = await c.json<OrderView>(c.dir.newOrder, { identifiers: [{ type: "dns", value: "a.example.test" }] });
  return { h, c, orderUrl: reply.headers.location!, order: body };
}

describe("ACME state machines", () => {
  it("an order past its expiry is invalid", async () => {
    const { h, c, orderUrl } = await setup();
    const id = orderUrl.split("/").pop()!;
    const rec = (await getAcme<OrderRecord>(h.view, AK.order(id)))!;
    await putAcme(h.view, AK.order(id), { ...rec, expires: Date.now() - 1 });
    const { body } = await c.json<OrderView>(orderUrl);
    expect(body.status).toBe("invalid");
    expect(body.error?.type).toBe("urn:ietf:params:acme:error:unauthorized");
  });

  it("deactivating an authorization invalidates its order; a deactivated authorization cannot be validated", async () => {
    const { c, orderUrl, order } = await setup();
    const { body: authz } = await c.json<AuthzView>(order.authorizations[0], { status: "deactivated" });
    expect(authz.status).toBe("deactivated");
    expect((await c.json<OrderView>(orderUrl)).body.status).toBe("invalid");
    const ch = await c.json<{ status: string }>(authz.challenges[0].url, {});
    expect(ch.body.status).toBe("pending");
  });

  it("a target that never answers holds only its own validation: other requests go on, and it ends invalid after the timeout", async () => {
    const held: Socket[] = [];
    const tarpit = createServer((sock) => held.push(sock)); // accepts, never answers
    await new Promise<void>((r) => tarpit.listen(0, "127.0.0.1", r));
    cleanups.push(() => new Promise((r) => { held.forEach((s) => s.destroy()); tarpit.close(() => r()); }));
    const { c, order } = await setup({ attemptTimeoutMs: 300 }, (tarpit.address() as AddressInfo).port);
    const { body: authz } = await c.json<AuthzView>(order.authorizations[0]);
    const ch = authz.challenges.find((x) => x.type === "http-01")!;
    const started = Date.now();
    expect((await c.json<{ status: string }>(ch.url, {})).body.status).toBe("processing");
    // While the validation hangs, the server answers: a new order and a read of the authorization.
    expect((await c.post(c.dir.newOrder, { identifiers: [{ type: "dns", value: "a.example.test" }] })).status).toBe(201);
    expect((await c.json<AuthzView>(order.authorizations[0])).body.status).toBe("pending");
    expect(Date.now() - started).toBeLessThan(5_000);
    const done = await pollUntilNot<AuthzView>(c, order.authorizations[0], ["pending"]);
    expect(done.status).toBe("invalid");
    expect(done.challenges.find((x) => x.type === "http-01")!.error!.type).toBe("urn:ietf:params:acme:error:connection");
    expect(held.length).toBeGreaterThanOrEqual(1);
  });
});
