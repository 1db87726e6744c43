// A keystore plugin is another program: it may hang, send garbage or endless frames, lie about shapes or die
// mid-call. Each of these must be an error for the calls it touches (never a crash or a hang of the server),
// and the client must recover once the plugin behaves again.
import { chownSync, readFileSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { KeyNotFoundError, KeyUnavailableError, KeyUnsupportedError, KeyUsageError } from "../key-errors.js";
import { isKeyEncrypter, type KeyManager } from "../key-manager.js";
import { startKeystorePlugin } from "./plugin-key-manager.js";
import { PluginProtocolError, RPC_INVALID_PARAMS } from "./protocol.js";
import { connectUnix } from "./plugin-process.js";
import { serveKeyManager } from "./provider-server.js";
import { SoftwareKeyManagerNotHsm } from "../software-key-manager.js";

const HOSTILE = fileURLToPath(new URL("../../../test/keystore-plugins/hostile-plugin.mjs", import.meta.url));

interface Request {
  id: number;
  method: string;
  params: Record<string, unknown>;
}

/** What a fake plugin does with one request: write raw text to the socket, or nothing (hang). */
type Behaviour = (req: Request, socket: Socket) => void;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function line(v: unknown): string {
  return `${JSON.stringify(v)}\n`;
}

function result(req: Request, r: unknown): string {
  return line({ jsonrpc: "2.0", id: req.id, result: r });
}

const HANDSHAKE = { protocol: "arca-keystore", version: 1, name: "fake", is_hardware: false, capabilities: ["encrypt"] };

/** An in-process fake plugin on a unix socket; it handshakes normally unless `behave` answers handshakes too. */
async function fakePlugin(behave: Behaviour, opts: { handshake?: unknown } = {}): Promise<{ socket: string; connections: () => number; server: Server }> {
  const dir = mkdtempSync(join(tmpdir(), "arca-fake-plugin-"));
  const path = join(dir, "s");
  let connections = 0;
  const open = new Set<Socket>();
  const server = createServer((s) => {
    connections++;
    open.add(s);
    s.on("error", () => undefined);
    s.on("close", () => open.delete(s));
    let buf = "";
    s.on("data", (d) => {
      buf += d.toString();
      for (let nl = buf.indexOf("\n"); nl !== -1; nl = buf.indexOf("\n")) {
        const req = JSON.parse(buf.slice(0, nl)) as Request;
        buf = buf.slice(nl + 1);
        if (req.method === "handshake") s.write(result(req, opts.handshake ?? HANDSHAKE));
        else behave(req, s);
      }
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  cleanups.push(async () => {
    for (const s of open) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });
  return { socket: path, connections: () => connections, server };
}

async function client(socket: string, extra: { callTimeoutMs?: number; maxFrameBytes?: number } = {}): Promise<KeyManager> {
  const km = await startKeystorePlugin({ name: "fake", socket, retryDelayMs: 0, ...extra });
  cleanups.push(() => km.close());
  return km;
}

describe("keystore plugin client against a hostile plugin", () => {
  it("a plugin that hangs: the call fails with KeyUnavailableError after the deadline, and the next call reconnects", async () => {
    let answer = false;
    const p = await fakePlugin((req, s) => {
      if (answer) s.write(result(req, { store: "fake", kind: "secret", id: "01" }));
    });
    const km = await client(p.socket, { callTimeoutMs: 200 });
    await expect(km.identify("fake:x")).rejects.toBeInstanceOf(KeyUnavailableError);
    answer = true;
    expect(await km.identify("fake:x")).toEqual({ store: "plugin:fake:fake", kind: "secret", id: "01" });
    expect(p.connections()).toBe(2);
  });

  it("garbage instead of JSON is a PluginProtocolError; the client recovers", async () => {
    let garbage = true;
    const p = await fakePlugin((req, s) => s.write(garbage ? "}}not json at all\n" : result(req, { store: "fake", kind: "secret", id: "02" })));
    const km = await client(p.socket);
    await expect(km.identify("fake:x")).rejects.toBeInstanceOf(PluginProtocolError);
    garbage = false;
    expect((await km.identify("fake:x")).id).toBe("02");
  });

  it("an endless frame fails the call once it passes the bound, without buffering the rest", async () => {
    let sent = 0;
    let peerClosed = false;
    const chunk = "a".repeat(64 * 1024);
    const p = await fakePlugin((_req, s) => {
      s.on("close", () => (peerClosed = true));
      const pump = () => {
        // 64 MiB at most: far past the 256 KiB bound, and the client must hang up long before.
        while (!peerClosed && sent < 64 * 1024 * 1024) {
          sent += chunk.length;
          if (!s.write(chunk)) return void s.once("drain", pump);
        }
      };
      pump();
    });
    const km = await client(p.socket, { maxFrameBytes: 256 * 1024 });
    const err = await km.identify("fake:x").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PluginProtocolError);
    expect((err as Error).message).toMatch(/frame too large/);
    await new Promise((r) => setTimeout(r, 50));
    expect(peerClosed).toBe(true);
    expect(sent).toBeLessThan(64 * 1024 * 1024);
  });

  it.each([
    ["a result that is not an object", (req: Request) => line({ jsonrpc: "2.0", id: req.id, result: "yes" })],
    ["both result and error", (req: Request) => line({ jsonrpc: "2.0", id: req.id, result: {}, error: { code: 1, message: "x" } })],
    ["a reply to no call", (req: Request) => line({ jsonrpc: "2.0", id: req.id + 1000, result: {} })],
    ["a wrong jsonrpc version", (req: Request) => line({ jsonrpc: "1.0", id: req.id, result: {} })],
    ["a public key that is not base64", (req: Request) => result(req, { public_key: "!!not base64!!" })],
    ["a public key that is base64 but not SPKI", (req: Request) => result(req, { public_key: Buffer.from("nonsense").toString("base64") })],
    ["a JSON array", () => "[1,2,3]\n"],
  ])("%s is a PluginProtocolError", async (_name, reply) => {
    const p = await fakePlugin((req, s) => s.write(reply(req)));
    const km = await client(p.socket);
    await expect(km.getPublicKey("fake:x")).rejects.toBeInstanceOf(PluginProtocolError);
  });

  it("a malformed AEAD reply or a non-hex identity is a PluginProtocolError", async () => {
    const p = await fakePlugin((req, s) => {
      if (req.method === "encrypt") s.write(result(req, { iv: 12, ciphertext: "", tag: "" }));
      else s.write(result(req, { store: "fake", kind: "secret", id: "../../etc" }));
    });
    const km = await client(p.socket);
    if (!isKeyEncrypter(km)) throw new Error("the fake plugin announced encrypt");
    await expect(km.encrypt("fake:x", Buffer.from("secret payload"))).rejects.toBeInstanceOf(PluginProtocolError);
    await expect(km.identify("fake:x")).rejects.toBeInstanceOf(PluginProtocolError);
  });

  it("errors map to the seam's classes; their text is bounded and printable; unknown kinds are KeyUnavailableError", async () => {
    const p = await fakePlugin((req, s) => {
      const kind = req.method === "get_public_key" ? "not_found" : req.method === "signer_info" ? "usage" : "martian";
      s.write(line({ jsonrpc: "2.0", id: req.id, error: { code: -32000, message: `gone\u001b[31m${"x".repeat(5000)}`, data: { kind } } }));
    });
    const km = await client(p.socket);
    const nf = await km.getPublicKey("fake:x").catch((e: unknown) => e);
    expect(nf).toBeInstanceOf(KeyNotFoundError);
    expect((nf as Error).message).not.toContain("\u001b");
    expect((nf as Error).message.length).toBeLessThan(300);
    await expect(km.createSigner("fake:x")).rejects.toBeInstanceOf(KeyUsageError);
    await expect(km.identify("fake:x")).rejects.toBeInstanceOf(KeyUnavailableError);
  });

  it("a request over the frame bound is refused before sending; the connection stays usable", async () => {
    const p = await fakePlugin((req, s) => s.write(result(req, { iv: "AAAAAAAAAAAAAAAA", ciphertext: "", tag: "AAAAAAAAAAAAAAAAAAAAAA==" })));
    const km = await client(p.socket, { maxFrameBytes: 64 * 1024 });
    if (!isKeyEncrypter(km)) throw new Error("the fake plugin announced encrypt");
    await expect(km.encrypt("fake:x", Buffer.alloc(128 * 1024))).rejects.toBeInstanceOf(KeyUnsupportedError);
    expect((await km.encrypt("fake:x", Buffer.alloc(16))).tag.length).toBe(16);
    expect(p.connections()).toBe(1);
  });

  it("only the powers the plugin announced appear on the KeyManager", async () => {
    const p = await fakePlugin(() => undefined);
    const km = await client(p.socket);
    expect(isKeyEncrypter(km)).toBe(true);
    expect("wrapKey" in km || "deleteKey" in km || "importKey" in km).toBe(false);
  });

  it.each([
    ["another protocol version", { ...HANDSHAKE, version: 2 }],
    ["another protocol", { ...HANDSHAKE, protocol: "not-arca" }],
    ["no capabilities list", { ...HANDSHAKE, capabilities: "all" }],
  ])("a handshake with %s is refused at start", async (_name, handshake) => {
    const p = await fakePlugin(() => undefined, { handshake });
    await expect(startKeystorePlugin({ name: "fake", socket: p.socket })).rejects.toBeInstanceOf(PluginProtocolError);
  });

  const root = process.getuid?.() === 0;
  it.skipIf(!root)("a socket owned by another user is refused (needs root to chown; CI runs as root)", async () => {
    const p = await fakePlugin(() => undefined);
    chownSync(p.socket, 65534, 65534);
    await expect(startKeystorePlugin({ name: "fake", socket: p.socket })).rejects.toThrow(/owned by another user/);
    chownSync(p.socket, 0, 0);
    await expect(startKeystorePlugin({ name: "fake", socket: p.socket }).then((km) => km.close())).resolves.toBeUndefined();
  });

  it("a path that is not a socket is refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), "arca-not-socket-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    await expect(startKeystorePlugin({ name: "fake", socket: dir })).rejects.toThrow(/not a socket/);
  });

  it("a socket nobody listens on is KeyUnavailableError at start", async () => {
    await expect(startKeystorePlugin({ name: "fake", socket: join(tmpdir(), "arca-no-such-plugin.sock") })).rejects.toBeInstanceOf(KeyUnavailableError);
  });
});

describe("keystore plugin processes the server spawns", () => {
  function pidFile(): string {
    const dir = mkdtempSync(join(tmpdir(), "arca-hostile-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return join(dir, "pids");
  }
  const pids = (f: string) => readFileSync(f, "utf8").trim().split("\n").map(Number);
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it("a plugin that dies mid-call fails that call; the next call respawns it", async () => {
    const file = pidFile();
    const km = await startKeystorePlugin({ name: "hostile", command: [process.execPath, HOSTILE, "die-on-sign"], env: { HOSTILE_PID_FILE: file }, retryDelayMs: 0 });
    cleanups.push(() => km.close());
    const signer = await km.createSigner("x");
    await expect(signer.sign(Buffer.from("data"))).rejects.toBeInstanceOf(KeyUnavailableError);
    expect((await km.identify("x")).id).toBe("0a0b");
    expect(pids(file)).toHaveLength(2);
  });

  it("a plugin that hangs is killed after the call deadline and replaced", async () => {
    const file = pidFile();
    const km = await startKeystorePlugin({ name: "hostile", command: [process.execPath, HOSTILE, "hang"], env: { HOSTILE_PID_FILE: file }, callTimeoutMs: 200, retryDelayMs: 0 });
    cleanups.push(() => km.close());
    await expect(km.identify("x")).rejects.toBeInstanceOf(KeyUnavailableError);
    const [first] = pids(file);
    expect(alive(first)).toBe(false);
    await expect(km.identify("x")).rejects.toBeInstanceOf(KeyUnavailableError);
    expect(pids(file)).toHaveLength(2);
  });

  it("a plugin that never listens, or exits at once, fails the start with KeyUnavailableError", async () => {
    await expect(startKeystorePlugin({ name: "mute", command: ["sleep", "30"], startTimeoutMs: 300 })).rejects.toBeInstanceOf(KeyUnavailableError);
    await expect(startKeystorePlugin({ name: "quitter", command: ["false"] })).rejects.toThrow(/exited before it listened/);
    await expect(startKeystorePlugin({ name: "absent", command: ["/nonexistent/arca-plugin"] })).rejects.toBeInstanceOf(KeyUnavailableError);
  });

  it("the spawned plugin gets a minimal environment, not the server's", async () => {
    process.env.ARCA_TEST_SERVER_SECRET = "do-not-pass";
    const dir = mkdtempSync(join(tmpdir(), "arca-env-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const out = join(dir, "env.json");
    const script = `require("fs").writeFileSync(${JSON.stringify(out)}, JSON.stringify(process.env)); setTimeout(() => {}, 100)`;
    await startKeystorePlugin({ name: "env", command: [process.execPath, "-e", script], env: { GIVEN: "yes" }, startTimeoutMs: 1000 }).catch(() => undefined);
    delete process.env.ARCA_TEST_SERVER_SECRET;
    const env = JSON.parse(readFileSync(out, "utf8")) as Record<string, string>;
    expect(env.GIVEN).toBe("yes");
    expect(env.ARCA_KEYSTORE_PLUGIN_SOCKET).toMatch(/plugin\.sock$/);
    expect(env.ARCA_TEST_SERVER_SECRET).toBeUndefined();
  });
});

describe("provider side against a hostile client", () => {
  it("bad params get JSON-RPC errors and the connection stays; garbage closes only that connection", async () => {
    const dir = mkdtempSync(join(tmpdir(), "arca-provider-"));
    const path = join(dir, "s");
    const provider = await serveKeyManager(new SoftwareKeyManagerNotHsm(), { name: "p", socketPath: path, maxFrameBytes: 4096 });
    cleanups.push(async () => {
      await provider.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const s = await connectUnix(path);
    let got = "";
    s.on("data", (d) => (got += d.toString()));
    s.write(line({ jsonrpc: "2.0", id: 1, method: "create_key", params: { algorithm: "rsa-1", label: "x" } }));
    s.write(line({ jsonrpc: "2.0", id: 2, method: "__proto__", params: {} }));
    s.write(line({ jsonrpc: "2.0", id: 3, method: "create_key", params: { algorithm: "aes-256", label: "ok" } }));
    await new Promise((r) => setTimeout(r, 200));
    const replies = got.trim().split("\n").map((l) => JSON.parse(l) as { id: number; error?: { code: number } });
    expect(replies.find((r) => r.id === 1)?.error?.code).toBe(RPC_INVALID_PARAMS);
    expect(replies.find((r) => r.id === 2)?.error?.code).toBe(-32601);
    expect(replies.find((r) => r.id === 3)?.error).toBeUndefined();
    s.write("x".repeat(10_000));
    await new Promise<void>((r) => s.once("close", () => r()));
    const again = await connectUnix(path);
    again.destroy();
  });
});
