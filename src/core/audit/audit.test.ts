/**
 * Audit devices end to end over HTTP: entries for every request and response, secrets only as HMACs,
 * a tamper-evident chain that `arca audit verify` checks, and fail-closed behaviour.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, devServer } from "../../../test/servers.js";
import type { RunningServer } from "../../server/server.js";
import { runCli } from "../../../test/cli.js";
import { verifyChain } from "./chain.js";

const dir = mkdtempSync(join(tmpdir(), "arca-audit-"));
let s: RunningServer;
let root: string;

beforeAll(async () => {
  s = await devServer();
  root = s.rootToken!;
});
afterAll(async () => {
  await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function cliVerify(file: string): Promise<{ code: number; out: string }> {
  return runCli(["audit", "verify", file], {}, dir);
}

describe("audit devices", () => {
  it("records requests and responses with secrets and tokens only as HMACs", async () => {
    const file = join(dir, "audit.log");
    expect((await api(s.url, "PUT", "sys/audit/file", { token: root, body: { type: "file", options: { file_path: file } } })).status).toBe(204);
    const listed = await api(s.url, "GET", "sys/audit", { token: root });
    expect(listed.body).toHaveProperty(["file/", "type"], "file");
    expect(listed.body).toHaveProperty(["file/", "options", "file_path"], file);

    const canary = `canary-${Math.random().toString(36).slice(2)}-secret`;
    await api(s.url, "POST", "secret/data/audited", { token: root, body: { data: { password: canary } } });
    await api(s.url, "GET", "secret/data/audited", { token: root });
    const created = await api(s.url, "POST", "auth/token/create", { token: root, body: { policies: ["default"] } });
    const child = (created.body?.auth as { client_token: string }).client_token;

    const text = readFileSync(file, "utf8");
    const lines = text.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThanOrEqual(6);
    expect(lines.some((l) => l.type === "request" && (l.request as { path: string }).path === "secret/data/audited")).toBe(true);
    for (const secret of [canary, root, child]) expect(text.includes(secret)).toBe(false);
    const hash = await api(s.url, "POST", "sys/audit-hash/file", { token: root, body: { input: canary } });
    expect(text).toContain(hash.body?.hash as string);
    expect(hash.body?.hash).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(verifyChain(text)).toMatchObject({ ok: true });
    expect(await cliVerify(file)).toMatchObject({ code: 0 });
    await s.core.audit.disable("file/");
  });


  it("continues the chain across a seal and unseal, and arca audit verify finds a deleted line", async () => {
    const file = join(dir, "chain.log");
    await api(s.url, "PUT", "sys/audit/chain", { token: root, body: { type: "file", options: { file_path: file } } });
    for (let i = 0; i < 3; i++) await api(s.url, "GET", "secret/data/audited", { token: root });
    await api(s.url, "PUT", "sys/seal", { token: root });
    await api(s.url, "PUT", "sys/unseal", { body: { key: s.unsealKey } });
    await api(s.url, "GET", "secret/data/audited", { token: root });
    const text = readFileSync(file, "utf8");
    expect(verifyChain(text)).toMatchObject({ ok: true });

    const lines = text.trim().split("\n");
    const tampered = join(dir, "tampered.log");
    writeFileSync(tampered, [...lines.slice(0, 3), ...lines.slice(4)].join("\n") + "\n");
    const deleted = await cliVerify(tampered);
    expect(deleted.code).toBe(2);
    expect(deleted.out).toContain("BROKEN at line 4");

    const altered = join(dir, "altered.log");
    writeFileSync(altered, [...lines.slice(0, 2), lines[2].replace('"request"', '"response"'), ...lines.slice(3)].join("\n") + "\n");
    expect((await cliVerify(altered)).out).toContain("BROKEN at line 4");
    await s.core.audit.disable("chain/");
  });

  it("fails closed: with only a device that cannot write, requests fail and nothing is stored", async () => {
    // /dev/full refuses every write (ENOSPC): the only device can no longer record, even for root.
    // (Enabling it over the API would already fail closed: the enable response itself is audited.)
    await s.core.audit.enable({ path: "full/", type: "file", description: "", options: { file_path: "/dev/full" }, local: false });
    try {
      const w = await api(s.url, "POST", "secret/data/unaudited", { token: root, body: { data: { v: "x" } } });
      expect(w.status).toBe(500);
      expect(w.body).toEqual({ errors: ["internal error"] });
      expect((await api(s.url, "GET", "sys/health")).status).toBe(200); // unaudited sys endpoints still answer
    } finally {
      await s.core.audit.disable("full/");
    }
    expect((await api(s.url, "GET", "secret/data/unaudited", { token: root })).status).toBe(404);
  });

  it("sends entries to a socket device; one working device is enough", async () => {
    const received: string[] = [];
    const collector: Server = createServer((c) => c.on("data", (d) => received.push(d.toString())));
    await new Promise<void>((r) => collector.listen(0, "127.0.0.1", r));
    const port = (collector.address() as { port: number }).port;
    try {
      await api(s.url, "PUT", "sys/audit/sock", { token: root, body: { type: "socket", options: { address: `127.0.0.1:${port}` } } });
      await api(s.url, "PUT", "sys/audit/dead", { token: root, body: { type: "socket", options: { address: "127.0.0.1:1", write_timeout: "1s" } } });
      const r = await api(s.url, "POST", "secret/data/socket-audited", { token: root, body: { data: { v: 1 } } });
      expect(r.status).toBe(200);
      await new Promise((res) => setTimeout(res, 100));
      expect(received.join("")).toContain("secret/data/socket-audited");
    } finally {
      await s.core.audit.disable("sock/");
      await s.core.audit.disable("dead/");
      collector.close();
    }
  });

  it("records refused requests too: unknown token, missing policy, unknown path", async () => {
    const file = join(dir, "refused.log");
    await api(s.url, "PUT", "sys/audit/refused", { token: root, body: { type: "file", options: { file_path: file } } });
    try {
      const limited = await api(s.url, "POST", "auth/token/create", { token: root, body: { policies: ["default"] } });
      const t = (limited.body?.auth as { client_token: string }).client_token;
      expect((await api(s.url, "GET", "secret/data/refused", { token: "hvs.not-a-token" })).status).toBe(403);
      expect((await api(s.url, "GET", "secret/data/refused", { token: t })).status).toBe(403);
      expect((await api(s.url, "GET", "no-such-mount/x", { token: root })).status).toBe(404);
      const entries = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { type: string; request: { path: string }; error?: string });
      const refused = entries.filter((e) => e.type === "response" && e.error);
      expect(refused.map((e) => [e.request.path, e.error])).toEqual([
        ["secret/data/refused", "permission denied"],
        ["secret/data/refused", "permission denied"],
        ["no-such-mount/x", 'no handler for route "no-such-mount/x". route entry not found.'],
      ]);
      expect(readFileSync(file, "utf8")).not.toContain("hvs.not-a-token");
    } finally {
      await s.core.audit.disable("refused/");
    }
  });
});
