/**
 * The token auth method, mounted at `auth/token/` (type "token"). Its state is the core's TokenStore,
 * not the mount's storage view: every auth method's logins end up there too.
 */
import { LogicalBackend } from "../framework/backend.js";
import type { Core } from "../core.js";
import type { Namespace } from "../namespaces/namespace.js";
import type { MountEntry } from "../mounts.js";
import { tokenPaths } from "./path-token.js";

const HELP = `
The token credential backend is always enabled and builtin to OpenBao. Client tokens are used to
identify a client and to allow OpenBao to associate policies and ACLs which are enforced on every
request. This backend also allows for generating sub-tokens as well as revocation of tokens. The
tokens are renewable if associated with a lease.
`;

export function createTokenBackend(mount: MountEntry, ns: Namespace, core: Core): LogicalBackend {
  return new LogicalBackend({
    type: "token",
    paths: tokenPaths(ns, mount, core),
    // As OpenBao: "revoke-orphan/*" (not "revoke-orphan") so the handler answers a caller without
    // sudo with its own 400; create checks sudo itself for no_parent / id / period.
    rootPaths: ["revoke-orphan/*", "accessors*"],
    unauthenticatedPaths: [],
    help: HELP.trim(),
  });
}
