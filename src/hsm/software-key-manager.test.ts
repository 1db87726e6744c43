import { describe, expect, it } from "vitest";
import { keyManagerCase } from "./key-manager.case.js";
import { KEY_ALGORITHMS } from "./key-manager.js";
import { SoftwareKeyManagerNotHsm, type SoftwareKeyRecord } from "./software-key-manager.js";

keyManagerCase("software (node:crypto)", async () => ({ km: new SoftwareKeyManagerNotHsm() }), {
  algorithms: [...KEY_ALGORITHMS],
  hardware: false,
  oaepSha256: true,
});

describe("SoftwareKeyManagerNotHsm persistence", () => {
  it("persists through the callback and reloads from records", async () => {
    const store = new Map<string, SoftwareKeyRecord>();
    const km = new SoftwareKeyManagerNotHsm({
      persist: async (id, r) => {
        if (r) store.set(id, r);
        else store.delete(id);
      },
    });
    const ec = await km.createKey({ algorithm: "ec-p256", label: "p" });
    const aes = await km.createKey({ algorithm: "aes-256", label: "a" });
    expect(store.size).toBe(2);
    const ct = await km.encrypt(aes.uri, Buffer.from("x"));

    const again = new SoftwareKeyManagerNotHsm({ records: [...store.values()] });
    expect((await again.getPublicKey(ec.uri)).export({ format: "jwk" })).toEqual(ec.publicKey!.export({ format: "jwk" }));
    expect((await again.decrypt(aes.uri, ct)).toString()).toBe("x");
    await km.deleteKey(aes.uri);
    expect(store.size).toBe(1);
  });

  it("names its keys software: and finds them by label", async () => {
    const km = new SoftwareKeyManagerNotHsm();
    const k = await km.createKey({ algorithm: "ed25519", label: "by-label" });
    expect(k.uri).toMatch(/^software:object=by-label;id=(%[0-9A-F]{2}){16};type=private$/);
    expect(await km.getPublicKey("software:object=by-label")).toBeDefined();
  });
});
