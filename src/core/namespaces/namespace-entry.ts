/**
 * The stored form of a namespace: one entry per namespace at `core/namespaces/<uuid>` in the server's
 * barrier (no single table, so thousands of namespaces cost one small entry each), and the names rules.
 */
import { ArcaError } from "../../common/errors.js";
import { ROOT_NAMESPACE } from "../framework/request.js";

/** A sealable namespace's keyring protection: its root key, encrypted inside the tenant's HSM key. */
export interface Pkcs11SealEntry {
  type: "pkcs11";
  /** PKCS#11 URI of the tenant's AES key (customer root key). */
  keyUri: string;
  /** AES-GCM of the namespace root key under that key; base64. */
  iv: string;
  ciphertext: string;
  tag: string;
  /** Sealed by an operator: stays sealed across restarts until someone unseals it. */
  sealedByOperator?: boolean;
}

/** Or: its root key wrapped by a keychain L1 of a mount in the parent namespace (namespace-key-source.ts). */
export interface KeychainSealEntry {
  type: "keychain";
  /** The keychain mount's route in the parent namespace ("kc/"). */
  mount: string;
  /** The L1 key's name, its random id and the version that wrapped the root key. */
  key: string;
  keyId: string;
  version: number;
  /** base64 of the root key wrapped through the L1's keystore. */
  blob: string;
  sealedByOperator?: boolean;
}

export type NamespaceSealEntry = Pkcs11SealEntry | KeychainSealEntry;

export interface NamespaceEntry {
  uuid: string;
  /** Six base62 characters; suffix of this namespace's tokens and accessors. */
  id: string;
  /** Full path ending in "/" ("" for root). */
  path: string;
  parentUuid: string | undefined;
  customMetadata: Record<string, string>;
  /** SHA-256 (hex) of the unlock key while the API is locked. */
  lockHash?: string;
  seal?: NamespaceSealEntry;
}

/** The root namespace's id and uuid (one source: the request layer's ROOT_NAMESPACE). */
export const ROOT_NAMESPACE_ID = ROOT_NAMESPACE.id;
export const NAMESPACE_TABLE_PREFIX = "core/namespaces/";

/** Where a child namespace's entries live in the key space (below the barrier or raw, when sealable). */
export function namespaceStoragePrefix(uuid: string): string {
  return `namespaces/${uuid}/`;
}

const RESERVED_NAMES = new Set([".", "..", "root", "sys", "audit", "auth", "cubbyhole", "identity"]);

/** Checks one path segment as a namespace name (OpenBao's rules). */
export function checkNamespaceName(name: string): void {
  if (name === "" || name.length > 128 || /[\s/]/.test(name) || RESERVED_NAMES.has(name) || /[^\w.-]/.test(name)) {
    throw new ArcaError("invalid_request", `invalid namespace name "${name.slice(0, 128)}": names use letters, digits, "-", "_" and ".", and may not be a reserved word`);
  }
}

/** "a/b", "/a/b/", "a//b" → ["a", "b"]; "" → []. */
export function namespaceSegments(raw: string): string[] {
  // Runs on every request with X-Vault-Namespace: a plain loop, no closure. A blank segment (" ") is kept
  // and matches nothing, since names cannot contain whitespace.
  const out: string[] = [];
  for (const s of raw.split("/")) if (s !== "") out.push(s);
  return out;
}

/** X-Vault-Namespace's segments: as a path, except that "root" (or "root/") names the root namespace. */
export function headerSegments(raw: string): string[] {
  const segs = namespaceSegments(raw);
  return segs.length === 1 && segs[0] === "root" ? [] : segs;
}

/** What the API shows of a namespace (sys/namespaces read, list key_info). */
export function renderNamespace(entry: NamespaceEntry, relativeTo: string, sealed: boolean): Record<string, unknown> {
  return {
    uuid: entry.uuid,
    id: entry.id,
    path: entry.path.slice(relativeTo.length),
    tainted: false,
    locked: entry.lockHash !== undefined,
    custom_metadata: entry.customMetadata,
    ...(entry.seal ? { sealable: true, sealed, seal_type: entry.seal.type, ...sealKeyFields(entry.seal) } : {}),
  };
}

/** Which key seals the namespace, as the API names it (never material). */
function sealKeyFields(seal: NamespaceSealEntry): Record<string, string> {
  return seal.type === "pkcs11" ? { key_uri: seal.keyUri } : { keychain_mount: seal.mount, key: seal.key };
}

/** Prefixes of OpenBao's token types ("hvs.", legacy "s.", batch "hvb."/"b.", recovery "hvr."). */
const TOKEN_TYPE_PREFIXES = new Set(["hvs", "s", "hvb", "b", "hvr"]);

/** The namespace id a token ends in (`hvs.<24>.<id>`, a custom `<name>.<id>`), or root's. */
export function tokenNamespaceId(token: string): string {
  const dot = token.lastIndexOf(".");
  if (dot < 0 || TOKEN_TYPE_PREFIXES.has(token.slice(0, dot))) return ROOT_NAMESPACE_ID;
  return token.slice(dot + 1);
}

/** The namespace id an accessor ends in (`<24>.<id>`), or root's. */
export function accessorNamespaceId(accessor: string): string {
  const dot = accessor.lastIndexOf(".");
  return dot < 0 ? ROOT_NAMESPACE_ID : accessor.slice(dot + 1);
}
