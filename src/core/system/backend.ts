/** The system backend, mounted at sys/: one file per endpoint group, assembled here. */
import { LogicalBackend } from "../framework/backend.js";
import type { MountEntry } from "../mounts.js";
import type { Core } from "../core.js";
import type { Namespace } from "../namespaces/namespace.js";
import { namespacePaths } from "./path-namespaces.js";
import { mountPaths } from "./path-mounts.js";
import { policyPaths } from "./path-policies.js";
import { capabilityPaths } from "./path-capabilities.js";
import { rotatePaths } from "./path-rotate.js";
import { internalPaths } from "./path-internal.js";
import { auditPaths } from "./path-audit.js";
import { wrappingPaths } from "./path-wrapping.js";
import { generateRootPaths } from "./path-generate-root.js";
import { managedKeyPaths } from "./path-managed-keys.js";
import { sealPaths } from "./path-seal.js";
import { counterPaths } from "./path-counters.js";
import { remountPaths } from "./path-remount.js";
import { hostInfoPaths } from "./path-host-info.js";
import { storagePaths } from "./path-storage.js";

export function createSystemBackend(_mount: MountEntry, ns: Namespace, core: Core): LogicalBackend {
  // Server-wide groups (keyring, audit, root generation) answer in the root namespace only; the core
  // refuses them in a namespace with "operation unavailable in namespaces".
  return new LogicalBackend({
    type: "system",
    paths: [
      ...mountPaths(ns, core, "secret"),
      ...mountPaths(ns, core, "auth"),
      ...remountPaths(ns, core),
      ...policyPaths(ns),
      ...capabilityPaths(ns, core),
      ...internalPaths(ns, core),
      ...namespacePaths(ns, core),
      ...wrappingPaths(ns),
      ...managedKeyPaths(ns, core),
      ...(ns.isRoot ? [...rotatePaths(core), ...auditPaths(core), ...generateRootPaths(core), ...sealPaths(core), ...counterPaths(core), ...hostInfoPaths(), ...storagePaths(core)] : []),
    ],
    // Paths that need sudo on top of the operation's capability: OpenBao's system backend list in full
    // (vault/logical_system.go PathsSpecial.Root), so a policy written for OpenBao grants no more here,
    // including for endpoints Arca does not serve yet; plus Arca's own stricter entries (every rotate/
    // path, root-token generation). Paths declared in this backend may say `sudo: true` themselves
    // (seal, step-down); the list stays for OpenBao's globs over paths served elsewhere or not at all.
    rootPaths: [
      "auth/*",
      "remount",
      "audit",
      "audit/*",
      "audit-checkpoint/*",
      "raw",
      "raw/*",
      "rotate",
      "rotate/*",
      "config/cors",
      "config/auditing/*",
      "config/ui/headers/*",
      "plugins/catalog/*",
      "revoke-prefix/*",
      "revoke-force/*",
      "leases/revoke-prefix/*",
      "leases/revoke-force/*",
      "leases/lookup/*",
      "leases",
      "internal/inspect/*",
      "generate-root-token/*",
    ],
    // Authorisation of these happens inside (by mount access, or none needed for the unauth listing).
    unauthenticatedPaths: ["internal/ui/mounts", "internal/ui/mounts/*", "wrapping/lookup"],
    help: "The system backend: mounts, policies, capabilities, keyring rotation.",
  });
}
