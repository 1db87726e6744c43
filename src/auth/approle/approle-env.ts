/** What every AppRole handler shares: the mount's view of the server (tokens, lease bounds) and the salt cache. */
import type { SystemView } from "../../core/framework/system-view.js";
import type { AppRoleSalt } from "./approle-store.js";

export interface AppRoleEnv {
  view: SystemView;
  salt: AppRoleSalt;
}
