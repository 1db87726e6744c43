/** sys/mounts and sys/auth: enable, disable, read, tune (one implementation for both tables). */
import { ArcaError } from "../../common/errors.js";
import { definePath } from "../framework/path.js";
import { parseFields, type Fields } from "../framework/fields.js";
import { effectiveUserLockout, isReservedSecretPath, newMount, normaliseMountPath, type MountConfig, type MountTable, type UserLockoutConfig } from "../mounts.js";
import type { Core } from "../core.js";
import type { Namespace } from "../namespaces/namespace.js";
import type { PathSpec } from "../framework/path.js";
import { renderMount, renderMountConfig } from "./render.js";

const CONFIG_FIELDS = {
  default_lease_ttl: { type: "duration" },
  max_lease_ttl: { type: "duration" },
  force_no_cache: { type: "bool" },
  listing_visibility: { type: "string", allowed: ["", "unauth", "hidden"] },
  passthrough_request_headers: { type: "strings" },
  allowed_response_headers: { type: "strings" },
  audit_non_hmac_request_keys: { type: "strings" },
  audit_non_hmac_response_keys: { type: "strings" },
  token_type: { type: "string", allowed: ["default-service", "default-batch", "service", "batch"] },
  allowed_managed_keys: { type: "strings", description: "Managed keys (sys/managed-keys) this mount may use." },
  user_lockout_config: { type: "object", description: "User lockout: lockout_threshold, lockout_duration, lockout_counter_reset_duration, lockout_disable." },
} satisfies Fields;

const USER_LOCKOUT_FIELDS = {
  lockout_threshold: { type: "int" },
  lockout_duration: { type: "duration" },
  lockout_counter_reset_duration: { type: "duration" },
  lockout_disable: { type: "bool" },
} satisfies Fields;

/** Auth types that implement user lockout (OpenBao also lists ldap and approle, which Arca does not lock). */
const USER_LOCKOUT_TYPES = new Set(["userpass"]);

/** OpenBao's user_lockout_config: the fields given replace the mount's, the others stay. */
function applyUserLockout(current: UserLockoutConfig | undefined, raw: Record<string, unknown>, mountType: string): UserLockoutConfig {
  if (!USER_LOCKOUT_TYPES.has(mountType)) {
    throw new ArcaError("invalid_request", `tuning of user lockout configuration for auth type "${mountType}" not allowed`);
  }
  const unknown = Object.keys(raw).filter((k) => !(k in USER_LOCKOUT_FIELDS));
  if (unknown.length > 0) throw new ArcaError("invalid_request", `unknown user lockout settings: ${unknown.join(", ")}`);
  const f = parseFields(USER_LOCKOUT_FIELDS, raw, {});
  const next: UserLockoutConfig = { ...current };
  if (f.lockout_threshold !== undefined) {
    if (f.lockout_threshold < 1) throw new ArcaError("invalid_request", "lockout_threshold must be at least 1 (lockout_disable turns lockout off)");
    next.threshold = f.lockout_threshold;
  }
  if (f.lockout_duration !== undefined) next.durationSeconds = f.lockout_duration;
  if (f.lockout_counter_reset_duration !== undefined) next.counterResetSeconds = f.lockout_counter_reset_duration;
  if (f.lockout_disable !== undefined) next.disabled = f.lockout_disable;
  return next;
}

/** The tune view of a mount's lockout settings (effective values), when it has any, as OpenBao shows them. */
function renderUserLockout(config: UserLockoutConfig | undefined): Record<string, unknown> {
  if (!config) return {};
  const c = effectiveUserLockout(config);
  return {
    user_lockout_threshold: c.threshold,
    user_lockout_duration: c.durationSeconds,
    user_lockout_counter_reset_duration: c.counterResetSeconds,
    user_lockout_disable: c.disabled,
  };
}

/** Applies the config fields a caller sent onto a mount config. */
function applyConfig(target: MountConfig, raw: Record<string, unknown>, mountType: string): MountConfig {
  const present = Object.fromEntries(Object.entries(raw).filter(([k, v]) => k in CONFIG_FIELDS && v !== undefined && v !== null));
  const f = parseFields(CONFIG_FIELDS, present, {});
  const next = { ...target };
  if (f.default_lease_ttl !== undefined) next.defaultLeaseTtl = f.default_lease_ttl;
  if (f.max_lease_ttl !== undefined) next.maxLeaseTtl = f.max_lease_ttl;
  if (f.force_no_cache !== undefined) next.forceNoCache = f.force_no_cache;
  if (f.listing_visibility !== undefined) next.listingVisibility = f.listing_visibility;
  if (f.passthrough_request_headers !== undefined) next.passthroughRequestHeaders = f.passthrough_request_headers;
  if (f.allowed_response_headers !== undefined) next.allowedResponseHeaders = f.allowed_response_headers;
  if (f.audit_non_hmac_request_keys !== undefined) next.auditNonHmacRequestKeys = f.audit_non_hmac_request_keys;
  if (f.audit_non_hmac_response_keys !== undefined) next.auditNonHmacResponseKeys = f.audit_non_hmac_response_keys;
  if (f.token_type !== undefined) next.tokenType = f.token_type;
  if (f.allowed_managed_keys !== undefined) next.allowedManagedKeys = f.allowed_managed_keys;
  if (f.user_lockout_config !== undefined) next.userLockout = applyUserLockout(target.userLockout, f.user_lockout_config, mountType);
  if (next.maxLeaseTtl > 0 && next.defaultLeaseTtl > next.maxLeaseTtl) {
    throw new ArcaError("invalid_request", "default lease TTL cannot be larger than max lease TTL");
  }
  return next;
}

/** Resolves the type aliases clients use: kv-v2, kv-v1, generic. */
function resolveType(type: string, options: Record<string, string>): { type: string; options: Record<string, string> | null } {
  switch (type) {
    case "kv-v2":
      return { type: "kv", options: { ...options, version: "2" } };
    case "kv-v1":
    case "generic":
      return { type: "kv", options: { ...options, version: "1" } };
    case "kv":
      return { type: "kv", options: { version: "1", ...options } };
    default:
      return { type, options: Object.keys(options).length ? options : null };
  }
}

const MOUNT_FIELDS = {
  path: { type: "string", required: true, description: "The path to mount to, e.g. secret/" },
  type: { type: "string", description: "The type of the backend, e.g. kv" },
  description: { type: "string", default: "", description: "User-friendly description for this mount" },
  config: { type: "object", description: "Configuration for this mount, such as default_lease_ttl and max_lease_ttl" },
  options: { type: "map", description: "Engine-specific options, such as version for kv" },
  local: { type: "bool", default: false },
  seal_wrap: { type: "bool", default: false },
  external_entropy_access: { type: "bool", default: false },
  plugin_version: { type: "string" },
  plugin_name: { type: "string", deprecated: true },
} satisfies Fields;

const TUNE_FIELDS = {
  path: { type: "string", required: true },
  description: { type: "string" },
  options: { type: "map" },
  ...CONFIG_FIELDS,
} satisfies Fields;

export function mountPaths(ns: Namespace, core: Core, table: MountTable): PathSpec[] {
  const root = table === "auth" ? "auth" : "mounts";
  const what = table === "auth" ? "auth method" : "secrets engine";
  const find = (raw: string) => {
    const path = normaliseMountPath(raw);
    return ns.mounts(table).find((m) => m.path === path);
  };
  return [
    definePath({
      pattern: root,
      synopsis: `List the currently enabled ${what}s.`,
      operations: {
        read: async () => ({ data: Object.fromEntries(ns.mounts(table).map((m) => [m.path, renderMount(m)])) }),
      },
    }),
    definePath({
      pattern: `${root}/:path+`,
      fields: MOUNT_FIELDS,
      synopsis: `Enable, read or disable a ${what}.`,
      operations: {
        read: async ({ fields }) => {
          const m = find(fields.path);
          if (!m) throw new ArcaError("invalid_request", `No ${what} mounted at ${fields.path}`);
          return { data: renderMount(m) };
        },
        update: async ({ fields }) => {
          const path = normaliseMountPath(fields.path);
          if (!fields.type) throw new ArcaError("invalid_request", "backend type must be specified as a string");
          if (table === "secret" && isReservedSecretPath(path)) throw new ArcaError("invalid_request", `cannot mount at reserved path "${path}"`);
          if (table === "auth" && path === "token/") throw new ArcaError("invalid_request", "token credential backend cannot be instantiated");
          const { type, options } = resolveType(fields.type, fields.options ?? {});
          if (!core.hasEngine(type) || type === "system" || type === "token" || type === "cubbyhole") {
            throw new ArcaError("invalid_request", `plugin not found in the catalog: ${fields.type}`);
          }
          const entry = newMount(table, path, type, {
            description: fields.description,
            options,
            local: fields.local,
            sealWrap: fields.seal_wrap,
            externalEntropyAccess: fields.external_entropy_access,
          });
          entry.config = applyConfig(entry.config, fields.config ?? {}, entry.type);
          await ns.mount(entry);
          return undefined;
        },
        delete: async ({ fields }) => {
          await ns.unmount(table, normaliseMountPath(fields.path));
          return undefined;
        },
      },
    }),
    definePath({
      pattern: `${root}/:path+/tune`,
      fields: TUNE_FIELDS,
      synopsis: `Tune the configuration of a ${what}.`,
      operations: {
        read: async ({ fields }) => {
          const m = find(fields.path);
          if (!m) throw new ArcaError("invalid_request", `cannot fetch sysview for path "${fields.path}"`);
          return { data: { ...renderMountConfig(m), ...renderUserLockout(m.config.userLockout), description: m.description, options: m.options } };
        },
        update: async ({ fields, req }) => {
          const m = find(fields.path);
          if (!m) throw new ArcaError("invalid_request", `cannot tune "${fields.path}": no mount there`);
          const next = { ...m, config: applyConfig(m.config, req.data, m.type) };
          if (fields.description !== undefined) next.description = fields.description;
          if (fields.options !== undefined) {
            const merged = { ...(m.options ?? {}), ...fields.options };
            if (m.type === "kv" && m.options?.version === "2" && merged.version === "1") {
              throw new ArcaError("invalid_request", "cannot downgrade mount from KV version 2");
            }
            next.options = merged;
          }
          await ns.updateMount(next);
          // A grant this mount had may be gone: key checks cached under the old config are dropped.
          core.custody?.invalidate();
          return undefined;
        },
      },
    }),
  ];
}
