/**
 * sys/namespaces (OpenBao ≥ 2.3): create, read, list/scan, patch and delete namespaces below the calling
 * one; the API lock; and, beyond OpenBao, the seal of namespaces whose keyring the tenant's HSM key holds.
 * Paths are relative to the calling namespace.
 */
import { ArcaError } from "../../common/errors.js";
import { definePath, type PathSpec } from "../framework/path.js";
import type { Response } from "../framework/request.js";
import type { Core } from "../core.js";
import type { Namespace } from "../namespaces/namespace.js";
import { renderNamespace, type NamespaceSealEntry } from "../namespaces/namespace-entry.js";
import type { SealSpec } from "../namespaces/namespace-seal.js";
import { uriCarriesPin } from "../../hsm/uri.js";

const PATH_FIELD = { path: { type: "string", required: true, description: "Path of the namespace, relative to the calling one." } } as const;

function describe(ns: Namespace): Record<string, unknown> {
  return renderNamespace(ns.entry, "", ns.sealed);
}

/** custom_metadata: a map of strings (null deletes a key in a PATCH). */
function metadataOf(raw: unknown, allowNull: boolean): Record<string, string | null> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) throw new ArcaError("invalid_request", "custom_metadata must be an object of strings");
  const out: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v === "string" || (allowNull && v === null)) out[k] = v;
    else throw new ArcaError("invalid_request", `custom_metadata.${k.slice(0, 64)} must be a string`);
  }
  return out;
}

const SEAL_EXAMPLE = '{"type": "pkcs11", "key_uri": "pkcs11:token=...;object=..."} or {"type": "keychain", "mount": "kc", "key": "tenant-l1"}';

/**
 * The `seal` document of a sealable namespace (or that as a JSON string): `{"type": "pkcs11", "key_uri":
 * "pkcs11:..."}`, or `{"type": "keychain", "mount": "kc", "key": "tenant-l1"}` for a keychain L1 in a mount
 * of the parent namespace.
 */
function sealSpecOf(raw: unknown): SealSpec | undefined {
  if (raw === undefined || raw === null || raw === "") return undefined;
  let doc: unknown = raw;
  if (typeof raw === "string") {
    try {
      doc = JSON.parse(raw) as unknown;
    } catch {
      throw new ArcaError("invalid_request", `seal must be a JSON object like ${SEAL_EXAMPLE}`);
    }
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw new ArcaError("invalid_request", "seal must be an object");
  const { type, key_uri: keyUri, mount, key } = doc as { type?: unknown; key_uri?: unknown; mount?: unknown; key?: unknown };
  if (type === "keychain") return keychainSealOf(mount, key);
  if (type !== "pkcs11") throw new ArcaError("invalid_request", `unsupported namespace seal type ${JSON.stringify(type)}: use "pkcs11" (an HSM key) or "keychain" (a keychain L1)`);
  if (typeof keyUri !== "string" || !keyUri.startsWith("pkcs11:")) throw new ArcaError("invalid_request", "seal.key_uri must be a PKCS#11 URI (pkcs11:...)");
  // The URI is stored, shown by sys/namespaces and named in errors: it must not carry the token's PIN
  // (the PIN belongs to the server's hsm block).
  if (uriCarriesPin(keyUri)) throw new ArcaError("invalid_request", "seal.key_uri must not carry a PIN (pin-value, pin-source): the server's hsm block holds it");
  return { type: "pkcs11", keyUri };
}

const KEYCHAIN_NAME = /^[\w.-]{1,128}$/;

function keychainSealOf(mount: unknown, key: unknown): SealSpec {
  const route = typeof mount === "string" ? mount.replace(/^\/+|\/+$/g, "") : "";
  if (!route || route.split("/").some((seg) => !KEYCHAIN_NAME.test(seg))) throw new ArcaError("invalid_request", "seal.mount must be the path of a keychain mount in the parent namespace");
  if (typeof key !== "string" || !KEYCHAIN_NAME.test(key)) throw new ArcaError("invalid_request", "seal.key must be the name of an L1 key of that mount");
  return { type: "keychain", mount: `${route}/`, key };
}

function sameSeal(spec: SealSpec, entry: NamespaceSealEntry | undefined): boolean {
  if (spec.type === "pkcs11") return entry?.type === "pkcs11" && entry.keyUri === spec.keyUri;
  return entry?.type === "keychain" && entry.mount === spec.mount && entry.key === spec.key;
}

function sealStatus(ns: Namespace): Record<string, unknown> {
  return {
    type: ns.entry.seal?.type ?? "",
    initialized: true,
    sealed: ns.sealed,
    t: 1,
    n: 1,
    progress: 0,
    nonce: "",
    ...(ns.sealed && ns.sealHandle?.reason ? { sealed_reason: ns.sealHandle.reason } : {}),
  };
}

export function namespacePaths(ns: Namespace, core: Core): PathSpec[] {
  const registry = core.namespaces;
  const existing = (path: string): Namespace => {
    const found = registry.find(ns, path);
    if (!found || found === ns) throw new ArcaError("not_found", "namespace not found");
    return found;
  };
  const list = (recursive: boolean): Response => {
    const found = recursive ? ns.descendants() : [...ns.children.values()];
    if (found.length === 0) return {};
    const keyOf = (n: Namespace): string => n.path.slice(ns.path.length);
    const sorted = found.sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
    return { data: { keys: sorted.map(keyOf), key_info: Object.fromEntries(sorted.map((n) => [keyOf(n), describe(n)])) } };
  };
  const lockTarget = (path: string | undefined): Namespace => (path ? existing(path) : ns);

  return [
    definePath({
      pattern: "namespaces",
      synopsis: "List (or with SCAN, list recursively) the namespaces below the calling one.",
      operations: {
        list: async () => list(false),
        scan: async () => list(true),
      },
    }),
    definePath({
      pattern: "namespaces/api-lock/lock/:path*",
      fields: { path: { type: "string", default: "" } },
      synopsis: "Lock the API of the calling namespace, or of a namespace below it; returns the unlock key.",
      operations: {
        update: async ({ fields }) => ({ data: { unlock_key: await registry.lock(lockTarget(fields.path)) } }),
      },
    }),
    definePath({
      pattern: "namespaces/api-lock/unlock/:path*",
      fields: { path: { type: "string", default: "" }, unlock_key: { type: "string" } },
      synopsis: "Unlock a namespace's API with the key the lock returned (sudo needs none).",
      operations: {
        update: async ({ fields, req }) => {
          await registry.unlock(lockTarget(fields.path), fields.unlock_key, !fields.unlock_key && req.sudo === true);
          return undefined;
        },
      },
    }),
    definePath({
      pattern: "namespaces/:path+/seal-status",
      fields: PATH_FIELD,
      synopsis: "Seal status of a sealable namespace.",
      operations: { read: async ({ fields }) => ({ data: sealStatus(existing(fields.path)) }) },
    }),
    definePath({
      pattern: "namespaces/:path+/seal",
      fields: PATH_FIELD,
      synopsis: "Seal a sealable namespace (and everything below it); it stays sealed across restarts.",
      operations: {
        update: async ({ fields }) => {
          await registry.seal(existing(fields.path));
          return undefined;
        },
      },
    }),
    definePath({
      pattern: "namespaces/:path+/unseal",
      fields: { ...PATH_FIELD, key: { type: "string" }, reset: { type: "bool" } },
      synopsis: "Unseal a sealable namespace with its tenant key in the HSM.",
      operations: {
        update: async ({ fields }) => {
          const target = existing(fields.path);
          await registry.unseal(target);
          return { data: sealStatus(target) };
        },
      },
    }),
    definePath({
      pattern: "namespaces/:path+",
      fields: {
        ...PATH_FIELD,
        custom_metadata: { type: "any", description: "Map of string keys and values." },
        seal: { type: "any", description: `Sealable namespace: ${SEAL_EXAMPLE}, the tenant key that wraps its keyring.` },
      },
      synopsis: "Create, read, update the metadata of, or delete a namespace.",
      existenceCheck: async ({ fields }) => registry.find(ns, fields.path) !== undefined,
      operations: {
        read: async ({ fields }) => {
          const found = registry.find(ns, fields.path);
          return found && found !== ns ? { data: describe(found) } : undefined;
        },
        create: async ({ fields }) => {
          const created = await registry.create(ns, fields.path, {
            customMetadata: metadataOf(fields.custom_metadata, false) as Record<string, string>,
            seal: sealSpecOf(fields.seal),
          });
          return { data: describe(created) };
        },
        update: async ({ fields }) => {
          const target = existing(fields.path);
          const seal = sealSpecOf(fields.seal);
          if (seal !== undefined && !sameSeal(seal, target.entry.seal)) {
            throw new ArcaError("invalid_request", "the seal of an existing namespace cannot be changed");
          }
          if (fields.custom_metadata !== undefined) await registry.setMetadata(target, metadataOf(fields.custom_metadata, false) as Record<string, string>);
          return { data: describe(target) };
        },
        patch: async ({ fields }) => {
          const target = existing(fields.path);
          await registry.patchMetadata(target, metadataOf(fields.custom_metadata, true));
          return { data: describe(target) };
        },
        delete: async ({ fields }) => {
          const target = registry.find(ns, fields.path);
          if (!target || target === ns) return { warnings: ["requested namespace does not exist"] };
          await registry.delete(target);
          return undefined;
        },
      },
    }),
  ];
}
