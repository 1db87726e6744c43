/**
 * The request pipeline as an engine sees it: sudo decided once (by the pipeline, read from the request),
 * one field parse per request shared by the existence check and the handler, per-path `sudo` and
 * `unauthenticated` declarations, and undeclared request fields answered with OpenBao's warning.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { coreCall, expectArcaError, initializedCore, tokenWithPolicy, type TestCore } from "../../test/core.js";
import { LogicalBackend } from "./framework/backend.js";
import { definePath } from "./framework/path.js";
import type { Operation, Response } from "./framework/request.js";

let t: TestCore;

/** A toy engine whose handlers report what the pipeline told them. */
function createToyBackend(): LogicalBackend {
  return new LogicalBackend({
    type: "toy",
    paths: [
      definePath({
        pattern: "whoami",
        operations: { read: async ({ req }) => ({ data: { sudo: req.sudo ?? false } }) },
      }),
      definePath({
        pattern: "guarded",
        sudo: true,
        operations: { read: async () => ({ data: { ok: true } }) },
      }),
      definePath({
        pattern: "open",
        unauthenticated: true,
        operations: { read: async ({ req }) => ({ data: { caller: req.caller?.displayName ?? null } }) },
      }),
      definePath({
        pattern: "items/:name",
        fields: { name: { type: "string" }, colour: { type: "string" } },
        existenceCheck: async ({ fields }) => fields.colour === "existing",
        operations: {
          create: async ({ fields }) => ({ data: { created: fields.colour } }),
          update: async ({ fields }) => ({ data: { updated: fields.colour } }),
        },
      }),
      definePath({
        pattern: "anything",
        fields: { known: { type: "string" } },
        takesArbitraryInput: true,
        operations: { update: async ({ req }) => ({ data: { ...req.data } }) },
      }),
    ],
  });
}

beforeEach(async () => {
  t = await initializedCore({ toy: createToyBackend });
  await call("update", "sys/mounts/toy", { type: "toy" });
  await t.core.root.policies.write("plain", `path "toy/*" { capabilities = ["read", "create", "update"] }`, {});
  await t.core.root.policies.write("privileged", `path "toy/*" { capabilities = ["read", "create", "update", "sudo"] }`, {});
});

afterEach(async () => {
  await t.storage.close();
});

const call = (operation: Operation, path: string, data: Record<string, unknown> = {}, token = t.root): Promise<Response | undefined> => coreCall(t, operation, path, data, token);
const tokenWith = (policy: string): Promise<string> => tokenWithPolicy(t, policy);

describe("the pipeline decides sudo once", () => {
  it("tells the handler whether the caller has sudo on the path", async () => {
    expect((await call("read", "toy/whoami"))?.data).toEqual({ sudo: true });
    expect((await call("read", "toy/whoami", {}, await tokenWith("privileged")))?.data).toEqual({ sudo: true });
    expect((await call("read", "toy/whoami", {}, await tokenWith("plain")))?.data).toEqual({ sudo: false });
  });

  it("refuses a path declared `sudo: true` without sudo", async () => {
    await expectArcaError(call("read", "toy/guarded", {}, await tokenWith("plain")), 403);
    expect((await call("read", "toy/guarded", {}, await tokenWith("privileged")))?.data).toEqual({ ok: true });
  });

  it("serves a path declared `unauthenticated: true` without a token", async () => {
    expect((await call("read", "toy/open", {}, ""))?.data).toEqual({ caller: null });
    expect((await call("read", "toy/whoami", {}, "").catch((e: unknown) => e))).toMatchObject({ status: 403 });
  });
});

describe("a request enters its backend once", () => {
  it("parses the fields once for the existence check and the handler", async () => {
    let reads = 0;
    const data = new Proxy<Record<string, unknown>>(
      { colour: "existing" },
      {
        get(target, key) {
          if (key === "colour") reads++;
          return Reflect.get(target, key) as unknown;
        },
      },
    );
    expect((await call("update", "toy/items/a", data))?.data).toEqual({ updated: "existing" });
    expect(reads).toBe(1);
    expect((await call("update", "toy/items/b", { colour: "new" }))?.data).toEqual({ created: "new" });
  });
});

describe("unrecognised request fields", () => {
  it("are answered with OpenBao's warning, sorted", async () => {
    const resp = await call("update", "toy/items/a", { colour: "red", zeta: 1, alpha: "x" });
    expect(resp?.data).toEqual({ created: "red" });
    expect(resp?.warnings).toEqual(["Endpoint ignored these unrecognized parameters: [alpha zeta]"]);
  });

  it("are not reported when all are declared, or when the path takes arbitrary input", async () => {
    expect((await call("update", "toy/items/a", { colour: "red", name: "a" }))?.warnings).toBeUndefined();
    expect((await call("update", "toy/anything", { known: "k", other: "o" }))?.warnings).toBeUndefined();
  });
});
