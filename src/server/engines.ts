/** The built-in catalogs: engines (mount type → factory), and the core's own backends (sys/, auth/token/). */
import type { BackendFactory, CoreBackendFactory } from "../core/core.js";
import { createSystemBackend } from "../core/system/backend.js";
import { createTokenBackend } from "../core/tokens/token-backend.js";
import { createKvBackend } from "../engines/kv/backend.js";
import { createAppRoleBackend } from "../auth/approle/backend.js";
import { createUserpassBackend } from "../auth/userpass/backend.js";
import { createCertBackend } from "../auth/cert/backend.js";
import { createKeystoneBackend } from "../auth/keystone/backend.js";
import { createTransitBackend } from "../engines/transit/backend.js";
import { createPkiBackend } from "../engines/pki/backend.js";
import { createCubbyholeBackend } from "../engines/cubbyhole/backend.js";
import { barbicanFactory, type IssuerChooser, type SealerChooser } from "../engines/barbican/backend.js";
import { keychainFactory } from "../engines/keychain/backend.js";
import type { KeystorePluginResolver } from "../engines/keychain/keystore-plugin.js";
import type { OutboundPolicy } from "../common/outbound-guard.js";

export function coreBackends(): Map<string, CoreBackendFactory> {
  return new Map<string, CoreBackendFactory>([
    ["system", createSystemBackend],
    ["token", createTokenBackend],
  ]);
}

/** What the server gives engines besides their mount. */
export interface EngineOptions {
  /** A dev server, where engines may offer development-only features (keychain's software keystore). */
  devMode?: boolean;
  /** The declared keystore plugins (keychain's `type=plugin` keystores). */
  keystorePlugins?: KeystorePluginResolver;
  /** The config's keychain block (where HYOK keystores may connect). */
  keychainOutbound?: OutboundPolicy;
  /** How Barbican payloads are kept (the key-chain binding); default the barrier alone. */
  barbicanSealer?: SealerChooser;
  /** The CA of Barbican certificate orders (the PKI binding); default none (certificate orders refused). */
  barbicanIssuer?: IssuerChooser;
}

export function builtinEngines(opts: EngineOptions = {}): Map<string, BackendFactory> {
  return new Map<string, BackendFactory>([
    ["kv", (mount, view) => createKvBackend({ version: mount.options?.version === "2" ? 2 : 1, defaultLeaseTtl: () => view.leaseBounds().def })],
    ["approle", createAppRoleBackend],
    ["userpass", createUserpassBackend],
    ["cert", createCertBackend],
    ["keystone", createKeystoneBackend],
    ["transit", createTransitBackend],
    ["pki", createPkiBackend],
    ["cubbyhole", () => createCubbyholeBackend()],
    ["barbican", barbicanFactory(opts.barbicanSealer, opts.barbicanIssuer)],
    ["keychain", keychainFactory({ devMode: opts.devMode ?? false, keystorePlugins: opts.keystorePlugins, outbound: opts.keychainOutbound })],
  ]);
}
