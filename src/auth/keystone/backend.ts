/**
 * The keystone auth method (mount type "keystone"): OpenStack clients log in with the Keystone token
 * they already have and receive an Arca token in the namespace their project maps to, carrying the
 * policies their Keystone roles map to. This is what lets the Barbican front door accept X-Auth-Token
 * (exchange.ts), and any other client call `auth/keystone/login`.
 *
 * Storage layout below the mount's view (`auth/<mount uuid>/`):
 *
 *   config                    KeystoneConfig (keystone-config.ts; holds the service password or admin token)
 *   project/<project id>      { namespace }
 *   role/<lower-case role>    { policies }
 *
 * Keystone tokens are never stored; validations are cached in memory by the token's SHA-256 only.
 */
import { LogicalBackend } from "../../core/framework/backend.js";
import type { SystemView } from "../../core/framework/system-view.js";
import type { MountEntry } from "../../core/mounts.js";
import { CONFIG_KEY, configPaths } from "./keystone-config.js";
import { KeystoneEnv } from "./keystone-env.js";
import { loginPaths } from "./path-login.js";
import { mappingPaths } from "./path-mappings.js";

const HELP = `
The "keystone" credential provider validates OpenStack Keystone tokens against a Keystone v3 endpoint
(config), maps the token's project to a namespace (projects/) and its roles to policies (roles/), and
returns a token for them from "login".
`;

export function createKeystoneBackend(_mount: MountEntry, view: SystemView): LogicalBackend {
  const env = new KeystoneEnv(view);
  return new LogicalBackend({
    type: "keystone",
    paths: [...configPaths(() => env.reset()), ...mappingPaths(), ...loginPaths(env)],
    unauthenticatedPaths: ["login"],
    rootPaths: ["config"],
    help: HELP.trim(),
    // The config changed on another node: validations made under the old settings (another Keystone, CA or
    // credentials) are not reused here either. Otherwise the validation cache is per node by design: it
    // holds Keystone's answers, not storage, and the project/role mappings are read from storage per login.
    invalidate: async (key) => {
      if (key === CONFIG_KEY) env.reset();
    },
  });
}
