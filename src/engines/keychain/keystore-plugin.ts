/**
 * `type=plugin`: L1 keys live in an out-of-process keystore plugin (src/hsm/plugin, docs/keystore-plugins.md)
 * that the operator declared (`keystore_plugin "NAME"` in the server config); the keystore's `plugin` field
 * names it. L1 keys are AES-256, made never extractable; L2 material is wrapped by AES-GCM inside the plugin
 * with the engine's AAD, like the pkcs11 type. Only plugins the server was given can be named, so a caller
 * cannot make Arca start a program or connect to a socket of its choosing.
 */
import { ArcaError, invalidRequest } from "../../common/errors.js";
import { keyErrorToArca } from "../../core/key-api-errors.js";
import { isKeyDeleter, isKeyEncrypter, type KeyEncrypter, type KeyManager } from "../../hsm/key-manager.js";
import { KeyNotFoundError } from "../../hsm/key-errors.js";
import { splitAead } from "./aead.js";
import type { KeystoreProvider, KeystoreSettings, KeystoreType, L1Algorithm, L1Ref, ProbeResult } from "./keystore.js";

/** The KeyManager of the declared plugin `name` (started on first use), or undefined if none is declared. */
export type KeystorePluginResolver = (name: string) => Promise<KeyManager | undefined>;

async function call<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw keyErrorToArca(err, what);
  }
}

class PluginKeystore implements KeystoreProvider {
  constructor(
    private readonly name: string,
    private readonly resolve: KeystorePluginResolver,
  ) {}

  private async km(): Promise<KeyManager & KeyEncrypter> {
    const km = await call("starting the keystore plugin", () => this.resolve(this.name));
    if (!km) throw new ArcaError("unavailable", `keystore plugin "${this.name}" is no longer declared on this server`);
    if (!isKeyEncrypter(km)) throw new ArcaError("unavailable", `keystore plugin "${this.name}" cannot encrypt`);
    return km;
  }

  async createKey(req: { label: string; algorithm: L1Algorithm }): Promise<L1Ref> {
    if (req.algorithm !== "AES256") throw invalidRequest("plugin keystores make AES256 L1 keys");
    const km = await this.km();
    const created = await call("creating the L1 key in the keystore plugin", () => km.createKey({ algorithm: "aes-256", label: req.label, extractable: false, wrapping: false }));
    return { uri: created.uri, owned: true };
  }

  async wrap(ref: L1Ref, plaintext: Buffer, aad: Buffer): Promise<Buffer> {
    const km = await this.km();
    const ct = await call("wrapping under the L1 key", () => km.encrypt(ref.uri, plaintext, aad));
    return Buffer.concat([ct.iv, ct.ciphertext, ct.tag]);
  }

  async unwrap(ref: L1Ref, blob: Buffer, aad: Buffer): Promise<Buffer> {
    const km = await this.km();
    const parts = splitAead(blob);
    return call("unwrapping under the L1 key", () => km.decrypt(ref.uri, parts, aad));
  }

  async probe(ref: L1Ref): Promise<ProbeResult> {
    try {
      await (await this.km()).identify(ref.uri);
      return "ENABLED";
    } catch (err) {
      return err instanceof KeyNotFoundError || (err instanceof ArcaError && err.cause instanceof KeyNotFoundError) ? "FORBIDDEN" : "UNKNOWN";
    }
  }

  async destroy(ref: L1Ref): Promise<void> {
    const km = await this.km();
    if (!isKeyDeleter(km)) throw new ArcaError("unavailable", `keystore plugin "${this.name}" cannot delete keys`);
    try {
      await km.deleteKey(ref.uri);
    } catch (err) {
      // Already gone is what we want; anything else must be retried (the key is still usable).
      if (err instanceof KeyNotFoundError) return;
      throw keyErrorToArca(err, "destroying the L1 key in the keystore plugin");
    }
  }
}

export function pluginKeystoreType(resolve: KeystorePluginResolver): KeystoreType {
  return {
    type: "plugin",
    origins: ["generated"],
    async parse(input: Record<string, unknown>) {
      const name = input.plugin;
      if (typeof name !== "string" || !/^[A-Za-z0-9_.-]{1,128}$/.test(name)) throw invalidRequest("plugin is required: the name of a keystore_plugin block of the server");
      const km = await call("starting the keystore plugin", () => resolve(name));
      if (!km) throw invalidRequest(`no keystore plugin "${name}" is declared on this server`);
      if (!isKeyEncrypter(km)) throw invalidRequest(`keystore plugin "${name}" cannot encrypt, so it cannot hold L1 keys`);
      return { config: { plugin: name, is_hardware: String(km.isHardware) }, secrets: {} };
    },
    open(settings: KeystoreSettings): KeystoreProvider {
      return new PluginKeystore(settings.config.plugin ?? "", resolve);
    },
  };
}
