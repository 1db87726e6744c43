// The provider side of the keystore plugin protocol: serves any KeyManager on a unix socket. A plugin
// written in TypeScript is this plus a KeyManager (sample-provider-main.ts); plugins in other languages
// implement the same lines (docs/keystore-plugins.md). Requests are checked field by field; a bad one gets a
// JSON-RPC error and the connection stays up. Errors carry the KeyManager error's kind and message only.
import { chmod, rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import {
  isKeyDeleter,
  isKeyEncrypter,
  isKeyImporter,
  isKeyWrapper,
  KEY_ALGORITHMS,
  type KeyManager,
  type Signer,
} from "../key-manager.js";
import { LineChannel } from "./line-channel.js";
import {
  b64,
  DEFAULT_MAX_FRAME_BYTES,
  errorKindOf,
  isObject,
  optBool,
  optBytes,
  optEnum,
  optString,
  PROTOCOL_NAME,
  PROTOCOL_VERSION,
  RPC_INVALID_PARAMS,
  RPC_INVALID_REQUEST,
  RPC_KEY_ERROR,
  RPC_METHOD_NOT_FOUND,
  sanitizeMessage,
  wireBytes,
  wireEnum,
  wireString,
  WireShapeError,
  type Capability,
  type WireObject,
} from "./protocol.js";
import { aeadFromWire, aeadToWire, createdKeyToWire, OAEP_HASHES, publicKeyToWire, signOptionsFromWire, WRAP_MECHANISMS } from "./wire-keys.js";

export interface ProviderOptions {
  /** Shown to the client in the handshake. */
  name: string;
  socketPath: string;
  maxFrameBytes?: number;
}

export interface RunningProvider {
  close(): Promise<void>;
}

type Handler = (p: WireObject) => Promise<WireObject>;

export async function serveKeyManager(km: KeyManager, opts: ProviderOptions): Promise<RunningProvider> {
  const maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const handlers = handlersFor(km, opts.name);
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    const channel: LineChannel = new LineChannel(socket, maxFrameBytes, {
      message: (msg) => void answer(channel, handlers, msg),
      closed: () => undefined,
    });
  });
  await rm(opts.socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.socketPath, () => resolve());
  });
  // Only this user may connect (the directory should be private too; the server's spawn makes it so).
  await chmod(opts.socketPath, 0o600);
  return {
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function answer(channel: LineChannel, handlers: Map<string, Handler>, msg: unknown): Promise<void> {
  if (!isObject(msg) || msg.jsonrpc !== "2.0" || typeof msg.method !== "string" || !(typeof msg.id === "number" || typeof msg.id === "string")) {
    channel.send({ jsonrpc: "2.0", id: null, error: { code: RPC_INVALID_REQUEST, message: "invalid request" } });
    return;
  }
  const id = msg.id;
  const handler = handlers.get(msg.method);
  if (!handler) {
    channel.send({ jsonrpc: "2.0", id, error: { code: RPC_METHOD_NOT_FOUND, message: "method not found" } });
    return;
  }
  try {
    const params = isObject(msg.params) ? msg.params : {};
    const result = await handler(params);
    if (!channel.send({ jsonrpc: "2.0", id, result })) {
      channel.send({ jsonrpc: "2.0", id, error: { code: RPC_KEY_ERROR, message: "result too large", data: { kind: "unsupported" } } });
    }
  } catch (err) {
    if (err instanceof WireShapeError) {
      channel.send({ jsonrpc: "2.0", id, error: { code: RPC_INVALID_PARAMS, message: err.message } });
      return;
    }
    const message = err instanceof Error ? sanitizeMessage(err.message) : "error";
    channel.send({ jsonrpc: "2.0", id, error: { code: RPC_KEY_ERROR, message, data: { kind: errorKindOf(err) } } });
  }
}

function capabilitiesOf(km: KeyManager): Capability[] {
  const caps: Capability[] = [];
  if (isKeyEncrypter(km)) caps.push("encrypt");
  if (isKeyWrapper(km)) caps.push("wrap");
  if (isKeyDeleter(km)) caps.push("delete");
  if (isKeyImporter(km)) caps.push("import");
  return caps;
}

function handlersFor(km: KeyManager, name: string): Map<string, Handler> {
  // Signers are made per call: the protocol is stateless, so a deleted key stops signing at once.
  const signer = (p: WireObject): Promise<Signer> => km.createSigner(wireString(p, "uri"));
  const h = new Map<string, Handler>();
  h.set("handshake", async (p) => {
    const versions = Array.isArray(p.versions) ? p.versions : [];
    if (p.protocol !== PROTOCOL_NAME || !versions.includes(PROTOCOL_VERSION)) throw new WireShapeError(`this provider speaks ${PROTOCOL_NAME} version ${PROTOCOL_VERSION}`);
    return { protocol: PROTOCOL_NAME, version: PROTOCOL_VERSION, name, is_hardware: km.isHardware, capabilities: capabilitiesOf(km) };
  });
  h.set("create_key", async (p) =>
    createdKeyToWire(
      await km.createKey({
        algorithm: wireEnum(p, "algorithm", KEY_ALGORITHMS),
        label: wireString(p, "label", 256),
        extractable: optBool(p, "extractable"),
        hsm: optString(p, "hsm", 256),
        wrapping: optBool(p, "wrapping"),
      }),
    ),
  );
  h.set("get_public_key", async (p) => ({ public_key: publicKeyToWire(await km.getPublicKey(wireString(p, "uri"))) }));
  h.set("signer_info", async (p) => {
    const s = await signer(p);
    return { algorithm: s.algorithm, public_key: publicKeyToWire(s.publicKey) };
  });
  h.set("sign", async (p) => ({ signature: b64(await (await signer(p)).sign(wireBytes(p, "data"), signOptionsFromWire(p))) }));
  h.set("identify", async (p) => {
    const i = await km.identify(wireString(p, "uri"));
    return { store: i.store, kind: i.kind, id: i.id };
  });
  if (isKeyEncrypter(km)) {
    h.set("encrypt", async (p) => aeadToWire(await km.encrypt(wireString(p, "uri"), wireBytes(p, "plaintext"), optBytes(p, "aad"))));
    h.set("decrypt", async (p) => ({ plaintext: b64(await km.decrypt(wireString(p, "uri"), aeadFromWire(p), optBytes(p, "aad"))) }));
    h.set("decrypt_oaep", async (p) => ({
      plaintext: b64(await km.decryptOaep(wireString(p, "uri"), wireBytes(p, "ciphertext"), { hash: optEnum(p, "hash", OAEP_HASHES), label: optBytes(p, "label") })),
    }));
  }
  if (isKeyWrapper(km)) {
    h.set("wrap_key", async (p) => ({
      wrapped: b64(await km.wrapKey(wireString(p, "wrapping_uri"), wireString(p, "target_uri"), optEnum(p, "mechanism", WRAP_MECHANISMS))),
    }));
    h.set("unwrap_key", async (p) =>
      createdKeyToWire(
        await km.unwrapKey(wireString(p, "wrapping_uri"), {
          wrapped: wireBytes(p, "wrapped"),
          algorithm: wireEnum(p, "algorithm", ["aes-256"] as const),
          label: wireString(p, "label", 256),
          extractable: optBool(p, "extractable"),
          mechanism: optEnum(p, "mechanism", WRAP_MECHANISMS),
        }),
      ),
    );
  }
  if (isKeyDeleter(km)) {
    h.set("delete_key", async (p) => {
      await km.deleteKey(wireString(p, "uri"));
      return {};
    });
  }
  if (isKeyImporter(km)) {
    h.set("import_key", async (p) => {
      const material = wireBytes(p, "material");
      try {
        return createdKeyToWire(
          await km.importKey({ algorithm: wireEnum(p, "algorithm", ["aes-256"] as const), material, label: wireString(p, "label", 256), extractable: optBool(p, "extractable") }),
        );
      } finally {
        material.fill(0);
      }
    });
  }
  return h;
}
