/**
 * The PKI engine's invalidate hook (another node wrote under the mount, see src/core/remote-changes.ts):
 * what the mount built from an issuer or key record is dropped when that record changes elsewhere, so a
 * replaced chain or a deleted CA key does not live on in this node's memory.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { backendHarness } from "../../../test/backend-harness.js";
import { createPkiBackendWith } from "./backend.js";
import { CaRuntime } from "./ca.js";
import { K, listKeys, resolveIssuer } from "./pki-store.js";

function setup() {
  const runtime = new CaRuntime(undefined);
  const h = backendHarness(createPkiBackendWith({ runtime }), { point: "pki/", type: "pki" });
  return { ...h, runtime };
}

describe("pki invalidate", () => {
  let h: ReturnType<typeof setup>;
  beforeEach(async () => {
    h = setup();
    await h.call("update", "root/generate/internal", { common_name: "Root", ttl: "8760h" });
  });
  afterEach(async () => {
    await h.close();
  });

  it("an issuer record changed elsewhere is loaded afresh (chain, certificate, signer)", async () => {
    const entry = await resolveIssuer(h.view, "default");
    const loaded = await h.runtime.load(h.view, entry);
    expect(await h.runtime.load(h.view, entry)).toBe(loaded); // kept while nothing changes
    await h.backend.invalidate("roles/web"); // not built from: kept
    expect(await h.runtime.load(h.view, entry)).toBe(loaded);
    await h.backend.invalidate(K.issuer(entry.id));
    const again = await h.runtime.load(h.view, entry);
    expect(again).not.toBe(loaded);
    expect(again.key).not.toBe(loaded.key);
  });

  it("a key record changed elsewhere drops the signers built from keys", async () => {
    const [key] = await listKeys(h.view);
    const signer = await h.runtime.signerFor(key);
    expect(await h.runtime.signerFor(key)).toBe(signer);
    await h.backend.invalidate(K.key(key.id));
    expect(await h.runtime.signerFor(key)).not.toBe(signer);
  });
});
