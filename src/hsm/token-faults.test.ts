// Fault injection against real SoftHSM: wrong PIN, a key deleted by another process, a token that disappears.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupSoftHsm, createSoftHsmToken, pkcs11Tool, softHsmAvailable, SOFTHSM_SKIP_REASON, type SoftHsmToken } from "../../test/softhsm.js";
import { HsmKeyNotFoundError, HsmPinError, HsmUnavailableError } from "./errors.js";
import { HsmRegistry } from "./hsm-registry.js";
import { Pkcs11KeyManager } from "./pkcs11-key-manager.js";
import { parsePkcs11Uri } from "./uri.js";

const available = softHsmAvailable();

describe.skipIf(!available)(available ? "HSM faults (SoftHSM)" : SOFTHSM_SKIP_REASON, () => {
  let good: SoftHsmToken;
  let locked: SoftHsmToken;
  let doomed: SoftHsmToken;
  let registry: HsmRegistry;
  let km: Pkcs11KeyManager;

  beforeAll(() => {
    // All tokens exist before the library's C_Initialize (it reads the token dir once).
    good = createSoftHsmToken({ label: "fault-good" });
    locked = createSoftHsmToken({ label: "fault-pin" });
    doomed = createSoftHsmToken({ label: "fault-doomed" });
    const fast = { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 };
    registry = new HsmRegistry([
      { name: "good", lib: good.libPath, tokenLabel: good.label, pin: good.pin, reconnect: fast },
      { name: "wrong-pin", lib: locked.libPath, tokenLabel: locked.label, pin: "0000", reconnect: fast },
      { name: "doomed", lib: doomed.libPath, tokenLabel: doomed.label, pin: doomed.pin, reconnect: fast },
    ]);
    km = new Pkcs11KeyManager({ tokens: registry });
  });
  afterAll(() => {
    registry?.close();
    cleanupSoftHsm();
  });

  it("wrong PIN: one C_Login, a typed error, and no second attempt later", async () => {
    const token = registry.token("wrong-pin");
    const attempts = Array.from({ length: 5 }, () => km.createKey({ algorithm: "aes-256", label: "x", hsm: "wrong-pin" }));
    for (const a of attempts) await expect(a).rejects.toBeInstanceOf(HsmPinError);
    await expect(km.createKey({ algorithm: "ec-p256", label: "y", hsm: "wrong-pin" })).rejects.toBeInstanceOf(HsmPinError);
    expect(token.loginAttempts).toBe(1);
    try {
      await token.connect();
    } catch (e) {
      expect((e as Error).message).not.toContain("0000");
    }
    expect(token.loginAttempts).toBe(1);
  });

  it("a key deleted behind our back: cached handle dropped, clear not-found", async () => {
    const key = await km.createKey({ algorithm: "ec-p256", label: "victim", hsm: "good" });
    const signer = await km.createSigner(key.uri);
    await signer.sign(Buffer.from("warm the handle cache"));
    pkcs11Tool(good, ["--delete-object", "--type", "privkey", "--id", key.id.toString("hex")]);
    const err = await signer.sign(Buffer.from("again")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HsmKeyNotFoundError);
    expect((err as Error).message).toMatch(/not found/);
    // The token itself is fine: other keys keep working.
    const other = await km.createKey({ algorithm: "ec-p256", label: "survivor", hsm: "good" });
    await (await km.createSigner(other.uri)).sign(Buffer.from("ok"));
  });

  it("a failed call keeps the login: the session it retires is replaced before it is closed", async () => {
    // A fresh token and manager: one pooled session, so the failed call's session is the last one open.
    const key = await km.createKey({ algorithm: "aes-256", label: "keep-login", hsm: "good" });
    const ct = await km.encrypt(key.uri, Buffer.from("hello"));
    const tampered = { ...ct, tag: Buffer.alloc(ct.tag.length) };
    await expect(km.decrypt(key.uri, tampered)).rejects.toThrow();
    expect((await km.decrypt(key.uri, ct)).toString()).toBe("hello");
  });

  it("a key created by another process is found by id", async () => {
    pkcs11Tool(good, ["--keypairgen", "--key-type", "EC:prime256v1", "--id", "a1b2", "--label", "external"]);
    const signer = await km.createSigner(`pkcs11:token=${good.label};id=%A1%B2;type=private`);
    expect(signer.algorithm).toBe("ec-p256");
    await signer.sign(Buffer.from("hi"));
  });

  it("token removed: HsmUnavailableError after the reconnect path ran", async () => {
    const key = await km.createKey({ algorithm: "ec-p256", label: "on-doomed", hsm: "doomed" });
    const signer = await km.createSigner(key.uri);
    await signer.sign(Buffer.from("before"));
    const token = registry.tokenForUri(parsePkcs11Uri(key.uri));
    const before = token.connectAttempts;
    doomed.cleanup();
    const err = await signer.sign(Buffer.from("after")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HsmUnavailableError);
    // One try per reconnect attempt, each re-finding the token (which SoftHSM no longer lists).
    expect(token.connectAttempts - before).toBe(3);
    // Later calls try again (and fail the same typed way) rather than wedging.
    await expect(km.getPublicKey(key.uri.replace("on-doomed", "other"))).rejects.toBeInstanceOf(HsmUnavailableError);
  });
});
