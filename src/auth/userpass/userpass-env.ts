/** What the userpass handlers share: the mount's view of the server and the per-address login limiter. */
import type { SystemView } from "../../core/framework/system-view.js";
import type { LoginLimiter } from "./login-limiter.js";

export interface UserpassEnv {
  view: SystemView;
  limiter: LoginLimiter;
}
