// A KeyManager whose keys live in an out-of-process keystore plugin (protocol.ts; docs/keystore-plugins.md).
// The plugin is either spawned from the operator's command (and respawned when it dies or hangs) or an
// already running process listening on a socket path. Every reply is validated; a plugin that hangs, sends
// garbage or oversized frames, or dies mid-call makes the calls waiting on it fail with KeyUnavailableError
// (PluginProtocolError for protocol breaks), and the next call reconnects after `retryDelayMs`. Nothing here
// logs request or reply contents: they carry key material and plaintext.
import type { KeyObject } from "node:crypto";
import { KeyUnavailableError, KeyUnsupportedError } from "../key-errors.js";
import type {
  AeadCiphertext,
  CreateKeyRequest,
  CreateKeyResponse,
  ImportKeyRequest,
  KeyDeleter,
  KeyEncrypter,
  KeyIdentity,
  KeyImporter,
  KeyManager,
  KeyWrapper,
  OaepHash,
  Signer,
  SignOptions,
  UnwrapKeyRequest,
  WrapMechanism,
} from "../key-manager.js";
import { KEY_ALGORITHMS } from "../key-manager.js";
import { checkPluginSocket, connectUnix, PluginProcess } from "./plugin-process.js";
import {
  b64,
  CAPABILITIES,
  DEFAULT_MAX_FRAME_BYTES,
  PluginProtocolError,
  PROTOCOL_NAME,
  PROTOCOL_VERSION,
  wireBytes,
  wireEnum,
  wireString,
  WireShapeError,
  type Capability,
  type Method,
  type WireObject,
} from "./protocol.js";
import { PluginTimeoutError, RpcConnection } from "./rpc-connection.js";
import { aeadFromWire, aeadToWire, createdKeyFromWire, publicKeyFromWire, signOptionsToWire } from "./wire-keys.js";

export interface KeystorePluginOptions {
  /** The operator's name for the plugin (errors and identities say it). */
  name: string;
  /** argv of a plugin to spawn; it gets its socket path in ARCA_KEYSTORE_PLUGIN_SOCKET. */
  command?: readonly string[];
  /** Extra environment for a spawned plugin (the server's own environment is not passed on). */
  env?: Readonly<Record<string, string>>;
  /** Socket of a plugin somebody else runs (when there is no command). */
  socket?: string;
  /** Deadline of one call (default 30 s). A call that misses it marks the plugin stuck. */
  callTimeoutMs?: number;
  /** How long a spawned plugin may take to listen, and the handshake to answer (default 10 s). */
  startTimeoutMs?: number;
  /** After a failed connection attempt, calls fail fast for this long instead of respawning (default 1 s). */
  retryDelayMs?: number;
  maxFrameBytes?: number;
}

interface Handshake {
  name: string;
  isHardware: boolean;
  capabilities: Set<Capability>;
}

/** Connects (spawning if configured), handshakes, and returns a KeyManager with the plugin's powers. */
export async function startKeystorePlugin(opts: KeystorePluginOptions): Promise<KeyManager> {
  if (!opts.command === !opts.socket) throw new KeyUnavailableError(`keystore plugin ${opts.name}: give exactly one of command and socket`);
  const client = new PluginClient(opts);
  let hs: Handshake;
  try {
    hs = await client.connect();
  } catch (err) {
    await client.close();
    throw err;
  }
  return pluginKeyManager(client, hs);
}

/** The connection owner: one live connection at a time, reconnecting (and respawning) on demand. */
class PluginClient {
  readonly name: string;
  private readonly callTimeoutMs: number;
  private readonly startTimeoutMs: number;
  private readonly retryDelayMs: number;
  private readonly maxFrameBytes: number;
  private process?: PluginProcess;
  private live?: RpcConnection;
  private opening?: Promise<RpcConnection>;
  private lastFailureAt = 0;
  private lastFailure?: Error;
  private handshake?: Handshake;
  private closed = false;

  constructor(private readonly opts: KeystorePluginOptions) {
    this.name = opts.name;
    this.callTimeoutMs = opts.callTimeoutMs ?? 30_000;
    this.startTimeoutMs = opts.startTimeoutMs ?? 10_000;
    this.retryDelayMs = opts.retryDelayMs ?? 1000;
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  async connect(): Promise<Handshake> {
    await this.connection();
    return this.handshake!;
  }

  async call(method: Method, params: WireObject): Promise<WireObject> {
    const conn = await this.connection();
    try {
      return await conn.call(method, params, this.callTimeoutMs);
    } catch (err) {
      // A stuck plugin holds its callers hostage: drop it, so the next call starts a fresh one.
      if (err instanceof PluginTimeoutError) await this.discard(conn, err);
      throw err;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.live?.close();
    (await this.opening?.catch(() => undefined))?.close();
    await this.process?.stop();
    this.process = undefined;
  }

  private connection(): Promise<RpcConnection> {
    if (this.closed) return Promise.reject(new KeyUnavailableError(`keystore plugin ${this.name} is closed`));
    if (this.live?.isOpen) return Promise.resolve(this.live);
    // Concurrent callers share one attempt (one spawn, one handshake).
    if (this.opening) return this.opening;
    if (this.lastFailure && Date.now() - this.lastFailureAt < this.retryDelayMs) return Promise.reject(this.lastFailure);
    this.opening = this.open()
      .then(
        (conn) => {
          this.live = conn;
          this.lastFailure = undefined;
          return conn;
        },
        (err: unknown) => {
          this.lastFailureAt = Date.now();
          this.lastFailure = err instanceof KeyUnavailableError ? err : new KeyUnavailableError(`keystore plugin ${this.name} is unreachable`);
          throw this.lastFailure;
        },
      )
      .finally(() => {
        this.opening = undefined;
      });
    return this.opening;
  }

  private async open(): Promise<RpcConnection> {
    let socket;
    if (this.opts.command) {
      // A spawned plugin serves one connection for its life: once that connection is lost (it died, broke
      // the protocol or hung), the process is replaced, never trusted again.
      await this.process?.stop();
      this.process = await PluginProcess.spawn(this.opts.command, this.opts.env);
      socket = await this.process.connect(this.startTimeoutMs);
    } else {
      await checkPluginSocket(this.opts.socket!);
      socket = await connectUnix(this.opts.socket!).catch(() => {
        throw new KeyUnavailableError(`keystore plugin ${this.name}: cannot connect to its socket`);
      });
    }
    const conn = new RpcConnection(socket, this.name, this.maxFrameBytes, () => undefined);
    try {
      const reply = await conn.call("handshake", { protocol: PROTOCOL_NAME, versions: [PROTOCOL_VERSION] }, this.startTimeoutMs);
      const hs = readHandshake(reply, this.name);
      // A plugin may not change what it is between reconnects: engines already decided on its first answer.
      if (this.handshake && !sameHandshake(this.handshake, hs)) throw new PluginProtocolError(`keystore plugin ${this.name} changed its capabilities`);
      this.handshake ??= hs;
      return conn;
    } catch (err) {
      await this.discard(conn, err);
      throw err;
    }
  }

  private async discard(conn: RpcConnection, err: unknown): Promise<void> {
    conn.close(err instanceof Error ? err : undefined);
    if (this.process) {
      await this.process.stop();
      this.process = undefined;
    }
  }
}

function readHandshake(r: WireObject, plugin: string): Handshake {
  try {
    if (r.protocol !== PROTOCOL_NAME || r.version !== PROTOCOL_VERSION) {
      throw new PluginProtocolError(`keystore plugin ${plugin} does not speak ${PROTOCOL_NAME} version ${PROTOCOL_VERSION}`);
    }
    if (typeof r.is_hardware !== "boolean" || !Array.isArray(r.capabilities)) throw new WireShapeError("handshake needs is_hardware and capabilities");
    const capabilities = new Set<Capability>();
    for (const c of r.capabilities) if ((CAPABILITIES as readonly unknown[]).includes(c)) capabilities.add(c as Capability);
    return { name: wireString(r, "name", 128), isHardware: r.is_hardware, capabilities };
  } catch (err) {
    if (err instanceof WireShapeError) throw new PluginProtocolError(`keystore plugin ${plugin} sent a malformed handshake: ${err.message}`);
    throw err;
  }
}

function sameHandshake(a: Handshake, b: Handshake): boolean {
  return a.isHardware === b.isHardware && a.capabilities.size === b.capabilities.size && [...a.capabilities].every((c) => b.capabilities.has(c));
}

/** Reads a reply; a shape the protocol does not allow is the plugin's fault, not the caller's. */
function reply<T>(plugin: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof WireShapeError) throw new PluginProtocolError(`keystore plugin ${plugin} sent a malformed reply: ${err.message}`);
    throw err;
  }
}

/** The KeyManager over a connected client: the optional powers appear only when the plugin announced them. */
function pluginKeyManager(client: PluginClient, hs: Handshake): KeyManager {
  const name = client.name;
  const core: KeyManager = {
    isHardware: hs.isHardware,
    async createKey(req: CreateKeyRequest): Promise<CreateKeyResponse> {
      const r = await client.call("create_key", { algorithm: req.algorithm, label: req.label, extractable: req.extractable, hsm: req.hsm, wrapping: req.wrapping });
      return reply(name, () => createdKeyFromWire(r));
    },
    async getPublicKey(uri: string): Promise<KeyObject> {
      const r = await client.call("get_public_key", { uri });
      return reply(name, () => publicKeyFromWire(r, "public_key"));
    },
    async createSigner(uri: string): Promise<Signer> {
      const r = await client.call("signer_info", { uri });
      const { algorithm, publicKey } = reply(name, () => ({ algorithm: wireEnum(r, "algorithm", KEY_ALGORITHMS), publicKey: publicKeyFromWire(r, "public_key") }));
      return {
        algorithm,
        publicKey,
        async sign(data: Buffer, o: SignOptions = {}): Promise<Buffer> {
          const s = await client.call("sign", { uri, data: b64(data), ...signOptionsToWire(o) });
          return reply(name, () => wireBytes(s, "signature"));
        },
      };
    },
    async identify(uri: string): Promise<KeyIdentity> {
      const r = await client.call("identify", { uri });
      return reply(name, () => {
        const id = wireString(r, "id", 256);
        if (!/^[0-9a-f]+$/.test(id)) throw new WireShapeError("id must be lower-case hex");
        // The store is namespaced by the plugin's name: a plugin cannot claim another store's identities.
        return { store: `plugin:${name}:${wireString(r, "store", 256)}`, kind: wireEnum(r, "kind", ["secret", "private"] as const), id };
      });
    },
    close: () => client.close(),
  };
  const encrypter: KeyEncrypter = {
    async encrypt(uri: string, plaintext: Buffer, aad?: Buffer): Promise<AeadCiphertext> {
      const r = await client.call("encrypt", { uri, plaintext: b64(plaintext), aad: aad && b64(aad) });
      return reply(name, () => aeadFromWire(r));
    },
    async decrypt(uri: string, ct: AeadCiphertext, aad?: Buffer): Promise<Buffer> {
      const r = await client.call("decrypt", { uri, ...aeadToWire(ct), aad: aad && b64(aad) });
      return reply(name, () => wireBytes(r, "plaintext"));
    },
    async decryptOaep(uri: string, ciphertext: Buffer, o: { hash?: OaepHash; label?: Buffer } = {}): Promise<Buffer> {
      const r = await client.call("decrypt_oaep", { uri, ciphertext: b64(ciphertext), hash: o.hash, label: o.label && b64(o.label) });
      return reply(name, () => wireBytes(r, "plaintext"));
    },
  };
  const wrapper: KeyWrapper = {
    async wrapKey(wrappingUri: string, targetUri: string, mechanism?: WrapMechanism): Promise<Buffer> {
      const r = await client.call("wrap_key", { wrapping_uri: wrappingUri, target_uri: targetUri, mechanism });
      return reply(name, () => wireBytes(r, "wrapped"));
    },
    async unwrapKey(wrappingUri: string, req: UnwrapKeyRequest): Promise<CreateKeyResponse> {
      const r = await client.call("unwrap_key", {
        wrapping_uri: wrappingUri,
        wrapped: b64(req.wrapped),
        algorithm: req.algorithm,
        label: req.label,
        extractable: req.extractable,
        mechanism: req.mechanism,
      });
      return reply(name, () => createdKeyFromWire(r));
    },
  };
  const deleter: KeyDeleter = {
    async deleteKey(uri: string): Promise<void> {
      await client.call("delete_key", { uri });
    },
  };
  const importer: KeyImporter = {
    async importKey(req: ImportKeyRequest): Promise<CreateKeyResponse> {
      if (req.algorithm !== "aes-256") throw new KeyUnsupportedError("importKey takes AES-256 keys");
      const r = await client.call("import_key", { algorithm: req.algorithm, material: b64(req.material), label: req.label, extractable: req.extractable });
      return reply(name, () => createdKeyFromWire(r));
    },
  };
  const caps = hs.capabilities;
  const km: KeyManager & Partial<KeyEncrypter & KeyWrapper & KeyDeleter & KeyImporter> = core;
  if (caps.has("encrypt")) Object.assign(km, encrypter);
  if (caps.has("wrap")) Object.assign(km, wrapper);
  if (caps.has("delete")) Object.assign(km, deleter);
  if (caps.has("import")) Object.assign(km, importer);
  return km;
}
