// `arca kms-plugin` against a real Arca dev server's keychain engine: a Kubernetes API server's view
// (a gRPC client made from the KMS v2 proto) of data at rest sealed under the key chain, and the kill switch.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, devServer } from "../../test/servers.js";
import type { RunningServer } from "../server/server.js";
import type { CliIo } from "./io.js";
import { kmsPluginCommand } from "./kms-plugin-command.js";
import { kmsClient, unary, type KmsClient, type StatusReply } from "../kms-plugin/kms-client.test-util.js";

function io(env: Record<string, string>): CliIo {
  return {
    env,
    homeDir: join(tmpdir(), `arca-kms-no-home-${randomBytes(6).toString("hex")}`),
    stdout: () => undefined,
    stderr: () => undefined,
    stdoutIsTty: false,
    stdinIsTty: false,
    readStdin: async () => "",
    readSecretLine: async () => "",
  };
}

describe("arca kms-plugin on a keychain system", () => {
  let server: RunningServer;
  let root: string;
  let dir: string;
  let pluginToken: string;
  const stops: (() => Promise<void>)[] = [];
  const call = (method: string, path: string, body?: unknown, token = root) => api(server.url, method, path, { token, ...(body !== undefined ? { body } : {}) });

  async function plugin(): Promise<KmsClient> {
    const socket = join(dir, `kms-${stops.length}.sock`);
    const stop = new AbortController();
    let listening!: () => void;
    const ready = new Promise<void>((r) => (listening = r));
    const done = kmsPluginCommand(["-socket", socket, "-system", "web", "-address", server.url], io({ ARCA_TOKEN: pluginToken }), {
      signal: stop.signal,
      onListening: () => listening(),
    });
    await Promise.race([ready, done.then((code) => Promise.reject(new Error(`kms-plugin exited ${code}`)))]);
    const client = kmsClient(socket);
    stops.push(async () => {
      client.close();
      stop.abort();
      await done;
    });
    return client;
  }

  beforeAll(async () => {
    server = await devServer();
    root = server.rootToken!;
    dir = mkdtempSync(join(tmpdir(), "arca-kms-e2e-"));
    expect((await call("POST", "sys/mounts/keychain", { type: "keychain", options: { allow_software_keystore: "true" } })).status).toBe(204);
    expect((await call("POST", "keychain/keystores/soft", { type: "software" })).status).toBe(204);
    expect((await call("POST", "keychain/keys/cluster-root", { keystore: "soft" })).status).toBe(204);
    expect((await call("POST", "keychain/key-configurations/k8s", { primary_key: "cluster-root" })).status).toBe(204);
    expect((await call("POST", "keychain/systems/web", { key_configuration: "k8s", type: "KUBERNETES", region: "eu" })).status).toBe(204);
    // The plugin's token may do exactly what the plugin needs: data keys and decrypt for its system.
    const policy = `path "keychain/systems/web/datakey" { capabilities = ["update"] }\npath "keychain/systems/web/decrypt" { capabilities = ["update"] }`;
    expect((await call("PUT", "sys/policies/acl/kms-plugin", { policy })).status).toBe(204);
    pluginToken = ((await call("POST", "auth/token/create", { policies: ["kms-plugin"] })).body?.auth as { client_token: string }).client_token;
  });
  afterAll(async () => {
    for (const s of stops.reverse()) await s();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("encrypts under the system's data keys, decrypts in another plugin, and stops at the L1 kill switch", async () => {
    const a = await plugin();
    const st = await unary<StatusReply>((cb) => a.Status({}, cb));
    expect(st).toMatchObject({ version: "v2", healthz: "ok", key_id: expect.stringMatching(/^arca-[0-9a-f]{32}$/) as unknown });
    const seeds = Array.from({ length: 8 }, () => randomBytes(32));
    const encs = await Promise.all(seeds.map((plaintext, i) => unary<{ ciphertext: Buffer; key_id: string }>((cb) => a.Encrypt({ plaintext, uid: `e${i}` }, cb))));
    for (const e of encs) expect(e.key_id).toBe(st.key_id);

    // A second API server replica (empty cache) reads the same data through Arca.
    const b = await plugin();
    for (const [i, e] of encs.entries()) {
      const d = await unary<{ plaintext: Buffer }>((cb) => b.Decrypt({ ciphertext: e.ciphertext, uid: `d${i}`, key_id: e.key_id }, cb));
      expect(d.plaintext).toEqual(seeds[i]);
    }

    // Revoking the L1 customer key: the next Status poll reports it and nothing decrypts any more.
    expect((await call("POST", "keychain/keys/cluster-root/revoke", {})).status).toBeLessThan(300);
    for (const c of [a, b]) expect((await unary<StatusReply>((cb) => c.Status({}, cb))).healthz).not.toBe("ok");
    for (const c of [a, b]) {
      await expect(unary((cb) => c.Decrypt({ ciphertext: encs[0].ciphertext, uid: "r", key_id: encs[0].key_id }, cb))).rejects.toMatchObject({ code: grpc.status.FAILED_PRECONDITION });
    }

    // Enabling it again restores service.
    expect((await call("POST", "keychain/keys/cluster-root/enable", {})).status).toBeLessThan(300);
    expect((await unary<StatusReply>((cb) => a.Status({}, cb))).healthz).toBe("ok");
    expect((await unary<{ plaintext: Buffer }>((cb) => b.Decrypt({ ciphertext: encs[0].ciphertext, uid: "x", key_id: encs[0].key_id }, cb))).plaintext).toEqual(seeds[0]);
  });
});
