/**
 * The AppRole auth method (mount type "approle"), wire-compatible with OpenBao's
 * builtin/credential/approle: machines log in with a role_id and a secret_id and receive an orphan
 * token carrying the role's policies and token settings.
 *
 * Storage layout below the mount's view (`auth/<mount uuid>/`; details in approle-store.ts):
 *
 *   salt                                         32 random bytes: the HMAC key of everything below
 *   role/<lower-case role name>                  role (JSON, camelCase; token_* settings inline)
 *   role_id/<hmac(role_id)>                      { name }   role_id → role index
 *   secret_id/<hmac(role name)>/<hmac(secret_id)>
 *                                                secret ID entry: accessor, uses left, TTL, times,
 *                                                metadata, cidr_list, token_bound_cidrs
 *   accessor/<hmac(accessor)>                    { secretIdHmac, roleHmac, accessor }
 *
 * No secret ID, and no role_id, is stored in a form that can be presented at login.
 */
import { LogicalBackend } from "../../core/framework/backend.js";
import type { SystemView } from "../../core/framework/system-view.js";
import type { MountEntry } from "../../core/mounts.js";
import type { AppRoleEnv } from "./approle-env.js";
import { AppRoleSalt } from "./approle-store.js";
import { loginPaths } from "./path-login.js";
import { rolePaths } from "./path-role.js";
import { secretIdPaths } from "./path-secret-id.js";

const HELP = `
Any registered Role can authenticate itself with OpenBao. The credentials that must be presented
depend on the constraints set on the role: 'role_id' always, and 'secret_id' when 'bind_secret_id'
is set (the default). Secret IDs are issued by 'role/<role_name>/secret-id'.
`;

export function createAppRoleBackend(_mount: MountEntry, view: SystemView): LogicalBackend {
  const env: AppRoleEnv = { view, salt: new AppRoleSalt() };
  return new LogicalBackend({
    type: "approle",
    paths: [...rolePaths(env), ...secretIdPaths(env), ...loginPaths(env)],
    unauthenticatedPaths: ["login"],
    help: HELP.trim(),
  });
}
