/** `graph`: the L1 → L2 → L3 tree with states and counts (what the web UI draws). */
import { definePath } from "../../core/framework/path.js";
import type { KeychainEnv } from "./keychain-env.js";
import { records } from "./records.js";

export function graphPath(_env: KeychainEnv) {
  return definePath({
    pattern: "graph",
    operations: {
      read: async ({ storage }) => {
        const keys = [];
        let configurations = 0;
        let systems = 0;
        for (const name of await records.listKeys(storage)) {
          const k = await records.key(storage, name);
          if (!k) continue;
          const cfgs = [];
          for (const c of k.state === "DELETED" ? [] : await records.configsOfKey(storage, k.id)) {
            const sys = await records.systemsOfConfig(storage, c);
            cfgs.push({ name: c, system_count: sys.length, systems: sys });
            systems += sys.length;
          }
          configurations += cfgs.length;
          keys.push({ name: k.name, state: k.state, origin: k.origin, keystore: k.keystore, primary_version: k.primary_version, configuration_count: cfgs.length, key_configurations: cfgs });
        }
        return { data: { keys, counts: { keys: keys.length, key_configurations: configurations, systems } } };
      },
    },
    synopsis: "The key chain as a tree",
  });
}
