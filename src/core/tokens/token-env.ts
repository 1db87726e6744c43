/** What the token endpoints share: the core, their mount, and a few naming and lease rules. */
import { unsupportedPath } from "../errors.js";
import type { Namespace } from "../namespaces/namespace.js";
import type { MountEntry } from "../mounts.js";

/** OpenBao's `pathSuffixSanitize` (`\w[\w-.]+\w`, unanchored as in Go's MatchString). */
export const PATH_SUFFIX_SANITIZE = /\w[\w.-]+\w/;
/** OpenBao's `framework.GenericNameRegex`. */
const ROLE_NAME = /^\w(?:[\w.-]*\w)?$/;

export interface Env {
  ns: Namespace;
  mount: MountEntry;
}

/** The token mount's effective lease bounds (a tune replaces the mount entry, so read it each time). */
export function leaseBounds(env: Env): { max: number; def: number } {
  const m = env.ns.mounts(env.mount.table).find((e) => e.uuid === env.mount.uuid) ?? env.mount;
  const max = m.config.maxLeaseTtl > 0 ? m.config.maxLeaseTtl : env.ns.core.maxLeaseTtl;
  const def = m.config.defaultLeaseTtl > 0 ? m.config.defaultLeaseTtl : env.ns.core.defaultLeaseTtl;
  return { max, def: Math.min(def, max) };
}

export function checkRoleName(name: string): void {
  // OpenBao's pattern would not match such a name at all, hence 404 rather than 400.
  if (!ROLE_NAME.test(name)) throw unsupportedPath();
}
