/** Builds the SystemView an engine's mount gets (framework/system-view.ts says what is in it, and why so little). */
import { effectiveLeaseBounds, withFields, type BackendLogger, type LeaseBounds, type SystemView } from "./framework/system-view.js";
import { ArcaError } from "../common/errors.js";
import { routePath, type MountEntry } from "./mounts.js";
import type { Namespace } from "./namespaces/namespace.js";
import type { KeyManager } from "../hsm/key-manager.js";
import type { InputLimits } from "./limits.js";

export interface MountViewParts {
  ns: Namespace;
  /** The entry the backend is built for; a tune replaces it in the namespace, which `mount()` follows. */
  entry: MountEntry;
  /** The key manager scoped to this mount (KeyCustody.forMount), if HSMs are declared. */
  keyManager: KeyManager | undefined;
  /** The server's lease bounds (config default_lease_ttl / max_lease_ttl). */
  serverLeaseBounds: LeaseBounds;
  logger: BackendLogger;
  limits: Readonly<InputLimits>;
  /** The namespace at `relPath` below `ns` (NamespaceRegistry.find), undefined when missing. */
  descendant(relPath: string): Namespace | undefined;
}

export function mountView(p: MountViewParts): SystemView {
  const { ns, entry } = p;
  const mount = (): MountEntry => ns.mountByUuid(entry.uuid) ?? entry;
  return {
    namespace: ns.ref,
    mount,
    leaseBounds: () => effectiveLeaseBounds(mount(), p.serverLeaseBounds),
    keyManager: p.keyManager,
    logger: withFields(p.logger, { namespace: ns.path, mount: routePath(entry) }),
    // Only `create`: an engine issues tokens, it does not look up or revoke other callers' tokens.
    tokens: {
      create: (params) => ns.tokens.create(params),
      createIn: async (relPath, params) => {
        const target = p.descendant(relPath);
        if (!target) throw new ArcaError("invalid_request", `namespace "${relPath.slice(0, 256)}" does not exist below the mount's namespace`);
        return { ...(await target.tokens.create(params)), namespace: target.ref };
      },
    },
    limits: p.limits,
  };
}
