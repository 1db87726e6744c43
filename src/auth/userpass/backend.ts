/**
 * The userpass auth method (mount type "userpass"), wire-compatible with OpenBao's
 * builtin/credential/userpass: people log in with a username and password and receive an orphan token
 * carrying the user's policies and token settings.
 *
 * Storage layout below the mount's view (`auth/<mount uuid>/`):
 *
 *   user/<lower-case username>     { passwordHash: "$scrypt$ln=15,r=8,p=1$<salt b64>$<hash b64>",
 *                                    token_* settings (camelCase, see token-fields.ts) }
 *
 * Passwords are hashed with scrypt and a random per-password salt (password.ts); users are locked out
 * after repeated login failures whatever the source (OpenBao's user lockout, tunable with the mount's
 * user_lockout_config), and each source address is limited too (login-limiter.ts).
 */
import { LogicalBackend } from "../../core/framework/backend.js";
import type { SystemView } from "../../core/framework/system-view.js";
import type { MountEntry } from "../../core/mounts.js";
import { LoginLimiter } from "./login-limiter.js";
import { loginPaths } from "./path-login.js";
import { userPaths } from "./path-users.js";
import type { UserpassEnv } from "./userpass-env.js";

const HELP = `
The "userpass" credential provider allows authentication using a combination of a username and
password. No additional factors are supported. The username/password combination is configured using
the "users/" endpoints by a user with root access. Authentication is then done by supplying the two
fields for "login".
`;

export function createUserpassBackend(_mount: MountEntry, view: SystemView): LogicalBackend {
  const env: UserpassEnv = { view, limiter: new LoginLimiter() };
  return new LogicalBackend({
    type: "userpass",
    paths: [...userPaths(), ...loginPaths(env)],
    unauthenticatedPaths: ["login/*"],
    help: HELP.trim(),
  });
}
