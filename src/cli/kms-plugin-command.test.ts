// `arca kms-plugin` end to end against a stand-in for Arca's keychain HTTP API (the real engine's test is
// kms-plugin-keychain.test.ts): flags, token handling, the HTTP calls it makes, and the KMS v2 socket.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import type { CliIo } from "./io.js";
import { kmsPluginCommand } from "./kms-plugin-command.js";
import { kmsClient, unary, type StatusReply } from "../kms-plugin/kms-client.test-util.js";

const TOKEN = "s.kms-plugin-test-token";

/** Arca's two keychain endpoints, wrapping data keys under a key of its own; `revoked` makes it refuse. */
function fakeArca(): Promise<{ url: string; server: Server; calls: string[]; state: { revoked: boolean } }> {
  const kek = randomBytes(32);
  const calls: string[] = [];
  const state = { revoked: false };
  const body = (req: IncomingMessage) => new Promise<Record<string, unknown>>((r) => {
    let s = "";
    req.on("data", (d: Buffer) => (s += d.toString()));
    req.on("end", () => r(JSON.parse(s || "{}") as Record<string, unknown>));
  });
  const server = createServer((req, res) => {
    void body(req).then((b) => {
      calls.push(`${req.method} ${req.url}`);
      const send = (status: number, v: unknown) => {
        res.writeHead(status, { "Content-Type": "application/json" });
        res.end(JSON.stringify(v));
      };
      if (req.headers["x-vault-token"] !== TOKEN) return send(403, { errors: ["permission denied"] });
      if (state.revoked) return send(400, { errors: ["key chain revoked"] });
      if (req.url === "/v1/keychain/systems/web/datakey" && b.bits === 256) {
        const key = randomBytes(32);
        const iv = randomBytes(12);
        const c = createCipheriv("aes-256-gcm", kek, iv);
        const ct = Buffer.concat([iv, c.update(key), c.final(), c.getAuthTag()]);
        return send(200, { data: { plaintext: key.toString("base64"), ciphertext: `keychain:v1:${ct.toString("base64")}` } });
      }
      if (req.url === "/v1/keychain/systems/web/decrypt" && typeof b.ciphertext === "string") {
        const raw = Buffer.from(b.ciphertext.replace(/^keychain:v1:/, ""), "base64");
        try {
          const d = createDecipheriv("aes-256-gcm", kek, raw.subarray(0, 12));
          d.setAuthTag(raw.subarray(raw.length - 16));
          const key = Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]);
          return send(200, { data: { plaintext: key.toString("base64") } });
        } catch {
          return send(400, { errors: ["ciphertext does not decrypt"] });
        }
      }
      return send(404, { errors: [] });
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, calls, state })));
}

function io(env: Record<string, string>): CliIo & { out: () => string } {
  let out = "";
  return {
    env,
    // A home without a token file: only what the test passes counts.
    homeDir: join(tmpdir(), `arca-kms-no-home-${randomBytes(6).toString("hex")}`),
    stdout: (t) => (out += t),
    stderr: (t) => (out += t),
    stdoutIsTty: false,
    stdinIsTty: false,
    readStdin: async () => "",
    readSecretLine: async () => "",
    out: () => out,
  };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startPlugin(args: string[], env: Record<string, string>): Promise<{ socket: string; output: () => string }> {
  const dir = mkdtempSync(join(tmpdir(), "arca-kms-cli-"));
  const socket = join(dir, "kms.sock");
  const stop = new AbortController();
  const cli = io(env);
  let listening!: () => void;
  const ready = new Promise<void>((r) => (listening = r));
  const done = kmsPluginCommand(["-socket", socket, ...args], cli, { signal: stop.signal, onListening: () => listening() });
  await Promise.race([ready, done.then((code) => Promise.reject(new Error(`exited ${code}: ${cli.out()}`)))]);
  cleanups.push(async () => {
    stop.abort();
    expect(await done).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });
  return { socket, output: cli.out };
}

describe("arca kms-plugin", () => {
  it("serves KMS v2 on the socket with the system's data keys; the token never shows", async () => {
    const arca = await fakeArca();
    cleanups.push(() => new Promise<void>((r) => arca.server.close(() => r())));
    const p = await startPlugin(["-system", "web"], { ARCA_ADDR: arca.url, ARCA_TOKEN: TOKEN });
    const client = kmsClient(p.socket);
    cleanups.push(() => client.close());
    const st = await unary<StatusReply>((cb) => client.Status({}, cb));
    expect(st).toMatchObject({ version: "v2", healthz: "ok" });
    const pt = randomBytes(32);
    const enc = await unary<{ ciphertext: Buffer; key_id: string }>((cb) => client.Encrypt({ plaintext: pt, uid: "1" }, cb));
    expect(enc.key_id).toBe(st.key_id);
    const dec = await unary<{ plaintext: Buffer }>((cb) => client.Decrypt({ ciphertext: enc.ciphertext, uid: "2", key_id: enc.key_id }, cb));
    expect(dec.plaintext).toEqual(pt);
    expect(arca.calls).toEqual(["POST /v1/keychain/systems/web/datakey", "POST /v1/keychain/systems/web/decrypt"]);

    // A second plugin (another API server replica, or after a restart) unwraps through Arca.
    const q = await startPlugin(["-system", "web", "-token", TOKEN], { ARCA_ADDR: arca.url });
    const other = kmsClient(q.socket);
    cleanups.push(() => other.close());
    expect((await unary<{ plaintext: Buffer }>((cb) => other.Decrypt({ ciphertext: enc.ciphertext, uid: "3", key_id: enc.key_id }, cb))).plaintext).toEqual(pt);

    arca.state.revoked = true;
    const revoked = await unary<StatusReply>((cb) => client.Status({}, cb));
    expect(revoked.healthz).toMatch(/refused/);
    await expect(unary((cb) => client.Decrypt({ ciphertext: enc.ciphertext, uid: "4", key_id: enc.key_id }, cb))).rejects.toMatchObject({ code: grpc.status.FAILED_PRECONDITION });
    expect(p.output() + q.output()).not.toContain(TOKEN);
  });

  it("Status is not ok while Arca is unreachable or the token is wrong", async () => {
    const p = await startPlugin(["-system", "web"], { ARCA_ADDR: "http://127.0.0.1:1", ARCA_TOKEN: TOKEN });
    const client = kmsClient(p.socket);
    cleanups.push(() => client.close());
    expect((await unary<StatusReply>((cb) => client.Status({}, cb))).healthz).not.toBe("ok");
    const arca = await fakeArca();
    cleanups.push(() => new Promise<void>((r) => arca.server.close(() => r())));
    const q = await startPlugin(["-system", "web"], { ARCA_ADDR: arca.url, ARCA_TOKEN: "s.wrong" });
    const c2 = kmsClient(q.socket);
    cleanups.push(() => c2.close());
    const st = await unary<StatusReply>((cb) => c2.Status({}, cb));
    expect(st.healthz).toMatch(/refused/);
    expect(st.healthz).not.toContain("s.wrong");
  });

  it.each([
    [[], /-socket is required/],
    [["-socket", "/tmp/x.sock"], /-system must name/],
    [["-socket", "/tmp/x.sock", "-system", "a/b"], /-system must name/],
    [["-socket", "/tmp/x.sock", "-system", "web", "-mount", "../sys"], /-mount must be/],
    [["-socket", "/tmp/x.sock", "-system", "web", "-cache-size", "0"], /-cache-size/],
    [["-socket", "/tmp/x.sock", "-system", "web", "-bogus", "1"], /not defined: -bogus/],
    [["-socket", "/tmp/x.sock", "-system", "web"], /no Arca token/],
  ])("refuses %j", async (args, message) => {
    await expect(kmsPluginCommand(args, io({}))).rejects.toThrow(message);
  });
});
