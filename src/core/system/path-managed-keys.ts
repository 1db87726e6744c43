/**
 * sys/managed-keys/pkcs11/:name (Vault Enterprise's shape): the operator grants a pre-existing HSM object to
 * the namespace the request runs in; mounts there may then use it once allowed (`allowed_managed_keys` on
 * tune, or `any_mount`). Grants are the server operator's: only tokens of the root namespace make or remove
 * them (a tenant admin writes its own policies, so a policy cannot be what stops it); a namespace's own tokens
 * may read and list what was granted to it. Keys owned by a mount or a seal are never grantable.
 */
import { ArcaError, notFound } from "../../common/errors.js";
import { definePath, type PathSpec } from "../framework/path.js";
import { ROOT_NAMESPACE, type Request } from "../framework/request.js";
import type { Core } from "../core.js";
import type { Namespace } from "../namespaces/namespace.js";
import {
  checkManagedKeyName,
  listManagedKeys,
  loadManagedKey,
  MANAGED_KEYS_PREFIX,
  saveManagedKey,
  type ManagedKeyEntry,
} from "../key-custody/managed-keys.js";
import type { KeyIdentity } from "../../hsm/key-manager.js";
import { formatPkcs11Uri, parsePkcs11Uri, uriCarriesPin } from "../../hsm/uri.js";

const TYPE_FIELD = { type: "string", required: true, allowed: ["pkcs11"], description: "The kind of key store: pkcs11." } as const;

function requireOperator(req: Request): void {
  if (req.caller?.namespace.id !== ROOT_NAMESPACE.id) {
    throw new ArcaError("permission_denied", "managed keys are granted by the server operator: a token of the root namespace is needed");
  }
}

/** The URI Arca uses from now on: the caller's, without PIN, naming the object's CKA_ID and class. */
function canonicalUri(raw: string, identity: KeyIdentity): string {
  const u = parsePkcs11Uri(raw);
  return formatPkcs11Uri({
    token: u.token,
    serial: u.serial,
    object: u.object,
    id: Buffer.from(identity.id, "hex"),
    type: identity.kind === "secret" ? "secret-key" : "private",
    moduleName: u.moduleName,
    modulePath: u.modulePath,
  });
}

function render(e: ManagedKeyEntry): Record<string, unknown> {
  const u = parsePkcs11Uri(e.uri);
  return {
    name: e.name,
    type: e.type,
    uri: e.uri,
    key_label: u.object ?? "",
    key_id: `0x${e.identity.id}`,
    token_label: u.token ?? "",
    any_mount: e.anyMount,
    created_at: e.createdAt,
  };
}

export function managedKeyPaths(ns: Namespace, core: Core): PathSpec[] {
  const custody = (): NonNullable<typeof core.custody> => {
    const c = core.custody;
    if (!c) throw new ArcaError("invalid_request", "no HSM is declared on this server: managed keys need one (hsm block)");
    return c;
  };
  return [
    definePath({
      pattern: "managed-keys/:type",
      fields: { type: TYPE_FIELD },
      synopsis: "List the managed keys granted to this namespace.",
      operations: {
        list: async () => ({ data: { keys: await listManagedKeys(ns.store) } }),
      },
    }),
    definePath({
      pattern: "managed-keys/:type/:name",
      fields: {
        type: TYPE_FIELD,
        name: { type: "string", required: true, description: "The managed key's name." },
        uri: { type: "string", description: "PKCS#11 URI (RFC 7512) of the key in a declared HSM, without PIN." },
        any_mount: { type: "bool", default: false, description: "Any mount of the namespace may use it, without allowed_managed_keys." },
      },
      synopsis: "Grant a pre-existing HSM key to this namespace (operator only), read or revoke the grant.",
      existenceCheck: async ({ fields }) => (await loadManagedKey(ns.store, fields.name)) !== undefined,
      operations: {
        read: async ({ fields }) => {
          const e = await loadManagedKey(ns.store, fields.name);
          if (!e) throw notFound();
          return { data: render(e) };
        },
        create: async ({ fields, req }) => {
          requireOperator(req);
          const name = checkManagedKeyName(fields.name);
          const uri = fields.uri ?? "";
          if (!uri.startsWith("pkcs11:")) throw new ArcaError("invalid_request", "uri must be a PKCS#11 URI (pkcs11:token=…;object=…)");
          if (uriCarriesPin(uri)) throw new ArcaError("invalid_request", "uri must not carry a PIN (pin-value, pin-source): the server's hsm block holds it");
          const identity = await custody().checkGrantable(uri);
          const entry: ManagedKeyEntry = { name, type: "pkcs11", uri: canonicalUri(uri, identity), identity, anyMount: fields.any_mount, createdAt: new Date().toISOString() };
          await saveManagedKey(ns.store, entry);
          custody().invalidate();
          return { data: render(entry) };
        },
        update: async (ctx) => {
          const { fields, req } = ctx;
          requireOperator(req);
          const e = await loadManagedKey(ns.store, fields.name);
          if (!e) throw notFound();
          if (fields.uri !== undefined && fields.uri !== e.uri) throw new ArcaError("invalid_request", "a managed key's uri cannot change: delete it and grant the new key");
          const next = { ...e, anyMount: ctx.has("any_mount") ? fields.any_mount : e.anyMount };
          await saveManagedKey(ns.store, next);
          custody().invalidate();
          return { data: render(next) };
        },
        delete: async ({ fields, req }) => {
          requireOperator(req);
          await ns.store.delete(MANAGED_KEYS_PREFIX + checkManagedKeyName(fields.name));
          custody().invalidate();
          return undefined;
        },
      },
    }),
  ];
}
