// The keystore plugins a server declares (`keystore_plugin` blocks), started on first use and stopped with
// the server. A start that fails is not remembered, so the next use tries again (the plugin client itself
// handles reconnecting once started).
import type { KeyManager } from "../key-manager.js";
import type { KeystorePluginBlockConfig } from "./plugin-config.js";
import { startKeystorePlugin } from "./plugin-key-manager.js";

export class KeystorePluginSet {
  private readonly declared = new Map<string, KeystorePluginBlockConfig>();
  private readonly started = new Map<string, Promise<KeyManager>>();
  private closed = false;

  constructor(blocks: readonly KeystorePluginBlockConfig[]) {
    for (const b of blocks) this.declared.set(b.name, b);
  }

  /** The plugin's KeyManager, or undefined when no plugin of that name is declared. */
  async resolve(name: string): Promise<KeyManager | undefined> {
    const decl = this.declared.get(name);
    if (!decl || this.closed) return undefined;
    let km = this.started.get(name);
    if (!km) {
      km = startKeystorePlugin(decl);
      this.started.set(name, km);
      km.catch(() => this.started.delete(name));
    }
    return km;
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.started.values()];
    this.started.clear();
    await Promise.all(all.map((p) => p.then((km) => km.close()).catch(() => undefined)));
  }
}
