/** The built-in catalogs: engines (mount type → factory), and the core's own backends (sys/, auth/token/). */
import type { BackendFactory, CoreBackendFactory } from "../core/core.js";
import { createSystemBackend } from "../core/system/backend.js";
import { createTokenBackend } from "../core/tokens/token-backend.js";
import { createKvBackend } from "../engines/kv/backend.js";
import { createAppRoleBackend } from "../auth/approle/backend.js";
import { createUserpassBackend } from "../auth/userpass/backend.js";
import { createTransitBackend } from "../engines/transit/backend.js";
import { createPkiBackend } from "../engines/pki/backend.js";
import { createCubbyholeBackend } from "../engines/cubbyhole/backend.js";
import { barbicanFactory, type SealerChooser } from "../engines/barbican/backend.js";
import { keychainFactory } from "../engines/keychain/backend.js";

export function coreBackends(): Map<string, CoreBackendFactory> {
  return new Map<string, CoreBackendFactory>([
    ["system", createSystemBackend],
    ["token", createTokenBackend],
  ]);
}

/** `devMode`: a dev server, where engines may offer development-only features (keychain's software keystore). */
/** `barbicanSealer`: how Barbican payloads are kept (the key-chain binding); default the barrier alone. */
export function builtinEngines(opts: { devMode?: boolean; barbicanSealer?: SealerChooser } = {}): Map<string, BackendFactory> {
  return new Map<string, BackendFactory>([
    ["kv", (mount) => createKvBackend({ version: mount.options?.version === "2" ? 2 : 1 })],
    ["approle", createAppRoleBackend],
    ["userpass", createUserpassBackend],
    ["transit", createTransitBackend],
    ["pki", createPkiBackend],
    ["cubbyhole", () => createCubbyholeBackend()],
    ["barbican", barbicanFactory(opts.barbicanSealer)],
    ["keychain", keychainFactory(opts.devMode ?? false)],
  ]);
}
