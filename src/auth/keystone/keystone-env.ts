/**
 * What the keystone handlers share: the mount's view of the server, the validation cache, and one
 * Keystone client built from the stored config (rebuilt when the config changes).
 */
import type { SystemView } from "../../core/framework/system-view.js";
import type { KeyValueStore } from "../../storage/storage.js";
import { KeystoneClient } from "./keystone-client.js";
import { readConfig, type KeystoneConfig } from "./keystone-config.js";
import { ValidationCache } from "./validation-cache.js";

export class KeystoneEnv {
  readonly cache = new ValidationCache();
  private client: { config: string; client: KeystoneClient } | undefined;

  constructor(readonly view: SystemView) {}

  /** The config and a client for it; undefined when the mount is not configured yet. */
  async connect(storage: KeyValueStore): Promise<{ config: KeystoneConfig; client: KeystoneClient } | undefined> {
    const config = await readConfig(storage);
    if (!config) return undefined;
    // The stored JSON is the identity of a client: any change to it (URL, credentials, CA) builds a new one.
    const key = JSON.stringify(config);
    if (this.client?.config !== key) {
      this.client?.client.close();
      this.client = {
        config: key,
        client: new KeystoneClient({ url: config.keystoneUrl, caCert: config.caCert || undefined, timeoutMs: config.requestTimeout * 1000, credentials: config.credentials }),
      };
    }
    return { config, client: this.client.client };
  }

  /** After a config write: validations made with the old settings are not reused. */
  reset(): void {
    this.cache.clear();
    this.client?.client.close();
    this.client = undefined;
  }
}
