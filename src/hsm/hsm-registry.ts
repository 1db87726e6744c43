// The HSMs an operator allows Arca to use, and key-URI resolution against them.
//
// Loading a PKCS#11 library is running its code, so a library is only ever loaded from a declaration the
// operator wrote; a key URI (which may come from an API call) can only *select* among declared HSMs. A URI whose
// module-path/module-name no declaration allows is refused. PINs come from the declaration; a URI's pin-value /
// pin-source is ignored unless that declaration sets `allowUriPin` (dev setups).
import { readFileSync, realpathSync } from "node:fs";
import { basename } from "node:path";
import { HsmConfigError } from "./errors.js";
import { loadPkcs11Module, type Pkcs11ModuleOptions } from "./module.js";
import type { TokenResolver } from "./pkcs11-key-manager.js";
import { HsmToken, type ReconnectPolicy } from "./token.js";
import { parsePkcs11Uri, type Pkcs11Uri } from "./uri.js";

export interface HsmDeclaration {
  /** Operator's name for this HSM (used by `createKey({ hsm })` and in logs). */
  name: string;
  /** Path of the PKCS#11 library. */
  lib: string;
  /** p11-kit style module name a URI may use instead of module-path (default: library file name without lib/.so). */
  moduleName?: string;
  tokenLabel?: string;
  serial?: string;
  /** The user PIN, inline (dev only: prefer pinFile or pinEnv). */
  pin?: string;
  /** File holding the PIN (trailing newline ignored). */
  pinFile?: string;
  /** Environment variable holding the PIN. */
  pinEnv?: string;
  /** Let key URIs supply pin-value / pin-source=file: for this HSM (dev setups only). */
  allowUriPin?: boolean;
  maxSessions?: number;
  reconnect?: Partial<ReconnectPolicy>;
}

export class HsmRegistry implements TokenResolver {
  private readonly decls: HsmDeclaration[];
  private readonly tokens = new Map<string, HsmToken>();
  /** PIN handed in through a URI, per declaration (only where allowUriPin). */
  private readonly uriPins = new Map<string, string>();

  constructor(
    declarations: HsmDeclaration[],
    private readonly moduleOptions: Pkcs11ModuleOptions = {},
  ) {
    const names = new Set<string>();
    for (const d of declarations) {
      validateDeclaration(d);
      if (names.has(d.name)) throw new HsmConfigError(`HSM "${d.name}" is declared twice`);
      names.add(d.name);
    }
    this.decls = declarations.map((d) => ({ ...d }));
  }

  get declarations(): readonly HsmDeclaration[] {
    return this.decls;
  }

  /** The declaration a key URI names. Throws HsmConfigError if none (or more than one) may serve it. */
  declarationFor(uri: Pkcs11Uri): HsmDeclaration {
    if (uri.modulePath !== undefined) {
      const allowed = this.decls.filter((d) => sameLibrary(d.lib, uri.modulePath ?? ""));
      if (allowed.length === 0) throw new HsmConfigError("PKCS#11 URI names a module-path no declared HSM allows");
    }
    if (uri.moduleName !== undefined) {
      const allowed = this.decls.filter((d) => moduleNameOf(d) === uri.moduleName);
      if (allowed.length === 0) throw new HsmConfigError("PKCS#11 URI names a module-name no declared HSM allows");
    }
    const candidates = this.decls.filter(
      (d) =>
        (uri.modulePath === undefined || sameLibrary(d.lib, uri.modulePath)) &&
        (uri.moduleName === undefined || moduleNameOf(d) === uri.moduleName) &&
        (uri.token === undefined || d.tokenLabel === undefined || d.tokenLabel === uri.token) &&
        (uri.serial === undefined || d.serial === undefined || d.serial === uri.serial) &&
        // A declaration by serial only can serve a token=… URI only if the URI also gives the serial.
        !(uri.token !== undefined && d.tokenLabel === undefined && uri.serial === undefined) &&
        !(uri.serial !== undefined && d.serial === undefined && uri.token === undefined),
    );
    if (candidates.length === 0) throw new HsmConfigError("no declared HSM holds the token this key URI names");
    if (candidates.length > 1) throw new HsmConfigError("key URI matches several declared HSMs; add token= or serial=");
    return candidates[0];
  }

  tokenForUri(uri: Pkcs11Uri): HsmToken {
    const d = this.declarationFor(uri);
    if (d.allowUriPin && !this.tokens.has(d.name)) {
      const pin = uriPin(uri);
      if (pin !== undefined) this.uriPins.set(d.name, pin);
    }
    return this.token(d.name);
  }

  tokenForCreate(hsm?: string): HsmToken {
    // A token URI (`pkcs11:token=…`, what keychain keystores name) picks the declaration holding that token.
    if (hsm?.startsWith("pkcs11:")) return this.tokenForUri(parsePkcs11Uri(hsm));
    if (hsm !== undefined) return this.token(hsm);
    if (this.decls.length !== 1) throw new HsmConfigError("several HSMs are declared: say which one (hsm)");
    return this.token(this.decls[0].name);
  }

  /** The (lazily opened) token of a declaration. */
  token(name: string): HsmToken {
    const existing = this.tokens.get(name);
    if (existing) return existing;
    const d = this.decls.find((x) => x.name === name);
    if (!d) throw new HsmConfigError(`no HSM named "${name}" is declared`);
    const module = loadPkcs11Module(d.lib, this.moduleOptions);
    const t = new HsmToken({
      module,
      selector: d.serial !== undefined ? { serial: d.serial, label: d.tokenLabel } : { label: d.tokenLabel },
      pin: () => this.pinOf(d),
      maxSessions: d.maxSessions,
      reconnect: d.reconnect,
    });
    this.tokens.set(name, t);
    return t;
  }

  /** The token of a declaration if it was opened already (never loads a library). */
  openedToken(name: string): HsmToken | undefined {
    return this.tokens.get(name);
  }

  /**
   * Whether each declared HSM answers now: opens tokens not used yet, probes the others (a cheap token-info
   * call; a token that is down is being probed in the background already and reports its last state).
   */
  async probeAll(): Promise<Array<{ name: string; up: boolean }>> {
    return Promise.all(
      this.decls.map(async (d) => {
        let t: HsmToken;
        try {
          t = this.token(d.name);
        } catch {
          return { name: d.name, up: false };
        }
        return { name: d.name, up: await t.probe() };
      }),
    );
  }

  /** Closes every opened token's sessions. */
  close(): void {
    for (const t of this.tokens.values()) t.close();
    this.tokens.clear();
  }

  private pinOf(d: HsmDeclaration): string {
    const fromUri = this.uriPins.get(d.name);
    if (d.allowUriPin && fromUri !== undefined) return fromUri;
    if (d.pin !== undefined) return d.pin;
    if (d.pinEnv !== undefined) {
      const v = process.env[d.pinEnv];
      if (v === undefined || v === "") throw new HsmConfigError(`HSM "${d.name}": environment variable ${d.pinEnv} is not set`);
      return v;
    }
    if (d.pinFile !== undefined) return readPinFile(d.pinFile, d.name);
    throw new HsmConfigError(`HSM "${d.name}" has no PIN (pin, pinFile or pinEnv)`);
  }
}

function validateDeclaration(d: HsmDeclaration): void {
  if (!d.name) throw new HsmConfigError("an HSM declaration needs a name");
  if (!d.lib) throw new HsmConfigError(`HSM "${d.name}" needs lib (the PKCS#11 library path)`);
  if (d.tokenLabel === undefined && d.serial === undefined) throw new HsmConfigError(`HSM "${d.name}" needs tokenLabel or serial`);
  const pins = [d.pin, d.pinFile, d.pinEnv].filter((x) => x !== undefined).length;
  if (pins > 1) throw new HsmConfigError(`HSM "${d.name}": give only one of pin, pinFile, pinEnv`);
  if (pins === 0 && !d.allowUriPin) throw new HsmConfigError(`HSM "${d.name}" needs pin, pinFile or pinEnv`);
}

function readPinFile(path: string, name: string): string {
  try {
    return readFileSync(path, "utf8").replace(/\r?\n$/, "");
  } catch {
    throw new HsmConfigError(`HSM "${name}": cannot read its PIN file`);
  }
}

function uriPin(uri: Pkcs11Uri): string | undefined {
  if (uri.pinValue !== undefined) return uri.pinValue;
  if (uri.pinSource !== undefined) {
    // RFC 7512 leaves pin-source's scheme open; only local files are accepted here.
    const path = uri.pinSource.startsWith("file:") ? uri.pinSource.slice(5) : uri.pinSource;
    if (!path.startsWith("/")) throw new HsmConfigError("pin-source must be an absolute file path or file: URI");
    return readPinFile(path, "uri");
  }
  return undefined;
}

function sameLibrary(declared: string, requested: string): boolean {
  if (declared === requested) return true;
  try {
    return realpathSync(declared) === realpathSync(requested);
  } catch {
    return false;
  }
}

function moduleNameOf(d: HsmDeclaration): string {
  return d.moduleName ?? basename(d.lib).replace(/^lib/, "").replace(/\.so(\..*)?$|\.dylib$|\.dll$/, "");
}

/**
 * Parses the dev flag `pkcs11:token=T?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234` (or
 * `serial=`, `pin-source=file:/path`) into a declaration named `name`.
 */
export function parseHsmFlag(value: string, name = "dev"): HsmDeclaration {
  const u = parsePkcs11Uri(value);
  if (u.modulePath === undefined) throw new HsmConfigError("the HSM flag needs ?module-path=<PKCS#11 library>");
  if (u.token === undefined && u.serial === undefined) throw new HsmConfigError("the HSM flag needs token= or serial=");
  if (u.object !== undefined || u.id !== undefined) throw new HsmConfigError("the HSM flag names a token, not a key (no object= or id=)");
  const d: HsmDeclaration = { name, lib: u.modulePath };
  if (u.token !== undefined) d.tokenLabel = u.token;
  if (u.serial !== undefined) d.serial = u.serial;
  if (u.pinValue !== undefined) d.pin = u.pinValue;
  else if (u.pinSource !== undefined) d.pinFile = u.pinSource.startsWith("file:") ? u.pinSource.slice(5) : u.pinSource;
  else throw new HsmConfigError("the HSM flag needs pin-value= or pin-source=");
  if (u.moduleName !== undefined) d.moduleName = u.moduleName;
  return d;
}
