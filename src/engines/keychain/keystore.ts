/**
 * The keystore-provider seam of the keychain engine: where L1 (customer root) keys live, and the only
 * operations the engine ever asks of them. The engine never sees L1 material: it hands L2 material to the
 * provider to wrap under one L1 *version*, and hands the blob back to unwrap it.
 *
 * A keystore type (pkcs11, software, transit, a plugin …) is one object implementing KeystoreType, listed in
 * keystore-types.ts: adding a type is one new file plus one line there. The engine stores, per keystore, the
 * `config` the type parsed (shown on GET) and its `secrets` (never shown back: tokens, PINs), and per L1
 * version the opaque `L1Ref` the provider returned. Everything a provider returns is stored barrier-encrypted.
 *
 * Crypto-shredding relies on two rules every provider keeps:
 *   - `destroy(ref)` makes the version's material unusable forever (the HSM object is deleted, the software
 *     record erased); a later key of the same name is a new object with a new reference.
 *   - `wrap`/`unwrap` authenticate `aad`, which the engine builds from the L1 key's random id and version and
 *     the L2's id — not from names — so a blob never unwraps under another key or another version.
 */
import type { KeyValueStore } from "../../storage/storage.js";
import type { KeyManager } from "../../hsm/key-manager.js";
import type { BackendLogger } from "../../core/framework/system-view.js";

/** Who made the L1 material: generated in the keystore, imported (BYOK), or held by the customer (HYOK). */
export type KeyOrigin = "generated" | "byok" | "hyok";

export const KEY_ORIGINS: readonly KeyOrigin[] = ["generated", "byok", "hyok"];

/** L1 algorithms (OpenKCM's names). Wrapping L2 needs AES256; RSA keys are for providers that wrap with them. */
export type L1Algorithm = "AES256" | "RSA3072" | "RSA4096";

export const L1_ALGORITHMS: readonly L1Algorithm[] = ["AES256", "RSA3072", "RSA4096"];

/** What a probe of a key version found: usable, access withdrawn, or not reachable / not answering. */
export type ProbeResult = "ENABLED" | "FORBIDDEN" | "UNKNOWN";

/**
 * A provider's reference to one L1 version: opaque to the engine, stored with the version. `uri` names the
 * object in the keystore (a PKCS#11 URI, a Transit key name + version, a software record id); `owned` says
 * the engine made it and so destroys it (a HYOK key the customer holds is never destroyed by us).
 */
export interface L1Ref {
  uri: string;
  owned: boolean;
  /** Provider-specific extras (e.g. a Transit key version); strings only, stored as-is. */
  extra?: Record<string, string>;
}

/** What a provider may use besides its own configuration. */
export interface KeystoreContext {
  /** The mount's custody-scoped HSM key manager (view.keyManager); undefined when no HSM is declared. */
  keyManager: KeyManager | undefined;
  /** The mount's storage, as the current request sees it (for providers that keep records, e.g. software). */
  storage: KeyValueStore;
  /** The mount (or the server, in dev mode) explicitly allows the development-only software keystore. */
  allowSoftware: boolean;
  logger: BackendLogger;
}

/** A keystore as stored: the parsed public config and the secrets (never returned by the API). */
export interface KeystoreSettings {
  type: string;
  config: Record<string, string>;
  secrets: Record<string, string>;
}

/** BYOK: what the customer needs to wrap their key for this keystore (keys/:name/import-params). */
export interface ImportParams {
  /** PEM SPKI of the RSA wrapping key (made inside the keystore). */
  publicKey: string;
  /** Reference to the wrapping key, kept with the pending import (opaque, like L1Ref). */
  wrappingKey: L1Ref;
}

/** One opened keystore: the operations the engine performs on L1 keys. Errors are ArcaErrors (4xx/5xx). */
export interface KeystoreProvider {
  /** Makes a new L1 key (or a new version of one) inside the keystore; `label` is for operators only. */
  createKey(req: { label: string; algorithm: L1Algorithm }): Promise<L1Ref>;
  /** Authenticated encryption of L2 material under the L1 version `ref`, bound to `aad`. */
  wrap(ref: L1Ref, plaintext: Buffer, aad: Buffer): Promise<Buffer>;
  /** The inverse of wrap; a wrong key, version, aad or a tampered blob is an error, never garbage. */
  unwrap(ref: L1Ref, blob: Buffer, aad: Buffer): Promise<Buffer>;
  /** Is the version usable right now? Never throws: an unreachable store is UNKNOWN. */
  probe(ref: L1Ref): Promise<ProbeResult>;
  /** Destroys the version's material for good (owned refs only; the engine never calls it on others). */
  destroy(ref: L1Ref): Promise<void>;
  /** HYOK: check and refer to a key the customer holds (`native_id`: a key URI or Transit key name). */
  attach?(nativeId: string, algorithm: L1Algorithm): Promise<L1Ref>;
  /** BYOK step 1: make a wrapping key pair in the keystore and return its public half. */
  importParams?(req: { label: string; algorithm: L1Algorithm }): Promise<ImportParams>;
  /** BYOK step 2: unwrap the customer's material with the wrapping key into a new, non-extractable L1. */
  importKey?(req: { label: string; algorithm: L1Algorithm; wrappingKey: L1Ref; wrappedKeyMaterial: Buffer }): Promise<L1Ref>;
}

/** A kind of keystore: validates `keystores/:name` input and opens stored keystores. */
export interface KeystoreType {
  /** The `type` field value, e.g. "pkcs11". */
  readonly type: string;
  /** Origins its keys may have (generated, byok, hyok). */
  readonly origins: readonly KeyOrigin[];
  /**
   * Validates the POST body of `keystores/:name` (already a plain object of strings/values) and splits it
   * into public config and secrets. Throws invalidRequest on bad input; may refuse (e.g. software outside
   * dev). Async so a type can check reachability before accepting.
   */
  parse(input: Record<string, unknown>, ctx: KeystoreContext): Promise<Omit<KeystoreSettings, "type">>;
  /** Opens a stored keystore for one request (cheap; no connection is kept by the engine). */
  open(settings: KeystoreSettings, ctx: KeystoreContext): KeystoreProvider;
}

/** The keystore types one engine instance knows, by `type`. */
export class KeystoreRegistry {
  private readonly types = new Map<string, KeystoreType>();

  constructor(types: readonly KeystoreType[] = []) {
    for (const t of types) this.register(t);
  }

  register(t: KeystoreType): void {
    if (this.types.has(t.type)) throw new Error(`keystore type ${t.type} registered twice`);
    this.types.set(t.type, t);
  }

  get(type: string): KeystoreType | undefined {
    return this.types.get(type);
  }

  names(): string[] {
    return [...this.types.keys()].sort();
  }
}
