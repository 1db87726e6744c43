/** What the token endpoints share: the core, their namespace and mount, and a few naming and lease rules. */
import { unsupportedPath } from "../../common/errors.js";
import type { Core } from "../core.js";
import type { Namespace } from "../namespaces/namespace.js";
import type { MountEntry } from "../mounts.js";

/** OpenBao's `pathSuffixSanitize` (`\w[\w-.]+\w`, unanchored as in Go's MatchString). */
export const PATH_SUFFIX_SANITIZE = /\w[\w.-]+\w/;
/** OpenBao's `framework.GenericNameRegex`. */
const ROLE_NAME = /^\w(?:[\w.-]*\w)?$/;

export interface Env {
  ns: Namespace;
  mount: MountEntry;
  core: Core;
}

/** The token mount's effective lease bounds (a tune replaces the mount entry, so read it each time). */
export function leaseBounds(env: Env): { max: number; def: number } {
  return env.core.leaseBoundsOf(env.ns, env.mount);
}

export function checkRoleName(name: string): void {
  // OpenBao's pattern would not match such a name at all, hence 404 rather than 400.
  if (!ROLE_NAME.test(name)) throw unsupportedPath();
}
