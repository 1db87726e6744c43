/**
 * Barbican payloads under the key chain (dev server: software keystore): each project's payloads are
 * encrypted under its own L1 → L2 → L3 chain, storage holds only ciphertext and wrapped data keys, and
 * revoking one project's L1 cuts off that project's payloads and no other's.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, devServer } from "../../../test/servers.js";
import { barbican, idOf } from "../../../test/barbican.js";
import { getJson, putJson } from "../../core/view.js";
import type { RunningServer } from "../../server/server.js";
import type { SecretRecord } from "../../engines/barbican/secret-record.js";
import { KEYCHAIN_MOUNT } from "./keychain-sealer.js";

let s: RunningServer;
let root: string;

beforeAll(async () => {
  s = await devServer();
  root = s.rootToken ?? "";
});
afterAll(async () => {
  await s.stop();
});

async function store(project: string, payload: string): Promise<string> {
  const r = await barbican(s.url, "POST", "/v1/secrets", { project, body: { payload, payload_content_type: "text/plain" } });
  expect(r.status).toBe(201);
  return idOf((r.json as { secret_ref: string }).secret_ref);
}

const payload = (project: string, id: string) => barbican(s.url, "GET", `/v1/secrets/${id}/payload`, { project, headers: { Accept: "text/plain" } });

/** The barbican mount's storage of a project (as the engine sees it, inside the barrier). */
function mountStorage(project: string) {
  const ns = s.core.root.children.get(project);
  const mounted = ns?.router.get("barbican/");
  if (!ns || !mounted) throw new Error(`no barbican mount in ${project}`);
  return { ns, storage: mounted.storage };
}

describe("payloads under each project's key chain", () => {
  it("stores only ciphertext and a wrapped data key, bound to the secret's id", async () => {
    const id = await store("kc-a", "plaintext-that-must-not-be-stored");
    const { ns, storage } = mountStorage("kc-a");
    const rec = await getJson<SecretRecord>(storage, `secret/${id}`);
    expect(rec?.payload?.kind).toBe("keychain");
    const stored = JSON.parse(rec?.payload?.data ?? "{}") as { system: string; key: string; ct: string };
    expect(stored.system).toBe(`project-${ns.ref.id}`);
    expect(rec?.payload?.data).not.toContain("plaintext-that-must-not-be-stored");
    expect(rec?.payload?.data).not.toContain(Buffer.from("plaintext-that-must-not-be-stored").toString("base64"));
    expect((await payload("kc-a", id)).text).toBe("plaintext-that-must-not-be-stored");
    // The project's chain is in the keychain: an L1 of its own.
    expect((await api(s.url, "GET", `${KEYCHAIN_MOUNT}/keys/project-${ns.ref.id}`, { token: root })).body?.data).toMatchObject({ state: "ENABLED" });
  });

  it("refuses a payload moved onto another secret (the id is the associated data)", async () => {
    const a = await store("kc-move", "first");
    const b = await store("kc-move", "second");
    const { storage } = mountStorage("kc-move");
    const recA = await getJson<SecretRecord>(storage, `secret/${a}`);
    const recB = await getJson<SecretRecord>(storage, `secret/${b}`);
    if (!recA || !recB) throw new Error("records missing");
    await putJson(storage, `secret/${b}`, { ...recB, payload: recA.payload });
    expect((await payload("kc-move", b)).status).toBe(500);
    expect((await payload("kc-move", a)).text).toBe("first");
  });

  it("revoking a project's L1 cuts off that project's payloads only; enabling it restores them", async () => {
    const mine = await store("kc-revoked", "cut-off");
    const other = await store("kc-kept", "still-here");
    const nsId = mountStorage("kc-revoked").ns.ref.id;
    expect((await api(s.url, "POST", `${KEYCHAIN_MOUNT}/keys/project-${nsId}/revoke`, { token: root })).status).toBeLessThan(300);
    const refused = await payload("kc-revoked", mine);
    expect(refused.status).toBe(403);
    expect(refused.json).toMatchObject({ code: 403, title: "Forbidden" });
    expect(refused.text).not.toContain("cut-off");
    // Metadata is not under the project key; new payloads cannot be sealed either.
    expect((await barbican(s.url, "GET", `/v1/secrets/${mine}`, { project: "kc-revoked" })).status).toBe(200);
    expect((await barbican(s.url, "POST", "/v1/secrets", { project: "kc-revoked", body: { payload: "x", payload_content_type: "text/plain" } })).status).toBe(403);
    expect((await payload("kc-kept", other)).text).toBe("still-here");
    expect((await api(s.url, "POST", `${KEYCHAIN_MOUNT}/keys/project-${nsId}/enable`, { token: root })).status).toBeLessThan(300);
    expect((await payload("kc-revoked", mine)).text).toBe("cut-off");
  });
});
