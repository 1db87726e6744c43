// Key custody against a running server (issue 11, item 1): a tenant admin with every right inside its own
// namespace reaches for the server's seal key, another tenant's HSM keys and objects nobody granted, through
// every API that takes a key reference; each attempt gets the answer a missing key gets. Then the operator's
// grant (sys/managed-keys + allowed_managed_keys) makes a pre-existing object usable, and withdrawing it stops
// use at once. Real HTTP, real SoftHSM, the same PKCS#11 code a hardware HSM uses.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, type ApiResult } from "../../../test/servers.js";
import { sealedConfig, startSealed } from "../../../test/hsm-servers.js";
import { cleanupSoftHsm, createSoftHsmToken, pkcs11Tool, softHsmAvailable, SOFTHSM_SKIP_REASON, type SoftHsmToken } from "../../../test/softhsm.js";
import type { RunningServer } from "../../server/server.js";

const hsm = softHsmAvailable();
const SEAL_LABEL = "arca-seal-key";
const NOT_USABLE = "no key that this mount may use is at that reference";

let dir: string;
let token: SoftHsmToken;
let server: RunningServer;
let root: string;
let tenantToken: string;

function as(tok: string, ns: string | undefined, method: string, path: string, body?: unknown): Promise<ApiResult> {
  return api(server.url, method, path, { token: tok, body, headers: ns ? { "X-Vault-Namespace": ns } : {} });
}
const asRoot = (ns: string | undefined, method: string, path: string, body?: unknown) => as(root, ns, method, path, body);
const asTenant = (method: string, path: string, body?: unknown) => as(tenantToken, "tenant", method, path, body);

function ok(r: ApiResult): Record<string, unknown> {
  expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
  return (r.body?.data ?? {}) as Record<string, unknown>;
}

/** The refusal: a 4xx whose text says only that no usable key is there (what a missing key also gets). */
function refused(r: ApiResult): string {
  expect(r.status, JSON.stringify(r.body)).toBe(400);
  const text = JSON.stringify(r.body?.errors);
  expect(text).toContain(NOT_USABLE);
  return text;
}

const uri = (attrs: string): string => `pkcs11:token=${token.label};${attrs}`;
const hexId = (hex: string): string => hex.replace(/../g, "%$&");

/** Objects on the token whose label matches, as pkcs11-tool lists them: their CKA_IDs (hex). */
function idsOf(label: string): string[] {
  const out = pkcs11Tool(token, ["--list-objects"]);
  const ids: string[] = [];
  let current = "";
  for (const line of out.split("\n")) {
    const l = /label:\s+(.*)$/.exec(line);
    if (l) current = l[1].trim();
    const i = /ID:\s+([0-9a-f]+)/.exec(line);
    if (i && current === label && !ids.includes(i[1])) ids.push(i[1]);
  }
  return ids;
}

describe.skipIf(!hsm)(hsm ? "key custody on a running server (SoftHSM)" : SOFTHSM_SKIP_REASON, () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "arca-custody-"));
    token = createSoftHsmToken({ label: "custody" });
    const config = sealedConfig(
      dir,
      [{ type: "pkcs11", disabled: false, params: { key: uri(`object=${SEAL_LABEL}`), generate_key: true } }],
      [{ name: "primary", lib: token.libPath, tokenLabel: token.label, pin: token.pin }],
    );
    // Objects that existed before Arca: AES keys and an EC pair, as an operator's HSM admin would make them.
    // (Made before the server opens the token: SoftHSM's file store does not always show another process's
    // new objects to a process that is already writing to the same token.)
    pkcs11Tool(token, ["--keygen", "--key-type", "AES:32", "--label", "ext-aes", "--id", "e0a1", "--sensitive"]);
    pkcs11Tool(token, ["--keygen", "--key-type", "AES:32", "--label", "tenant-crk", "--id", "e0c3", "--sensitive"]);
    pkcs11Tool(token, ["--keypairgen", "--key-type", "EC:prime256v1", "--label", "ext-ec", "--id", "e0e2"]);
    // Never granted to anyone.
    pkcs11Tool(token, ["--keygen", "--key-type", "AES:32", "--label", "stray-aes", "--id", "e0f4", "--sensitive"]);
    pkcs11Tool(token, ["--keypairgen", "--key-type", "EC:prime256v1", "--label", "stray-ec", "--id", "e0f5"]);
    server = await startSealed(config);
    const init = await server.core.initialize({ secretShares: 0, secretThreshold: 0, recoveryShares: 1, recoveryThreshold: 1 });
    root = init.rootToken;

    for (const ns of ["victim", "tenant"]) ok(await asRoot(undefined, "POST", `sys/namespaces/${ns}`, {}));
    // The victim's own HSM keys: a transit key and a PKI root made in the HSM.
    ok(await asRoot("victim", "POST", "sys/mounts/transit", { type: "transit" }));
    ok(await asRoot("victim", "POST", "transit/keys/vk", { type: "aes256-gcm96", hsm: true }));
    ok(await asRoot("victim", "POST", "sys/mounts/pki", { type: "pki" }));
    ok(await asRoot("victim", "POST", "pki/root/generate/kms", { common_name: "Victim Root", key_type: "ec", ttl: "24h", key_name: "victim-ca" }));
    // The tenant admin: every capability, sudo included, on every path of its own namespace.
    ok(await asRoot("tenant", "PUT", "sys/policies/acl/admin", { policy: 'path "*" { capabilities = ["create", "read", "update", "delete", "list", "sudo"] }' }));
    const created = await asRoot("tenant", "POST", "auth/token/create", { policies: ["admin"] });
    tenantToken = (created.body?.auth as { client_token: string }).client_token;
    ok(await asTenant("POST", "sys/mounts/transit", { type: "transit" }));
    ok(await asTenant("POST", "sys/mounts/pki", { type: "pki" }));
    ok(await asRoot(undefined, "POST", "sys/mounts/transit-root", { type: "transit" }));
  });

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
    token?.cleanup();
    cleanupSoftHsm();
  });

  /** URIs an attacker would try for the key labelled `label`: the guessable label alone and the exact id. */
  function attempts(label: string, type: "secret-key" | "private"): string[] {
    const ids = idsOf(label);
    expect(ids.length, `objects labelled ${label}`).toBeGreaterThan(0);
    return [uri(`object=${label}`), uri(`object=${label};type=${type}`), ...ids.map((id) => uri(`id=${hexId(id)};type=${type}`))];
  }

  it("a guess and a missing key get the same answer", async () => {
    const missing = refused(await asTenant("POST", "transit/keys/guess", { type: "aes256-gcm96", key_ref: uri("object=no-such-key") }));
    const seal = refused(await asTenant("POST", "transit/keys/guess2", { type: "aes256-gcm96", key_ref: uri(`object=${SEAL_LABEL}`) }));
    expect(seal.replace("guess2", "guess")).toBe(missing);
  });

  it("the server's seal key cannot be bound by transit (create or rotate), PKI or a namespace, by label or by id", async () => {
    for (const ref of attempts(SEAL_LABEL, "secret-key")) {
      refused(await asTenant("POST", `transit/keys/s-${randomUUID().slice(0, 6)}`, { type: "aes256-gcm96", key_ref: ref }));
      // The operator cannot hand it out either, nor may even the root token's transit use it.
      const grant = await asRoot(undefined, "POST", "sys/managed-keys/pkcs11/seal", { uri: ref });
      expect(grant.status, JSON.stringify(grant.body)).toBe(400);
      refused(await asRoot(undefined, "POST", `transit-root/keys/s-${randomUUID().slice(0, 6)}`, { type: "aes256-gcm96", key_ref: ref }));
      const nsCreate = await asTenant("POST", `sys/namespaces/n${randomUUID().slice(0, 6)}`, { seal: { type: "pkcs11", key_uri: ref } });
      expect(nsCreate.status).toBe(400);
    }
    // An HSM transit key of the tenant's own, rotated onto the seal key: refused too.
    ok(await asTenant("POST", "transit/keys/own", { type: "aes256-gcm96", hsm: true }));
    refused(await asTenant("POST", "transit/keys/own/rotate", { key_ref: uri(`object=${SEAL_LABEL}`) }));
    expect((ok(await asTenant("GET", "transit/keys/own")).keys as Record<string, unknown>)["2"]).toBeUndefined();
  });

  it("another namespace's transit key cannot be bound, so its data cannot be decrypted", async () => {
    const ct = String(ok(await asRoot("victim", "POST", "transit/encrypt/vk", { plaintext: Buffer.from("victim data").toString("base64") })).ciphertext);
    for (const ref of attempts("transit-vk-v1", "secret-key")) {
      const name = `steal-${randomUUID().slice(0, 6)}`;
      refused(await asTenant("POST", `transit/keys/${name}`, { type: "aes256-gcm96", key_ref: ref }));
      expect((await asTenant("POST", `transit/decrypt/${name}`, { ciphertext: ct })).status).toBe(400);
    }
    // The owner still uses it.
    expect(ok(await asRoot("victim", "POST", "transit/decrypt/vk", { ciphertext: ct })).plaintext).toBe(Buffer.from("victim data").toString("base64"));
  });

  it("another namespace's CA key cannot be bound by keys/import, root/generate/kms, intermediate/generate/kms or an issuer import", async () => {
    const victimCa = String(ok(await asRoot("victim", "GET", "pki/issuer/default")).certificate);
    const keysBefore = await asTenant("LIST", "pki/keys");
    for (const ref of attempts("victim-ca", "private")) {
      refused(await asTenant("POST", "pki/keys/import", { key_ref: ref }));
      refused(await asTenant("POST", "pki/keys/generate/kms", { key_ref: ref }));
      refused(await asTenant("POST", "pki/root/generate/kms", { common_name: "Evil Root", key_ref: ref }));
      refused(await asTenant("POST", "pki/root/generate/kms", { common_name: "Evil Root", external_key_ref: ref }));
      refused(await asTenant("POST", "pki/root/generate/existing", { common_name: "Evil Root", key_ref: ref }));
      refused(await asTenant("POST", "pki/intermediate/generate/kms", { common_name: "Evil Int", external_key_ref: ref }));
      refused(await asTenant("POST", "pki/issuers/import/bundle", { pem_bundle: victimCa, key_ref: ref }));
      refused(await asTenant("POST", "pki/config/ca", { pem_bundle: victimCa, key_ref: ref }));
    }
    expect((await asTenant("LIST", "pki/keys")).body?.data).toEqual(keysBefore.body?.data);
  });

  it("an object nobody granted is refused everywhere, and only the operator may grant it", async () => {
    refused(await asTenant("POST", "transit/keys/stray", { type: "aes256-gcm96", key_ref: uri("object=stray-aes") }));
    refused(await asTenant("POST", "pki/keys/import", { key_ref: uri("object=stray-ec") }));
    refused(await asTenant("POST", "pki/root/generate/kms", { common_name: "Stray Root", key_ref: uri("object=stray-ec") }));
    refused(await asRoot(undefined, "POST", "transit-root/keys/stray", { type: "aes256-gcm96", key_ref: uri("object=stray-aes") }));
    // The tenant admin has sudo on its own sys/, but a grant is the server operator's.
    const self = await asTenant("POST", "sys/managed-keys/pkcs11/mine", { uri: uri("object=stray-aes") });
    expect(self.status).toBe(403);
    expect((await asTenant("GET", "sys/managed-keys/pkcs11/mine")).status).toBe(404);
    expect((await asTenant("DELETE", "sys/managed-keys/pkcs11/ext-aes")).status).toBe(403);
    // Nor can a key made by a mount be granted away from it.
    const vk = await asRoot("victim", "POST", "sys/managed-keys/pkcs11/vk", { uri: uri("object=transit-vk-v1") });
    expect(vk.status).toBe(400);
  });

  it("the operator's grant makes a pre-existing object usable by the mounts it allows, and withdrawing it stops use at once", async () => {
    const grant = ok(await asRoot("tenant", "POST", "sys/managed-keys/pkcs11/ext-aes", { uri: `${uri("object=ext-aes")}` }));
    expect(grant).toMatchObject({ name: "ext-aes", type: "pkcs11", key_id: "0xe0a1" });
    expect(ok(await asTenant("LIST", "sys/managed-keys/pkcs11")).keys).toContain("ext-aes");
    ok(await asRoot("tenant", "POST", "sys/managed-keys/pkcs11/ext-ec", { uri: uri("object=ext-ec") }));
    // Granted to the namespace, but not yet allowed on the mount.
    refused(await asTenant("POST", "transit/keys/byname-early", { type: "aes256-gcm96", key_ref: uri("object=ext-aes") }));
    expect((await asTenant("POST", "transit/keys/byname-early", { type: "aes256-gcm96", managed_key_name: "ext-aes" })).status).toBe(400);
    ok(await asTenant("POST", "sys/mounts/transit/tune", { allowed_managed_keys: ["ext-aes"] }));
    expect(ok(await asTenant("GET", "sys/mounts/transit/tune")).allowed_managed_keys).toEqual(["ext-aes"]);
    ok(await asTenant("POST", "transit/keys/byname", { type: "aes256-gcm96", managed_key_name: "ext-aes" }));
    ok(await asTenant("POST", "transit/keys/byuri", { type: "aes256-gcm96", key_ref: uri("object=ext-aes") }));
    const ct = String(ok(await asTenant("POST", "transit/encrypt/byname", { plaintext: "aGk=" })).ciphertext);
    expect(ok(await asTenant("POST", "transit/decrypt/byuri", { ciphertext: ct })).plaintext).toBe("aGk=");

    // PKI: a root on the granted EC key, by name.
    ok(await asTenant("POST", "sys/mounts/pki/tune", { allowed_managed_keys: ["ext-ec"] }));
    const rootCa = ok(await asTenant("POST", "pki/root/generate/kms", { common_name: "Tenant Root", managed_key_name: "ext-ec", ttl: "1h" }));
    expect(String(rootCa.certificate)).toContain("BEGIN CERTIFICATE");

    // The other namespace sees nothing of it and cannot use it, even with the name on its mount.
    expect((await asRoot("victim", "LIST", "sys/managed-keys/pkcs11")).status).toBe(404);
    ok(await asRoot("victim", "POST", "sys/mounts/transit/tune", { allowed_managed_keys: ["ext-aes"] }));
    expect((await asRoot("victim", "POST", "transit/keys/x", { type: "aes256-gcm96", managed_key_name: "ext-aes" })).status).toBe(400);
    refused(await asRoot("victim", "POST", "transit/keys/y", { type: "aes256-gcm96", key_ref: uri("object=ext-aes") }));

    // Withdrawn: the next use fails, for keys bound by name and by URI alike; deleting a transit key never
    // deletes the operator's object.
    expect((await asRoot("tenant", "DELETE", "sys/managed-keys/pkcs11/ext-aes")).status).toBe(204);
    // (Transit answers a key it may no longer use as it answers a key gone from the HSM.)
    expect((await asTenant("POST", "transit/encrypt/byname", { plaintext: "aGk=" })).status).toBe(400);
    expect((await asTenant("POST", "transit/decrypt/byuri", { ciphertext: ct })).status).toBe(400);
    ok(await asRoot("tenant", "POST", "sys/managed-keys/pkcs11/ext-aes", { uri: uri("object=ext-aes") }));
    expect(ok(await asTenant("POST", "transit/decrypt/byuri", { ciphertext: ct })).plaintext).toBe("aGk=");
    ok(await asTenant("POST", "transit/keys/byuri/config", { deletion_allowed: true }));
    expect((await asTenant("DELETE", "transit/keys/byuri")).status).toBe(204);
    expect(idsOf("ext-aes")).toEqual(["e0a1"]);
  });

  it("a namespace may be sealed only by a key granted to its parent, and that key is then no mount's", async () => {
    const key = uri("object=tenant-crk");
    expect((await asTenant("POST", "sys/namespaces/sealed-early", { seal: { type: "pkcs11", key_uri: key } })).status).toBe(400);
    ok(await asRoot("tenant", "POST", "sys/managed-keys/pkcs11/crk", { uri: key, any_mount: true }));
    const created = ok(await asTenant("POST", "sys/namespaces/sealed", { seal: { type: "pkcs11", key_uri: key } }));
    expect(created.sealable).toBe(true);
    // Still granted with any_mount, but it now wraps a namespace's root key: no mount may use it.
    refused(await asTenant("POST", "transit/keys/crk", { type: "aes256-gcm96", managed_key_name: "crk" }));
    refused(await asTenant("POST", "transit/keys/crk2", { type: "aes256-gcm96", key_ref: key }));
  });
});
