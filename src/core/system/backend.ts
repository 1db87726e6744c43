/** The system backend, mounted at sys/: one file per endpoint group, assembled here. */
import { LogicalBackend } from "../framework/backend.js";
import type { MountEntry } from "../mounts.js";
import type { Core } from "../core.js";
import { mountPaths } from "./path-mounts.js";
import { policyPaths } from "./path-policies.js";
import { capabilityPaths } from "./path-capabilities.js";
import { rotatePaths } from "./path-rotate.js";
import { internalPaths } from "./path-internal.js";
import { auditPaths } from "./path-audit.js";
import { wrappingPaths } from "./path-wrapping.js";
import { generateRootPaths } from "./path-generate-root.js";

export function createSystemBackend(_mount: MountEntry, core: Core): LogicalBackend {
  return new LogicalBackend({
    type: "system",
    paths: [
      ...mountPaths(core, "secret"),
      ...mountPaths(core, "auth"),
      ...policyPaths(core),
      ...capabilityPaths(core),
      ...rotatePaths(core),
      ...internalPaths(core),
      ...auditPaths(core),
      ...wrappingPaths(core),
      ...generateRootPaths(core),
    ],
    // Root-protected as in OpenBao: keyring rotation needs sudo on top of update.
    rootPaths: ["rotate", "rotate/*", "audit", "audit/*", "generate-root-token/*"],
    // Authorisation of these happens inside (by mount access, or none needed for the unauth listing).
    unauthenticatedPaths: ["internal/ui/mounts", "internal/ui/mounts/*", "wrapping/lookup"],
    help: "The system backend: mounts, policies, capabilities, keyring rotation.",
  });
}
