/**
 * Builds the configured seals from the server configuration's `seal` and `hsm` blocks: one HSM registry for
 * the declared HSMs plus those a `seal "pkcs11"` block names itself (OpenBao style), one PKCS#11 key
 * manager over it, and a seal per block. Nothing touches the HSM here: tokens open on first use, so a
 * missing HSM shows up as an auto-unseal failure (retried), not as a start-up crash.
 */
import { HsmRegistry, type HsmDeclaration } from "../hsm/hsm-registry.js";
import type { KeyEncrypter, KeyManager } from "../hsm/key-manager.js";
import type { ReconnectPolicy } from "../hsm/token.js";
import { Pkcs11KeyManager } from "../hsm/pkcs11-key-manager.js";
import { parsePkcs11SealParams, Pkcs11Seal, SealConfigError, type SealParam } from "./pkcs11.js";
import { SHAMIR, validSealName, type ConfiguredSeal } from "./seal.js";

export interface SealBlockConfig {
  type: string;
  disabled: boolean;
  params: Readonly<Record<string, SealParam>>;
}

export interface BuiltSeals {
  seals: ConfiguredSeal[];
  /** Present when any HSM is declared. */
  registry?: HsmRegistry;
  /** The key manager over the declared HSMs (engines get it too). */
  keyManager?: KeyManager & KeyEncrypter;
  close(): Promise<void>;
}

export interface BuildSealsOptions {
  warn?: (msg: string) => void;
  /** Per-call reconnect policy of the HSM tokens (tests shorten it). */
  reconnect?: Partial<ReconnectPolicy>;
}

/** Seal names: `name = "…"` when given, else the type, suffixed -2, -3… for further blocks of that type. */
function sealNames(blocks: readonly SealBlockConfig[]): string[] {
  const seen = new Map<string, number>();
  return blocks.map((b) => {
    // The Shamir copy has one fixed name: there is only one set of operator shares.
    if (b.type === SHAMIR) return SHAMIR;
    const explicit = b.params.name;
    if (explicit !== undefined && explicit !== "") return String(explicit);
    const n = (seen.get(b.type) ?? 0) + 1;
    seen.set(b.type, n);
    return n === 1 ? b.type : `${b.type}-${n}`;
  });
}

export function buildSeals(blocks: readonly SealBlockConfig[], hsms: readonly HsmDeclaration[], opts: BuildSealsOptions = {}): BuiltSeals {
  const warn = opts.warn ?? (() => undefined);
  const names = sealNames(blocks);
  const declarations: HsmDeclaration[] = hsms.map((h) => ({ ...h, ...(opts.reconnect ? { reconnect: opts.reconnect } : {}) }));
  const pkcs11Specs: Array<{ index: number; spec: ReturnType<typeof parsePkcs11SealParams>["spec"] }> = [];
  blocks.forEach((b, i) => {
    const name = names[i];
    if (!validSealName(name)) throw new SealConfigError(`seal "${b.type}": invalid name "${name}" (letters, digits, . _ -; not "recovery")`);
    if (b.type === "pkcs11") {
      const { spec, declaration } = parsePkcs11SealParams(name, b.params, declarations, warn);
      if (declaration) declarations.push({ ...declaration, ...(opts.reconnect ? { reconnect: opts.reconnect } : {}) });
      pkcs11Specs.push({ index: i, spec });
    } else if (b.type !== SHAMIR) {
      throw new SealConfigError(`seal "${b.type}" is not supported (supported: pkcs11, shamir)`);
    }
  });
  if (new Set(names).size !== names.length) throw new SealConfigError("two seal blocks have the same name; set name = \"…\" in each");
  const registry = declarations.length > 0 ? new HsmRegistry(declarations) : undefined;
  const km = registry ? new Pkcs11KeyManager({ tokens: registry }) : undefined;
  const seals: ConfiguredSeal[] = blocks.map((b, i) => {
    const name = names[i];
    const p = pkcs11Specs.find((x) => x.index === i);
    if (p && km && registry) {
      // Health follows the seal's token; only a token already opened is probed (opening it is auto-unseal's job).
      const hsm = p.spec.hsm;
      const device = { health: () => registry.openedToken(hsm)?.health, probe: async () => (await registry.openedToken(hsm)?.probe()) ?? false };
      return { name, type: b.type, disabled: b.disabled, auto: new Pkcs11Seal(p.spec, km, device) };
    }
    return { name, type: b.type, disabled: b.disabled };
  });
  return {
    seals,
    ...(registry ? { registry } : {}),
    ...(km ? { keyManager: km } : {}),
    close: async () => {
      await km?.close();
      registry?.close();
    },
  };
}
