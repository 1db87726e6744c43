/**
 * The `barbican` config block, and a server started from it: the Barbican API with Arca tokens only
 * (Barbican's unauthenticated X-Project-Id context is dev mode's alone).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { barbican } from "../../test/barbican.js";
import { quietLogger } from "../../test/servers.js";
import { ConfigError, parseServerConfig } from "./config.js";
import { startServer } from "./server.js";

const BASE = `storage "sqlite" {\n  path = "x.db"\n}\nlistener "tcp" {\n  address = "127.0.0.1:0"\n  tls_disable = true\n}\n`;

describe("the barbican block", () => {
  it("is off when absent, and reads prefix, host_href and keystore (never noauth)", async () => {
    expect((await parseServerConfig(BASE)).barbican).toBeUndefined();
    const c = await parseServerConfig(`${BASE}barbican {\n  prefix = "/kms"\n  host_href = "https://kms.example:8200/kms"\n  keystore = "hsm"\n}\n`);
    expect(c.barbican).toEqual({ prefix: "/kms", noauth: false, hostHref: "https://kms.example:8200/kms", keystore: "hsm" });
    expect((await parseServerConfig(`${BASE}barbican {}\n`)).barbican).toEqual({ prefix: "/barbican", noauth: false });
    const pki = await parseServerConfig(`${BASE}barbican {\n  pki_mount = "pki/"\n  pki_role = "barbican"\n}\n`);
    expect(pki.barbican).toMatchObject({ pkiMount: "pki", pkiRole: "barbican" });
    const keystone = await parseServerConfig(`${BASE}barbican {\n  keystone_mount = "/keystone/"\n}\n`);
    expect(keystone.barbican).toMatchObject({ keystoneMount: "keystone" });
  });

  it("reads a Barbican-only listener (serve = \"barbican\"), which needs the barbican block", async () => {
    const own = `listener "tcp" {\n  address = "127.0.0.1:9311"\n  tls_disable = true\n  serve = "barbican"\n}\n`;
    const c = await parseServerConfig(`${BASE}${own}barbican {}\n`);
    expect(c.listeners.map((l) => l.serve)).toEqual([undefined, "barbican"]);
    const without = await parseServerConfig(`${BASE}${own}`).catch((e: unknown) => e);
    expect((without as ConfigError).field).toBe("listener.tcp[1].serve");
    const other = await parseServerConfig(`${BASE}${own.replace('"barbican"', '"kmip"')}barbican {}\n`).catch((e: unknown) => e);
    expect((other as ConfigError).field).toBe("listener.tcp[1].serve");
  });

  it.each([
    [`barbican {\n  prefix = "barbican"\n}\n`, "barbican.prefix"],
    [`barbican {\n  prefix = "/v1/x"\n}\n`, "barbican.prefix"],
    [`barbican {\n  host_href = "ftp://x"\n}\n`, "barbican.host_href"],
    [`barbican {\n  noauth = true\n}\n`, "barbican"],
    [`barbican {\n  pki_mount = "pki"\n}\n`, "barbican.pki_mount"],
    [`barbican {\n  pki_mount = "a b"\n  pki_role = "r"\n}\n`, "barbican.pki_mount"],
    [`barbican {\n  pki_mount = "pki"\n  pki_role = "a/b"\n}\n`, "barbican.pki_role"],
    [`barbican {\n  keystone_mount = "a b"\n}\n`, "barbican.keystone_mount"],
  ])("refuses %j", async (block, field) => {
    const err = await parseServerConfig(`${BASE}${block}`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toContain(field);
  });

  it("serves the API under its prefix with Arca tokens; X-Project-Id alone is refused outside dev mode", async () => {
    const dir = mkdtempSync(join(tmpdir(), "arca-barbican-config-"));
    const config = await parseServerConfig(BASE.replace("x.db", join(dir, "arca.db")) + `barbican {\n  prefix = "/barbican"\n}\n`);
    let rootToken = "";
    const server = await startServer(config, {
      logger: quietLogger,
      afterCore: async (core) => {
        rootToken = (await core.initialize({ secretShares: 1, secretThreshold: 1 }, { keepUnsealed: true })).rootToken;
      },
    });
    try {
      const noauth = await barbican(server.url, "GET", "/v1/secrets", { project: "p1" });
      expect(noauth.status).toBe(403);
      expect(noauth.json).toMatchObject({ code: 403, title: "Forbidden" });
      const created = await barbican(server.url, "POST", "/v1/secrets", { token: rootToken, body: { payload: "x", payload_content_type: "text/plain" } });
      expect(created.status).toBe(201);
      expect((await barbican(server.url, "GET", "/v1/secrets", { token: rootToken })).json?.total).toBe(1);
      // The project named by X-Project-Id is ignored: the token's namespace (root) answers.
      expect((await barbican(server.url, "GET", "/v1/secrets", { token: rootToken, project: "elsewhere" })).json?.total).toBe(1);
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("with a keystore but no key chain set up, refuses to store payloads with a 503 (nothing stored in the clear)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "arca-barbican-config-"));
    const config = await parseServerConfig(BASE.replace("x.db", join(dir, "arca.db")) + `barbican {\n  keystore = "hsm"\n}\n`);
    let rootToken = "";
    const server = await startServer(config, {
      logger: quietLogger,
      afterCore: async (core) => {
        rootToken = (await core.initialize({ secretShares: 1, secretThreshold: 1 }, { keepUnsealed: true })).rootToken;
      },
    });
    try {
      const refused = await barbican(server.url, "POST", "/v1/secrets", { token: rootToken, body: { payload: "x", payload_content_type: "text/plain" } });
      expect([refused.status, refused.json?.title]).toEqual([503, "Service Unavailable"]);
      expect((await barbican(server.url, "GET", "/v1/secrets", { token: rootToken })).json?.total).toBe(0);
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
