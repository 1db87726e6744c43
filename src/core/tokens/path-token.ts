/**
 * The token store's endpoints (`auth/token/*`), wire-compatible with OpenBao's `vault/token_store.go`:
 * create (plain, orphan, against a role), lookup, renew and revoke (by token, self or accessor),
 * revoke-orphan, accessors, roles and tidy. Token entries are only ever touched through the core's
 * TokenStore; these handlers decide policy, TTL and parentage and shape the responses.
 */
import { ArcaError, notFound } from "../../common/errors.js";
import { definePath, type HandlerContext, type PathSpec } from "../framework/path.js";
import type { Fields } from "../framework/fields.js";
import type { AuthResponse, Response } from "../framework/request.js";
import type { Core } from "../core.js";
import type { Namespace } from "../namespaces/namespace.js";
import type { MountEntry } from "../mounts.js";
import { NON_ASSIGNABLE_POLICIES } from "../policy/builtin.js";
import { TokenStore } from "./token-store.js";
import type { TokenEntry, TokenRole } from "./token-entry.js";
import { calculateTtl, containsGlob, humanDuration, removeDuplicates, sanitizePolicies } from "./token-rules.js";
import { checkRoleName, leaseBounds, type Env } from "./token-env.js";
import { ROLE_FIELDS, roleData, writeRole } from "./token-roles.js";

const badRequest = (msg: string): ArcaError => new ArcaError("invalid_request", msg);

/** OpenBao's `displayNameSanitize`. */
const DISPLAY_NAME_SANITIZE = /[^a-zA-Z0-9-]/g;

const TIDY_WARNING = "Tidy operation successfully started. Any information from the operation will be printed to OpenBao's server logs.";

// ---- shared state for the handlers ----------------------------------------------------------------

function authFor(entry: TokenEntry, clientToken: string, leaseDuration: number): AuthResponse {
  return {
    clientToken,
    accessor: entry.accessor,
    policies: entry.policies,
    tokenPolicies: entry.policies,
    metadata: entry.meta,
    leaseDuration,
    renewable: entry.renewable && entry.expireTime > 0,
    entityId: entry.entityId,
    tokenType: entry.type,
    orphan: entry.parent === "",
    numUses: entry.numUses,
  };
}

function lookupData(entry: TokenEntry, id: string): Record<string, unknown> {
  const data: Record<string, unknown> = {
    accessor: entry.accessor,
    creation_time: entry.creationTime,
    creation_ttl: entry.creationTtl,
    display_name: entry.displayName,
    entity_id: entry.entityId,
    expire_time: null,
    explicit_max_ttl: entry.explicitMaxTtl,
    id,
    meta: Object.keys(entry.meta).length > 0 ? entry.meta : null,
    num_uses: entry.numUses,
    orphan: entry.parent === "",
    path: entry.path,
    policies: entry.policies,
    ttl: 0,
    type: entry.type,
  };
  if (entry.role) data.role = entry.role;
  if (entry.period > 0) data.period = entry.period;
  // Only tokens with a lease carry lease times (OpenBao: the root token has none).
  if (entry.expireTime > 0) {
    if (entry.lastRenewalTime) {
      data.last_renewal_time = Math.floor(entry.lastRenewalTime / 1000);
      data.last_renewal = new Date(entry.lastRenewalTime).toISOString();
    }
    data.expire_time = new Date(entry.expireTime).toISOString();
    data.ttl = TokenStore.ttlLeft(entry);
    data.renewable = entry.renewable;
    data.issue_time = new Date(entry.issueTime).toISOString();
  }
  return data;
}

async function policyWarnings(env: Env, policies: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of policies) if (!(await env.ns.policies.read(p))) out.push(`Policy "${p}" does not exist`);
  return out;
}

// ---- create -----------------------------------------------------------------------------------------

const CREATE_FIELDS = {
  display_name: { type: "string", description: "Name to associate with this token" },
  explicit_max_ttl: { type: "duration", description: "Explicit Max TTL of this token" },
  entity_alias: { type: "string", description: "Name of the entity alias to associate with this token" },
  num_uses: { type: "int", description: "Max number of uses for this token" },
  period: { type: "duration", description: "Renew period" },
  renewable: {
    type: "bool",
    default: true,
    description: "Allow token to be renewed past its initial TTL up to system/mount maximum TTL",
  },
  ttl: { type: "duration", description: "Time to live for this token" },
  lease: { type: "duration", description: "Use 'ttl' instead", deprecated: true },
  type: { type: "string", description: "Token type" },
  no_default_policy: { type: "bool", description: "Do not include default policy for this token" },
  id: { type: "string", description: "Value for the token" },
  meta: { type: "map", description: "Arbitrary key=value metadata to associate with the token" },
  no_parent: { type: "bool", description: "Create the token with no parent" },
  policies: { type: "strings", description: "List of policies for the token" },
  role_name: { type: "string", description: "Name of the role" },
} as const satisfies Fields;

type CreateCtx = HandlerContext<typeof CREATE_FIELDS>;

async function handleCreate(env: Env, ctx: CreateCtx, orphan: boolean, roleName: string): Promise<Response> {
  const { ns } = env;
  const { req, fields: f } = ctx;
  // A parent namespace's token acting here is looked up in its own store.
  const caller = await env.core.resolveCaller(req.caller);
  const parent = caller?.entry;
  if (!parent) throw badRequest("parent token lookup failed: no parent found");
  if (parent.type === "batch") throw badRequest("batch tokens cannot create more tokens");
  // -1 is a limited-use token on its last use: still limited.
  if (parent.numUses !== 0) throw badRequest("restricted use token cannot generate child tokens");

  let role: TokenRole | undefined;
  if (roleName !== "") {
    role = await ns.tokens.readRole(roleName);
    if (!role) throw badRequest(`unknown role ${roleName}`);
  }
  // Root or sudo on the requested path (OpenBao's SudoPrivilege), as the pipeline decided it.
  const isSudo = req.sudo === true;

  let typeStr = f.type ?? "";
  if (role) {
    if (role.tokenType === "default-batch" && typeStr === "") typeStr = "batch";
    else if (role.tokenType === "service" || role.tokenType === "batch") typeStr = role.tokenType;
  }
  if (typeStr === "batch") throw badRequest("batch tokens are not supported");
  if (typeStr !== "" && typeStr !== "service") throw badRequest("invalid 'token_type' value");

  const numUsesIn = f.num_uses ?? 0;
  if (numUsesIn < 0) throw badRequest("number of uses cannot be negative");
  if (f.entity_alias) {
    if (!role) throw badRequest("'entity_alias' is only allowed in combination with token role");
    const alias = f.entity_alias.toLowerCase();
    const allowed = role.allowedEntityAliases ?? [];
    if (!allowed.includes(alias) && !containsGlob(allowed, alias)) throw badRequest("invalid 'entity_alias' value");
    throw badRequest("entity aliases are not supported");
  }

  let renewable = f.renewable;
  let numUses = numUsesIn;
  let path = `auth/token/${req.mountPath}`;
  if (role) {
    if (renewable && !role.renewable) renewable = false;
    // 0 means unlimited, so any role limit is tighter than it.
    if (role.tokenNumUses > 0 && (numUses === 0 || role.tokenNumUses < numUses)) numUses = role.tokenNumUses;
    if (role.pathSuffix !== "") path = `${path}/${role.pathSuffix}`;
  }

  let displayName = "token";
  if (f.display_name) displayName = ("token-" + f.display_name).replace(DISPLAY_NAME_SANITIZE, "-").replace(/-$/, "");

  const id = f.id ?? "";
  if (id !== "") {
    if (!isSudo) throw badRequest("root or sudo privileges required to specify token id");
    if (id.startsWith("hvs.")) throw badRequest("custom token ID cannot have the 'hvs.' prefix");
    if (id.startsWith("s.")) throw badRequest("custom token ID cannot have the 's.' prefix");
    if (id.includes(".")) throw badRequest("custom token ID cannot have a '.' in the value");
  }

  // Policies, exactly as OpenBao decides them (including when "default" is added).
  const warnings: string[] = [];
  const noDefault = f.no_default_policy ?? false;
  let requested = f.policies ?? [];
  let addDefault = false;
  if (role && (role.allowedPolicies.length > 0 || role.disallowedPolicies.length > 0 || role.allowedPoliciesGlob.length > 0 || role.disallowedPoliciesGlob.length > 0)) {
    const localAddDefault =
      !noDefault && !role.tokenNoDefaultPolicy && !role.disallowedPolicies.includes("default") && !containsGlob(role.disallowedPoliciesGlob, "default");
    let final = requested.length > 0 ? sanitizePolicies(requested, localAddDefault) : [];
    if (role.allowedPolicies.length > 0 || role.allowedPoliciesGlob.length > 0) {
      const allowed = sanitizePolicies(role.allowedPolicies, localAddDefault);
      if (final.length === 0) final = allowed;
      else {
        const allowedGlob = sanitizePolicies(role.allowedPoliciesGlob, false);
        for (const p of final) {
          if (!allowed.includes(p) && !containsGlob(allowedGlob, p)) {
            throw badRequest(
              `token policies (${goQuoteList(final)}) must be subset of the role's allowed policies (${goQuoteList(allowed)}) or glob policies (${goQuoteList(allowedGlob)})`,
            );
          }
        }
      }
    } else if (final.length === 0) {
      final = sanitizePolicies(parent.policies, localAddDefault);
    }
    if (role.disallowedPolicies.length > 0 || role.disallowedPoliciesGlob.length > 0) {
      const dis = removeDuplicates(role.disallowedPolicies);
      const disGlob = removeDuplicates(role.disallowedPoliciesGlob);
      for (const p of final) {
        if (dis.includes(p) || containsGlob(disGlob, p)) throw badRequest(`token policy "${p}" is disallowed by this role`);
      }
    }
    requested = final;
  } else if (requested.length === 0) {
    // Inherit the parent's policies; "default" only if the parent has it.
    requested = sanitizePolicies(parent.policies, false);
  } else if (!isSudo) {
    const input = sanitizePolicies(requested, false);
    const mine = sanitizePolicies(parent.policies, false);
    if (!input.every((p) => mine.includes(p))) throw badRequest("child policies must be subset of parent");
    if (!noDefault && parent.policies.includes("default")) addDefault = true;
  } else {
    addDefault = !noDefault;
  }
  let policies = sanitizePolicies(requested, addDefault);
  if (noDefault) policies = policies.filter((p) => p !== "default");
  for (const p of policies) if (NON_ASSIGNABLE_POLICIES.includes(p)) throw badRequest(`cannot assign policy "${p}"`);
  if (policies.includes("root") && !parent.policies.includes("root")) {
    throw badRequest("root tokens may not be created without parent token being root");
  }

  // Parentage.
  let isOrphan = orphan;
  if (role) isOrphan = role.orphan;
  else if (f.no_parent) {
    if (!isSudo) throw badRequest("root or sudo privileges required to create orphan token");
    isOrphan = true;
  }

  // TTLs.
  const requestExplicitMaxTtl = f.explicit_max_ttl ?? 0;
  const requestPeriod = f.period ?? 0;
  let explicitMaxTtl = requestExplicitMaxTtl;
  let period = requestPeriod;
  if (period > 0 && !isSudo) throw badRequest("root or sudo privileges required to create periodic token");
  const ttlIn = f.ttl ?? f.lease ?? 0;
  if (role) {
    if (role.tokenExplicitMaxTtl !== 0) {
      if (explicitMaxTtl === 0) explicitMaxTtl = role.tokenExplicitMaxTtl;
      else {
        explicitMaxTtl = Math.min(explicitMaxTtl, role.tokenExplicitMaxTtl);
        warnings.push(`Explicit max TTL specified both during creation call and in role; using the lesser value of ${explicitMaxTtl} seconds`);
      }
    }
    if (role.tokenPeriod !== 0) {
      if (period === 0) period = role.tokenPeriod;
      else {
        period = Math.min(period, role.tokenPeriod);
        warnings.push(`Period specified both during creation call and in role; using the lesser value of ${period} seconds`);
      }
    }
  }
  const bounds = leaseBounds(env);
  let ttl = ttlIn;
  if (period > 0 || ttl > 0 || !policies.includes("root")) {
    const calc = calculateTtl({
      increment: 0,
      backendTtl: ttl,
      period,
      backendMaxTtl: 0,
      explicitMaxTtl,
      start: Math.floor(Date.now() / 1000),
      sysMaxTtl: bounds.max,
      sysDefaultTtl: bounds.def,
    });
    ttl = calc.ttl;
    warnings.push(...calc.warnings);
  }
  // Root tokens are still bound by an explicit max TTL.
  if (ttl === 0 && explicitMaxTtl > 0) ttl = explicitMaxTtl;
  if (ttl === 0) {
    if (parent.expireTime !== 0) throw badRequest("expiring root tokens cannot create non-expiring root tokens");
    renewable = false;
  }

  const { token, entry } = await ns.tokens.create({
    policies,
    parent,
    // A parent namespace's token creating one here: its entry is in that namespace's store.
    parentNamespace: caller.ns.id,
    orphan: isOrphan,
    id: id === "" ? undefined : id,
    path,
    meta: f.meta ?? {},
    displayName,
    numUses,
    ttl,
    // As OpenBao, the entry records only the period and explicit max TTL given in the request; a role's
    // are applied from the role on every renewal. The store derives a periodic token's first TTL from
    // its period, so bound it by the TTL computed above.
    period: requestPeriod,
    explicitMaxTtl: requestExplicitMaxTtl,
    maxTtl: requestPeriod > 0 ? ttl : undefined,
    renewable,
    noDefaultPolicy: noDefault,
    role: role?.name,
    boundCidrs: role?.tokenBoundCidrs,
  });
  warnings.push(...(await policyWarnings(env, entry.policies)));
  return { auth: authFor(entry, token, entry.ttl), warnings };
}

/** Go's %q of a []string: ["a" "b"]. */
function goQuoteList(items: readonly string[]): string {
  return `[${items.map((i) => JSON.stringify(i)).join(" ")}]`;
}

// ---- lookup / renew / revoke --------------------------------------------------------------------------

async function lookupToken(env: Env, token: string, id: string): Promise<Response> {
  const entry = await env.ns.tokens.lookup(token);
  if (!entry) throw new ArcaError("permission_denied", "bad token");
  return { data: lookupData(entry, id) };
}

async function renewEntry(env: Env, entry: TokenEntry | undefined, clientToken: string, increment: number): Promise<Response> {
  // A token on its last use (-1) is no longer valid for anything but the request it is serving.
  if (!entry || entry.numUses < 0) throw badRequest("token not found");
  if (entry.type === "batch") throw badRequest("batch tokens cannot be renewed");
  if (entry.expireTime === 0 || !entry.renewable) throw badRequest("lease is not renewable");
  let period = entry.period;
  let explicitMaxTtl = entry.explicitMaxTtl;
  if (entry.role) {
    const role = await env.ns.tokens.readRole(entry.role);
    if (!role) throw new ArcaError("internal", `original token role "${entry.role}" could not be found, not renewing`);
    period = role.tokenPeriod;
    explicitMaxTtl = role.tokenExplicitMaxTtl;
  }
  const bounds = leaseBounds(env);
  const { ttl, warnings } = calculateTtl({
    increment,
    backendTtl: entry.ttl,
    period,
    backendMaxTtl: 0,
    explicitMaxTtl,
    start: entry.creationTime,
    sysMaxTtl: bounds.max,
    sysDefaultTtl: bounds.def,
  });
  return { auth: authFor(entry, clientToken, await extendWithinAncestors(env, entry, ttl, warnings)), warnings };
}

/**
 * Extends the lease, but never past the earliest expiry among the token's ancestors: the child would be
 * refused (and revoked with its parent) from then on, so a longer TTL would only be a false promise.
 * OpenBao reaches the same end through its expiration manager revoking the parent's subtree. Returns the
 * TTL granted.
 */
async function extendWithinAncestors(env: Env, entry: TokenEntry, ttl: number, warnings: string[]): Promise<number> {
  const ancestorsEnd = await env.ns.tokens.ancestorsExpiry(entry);
  let granted = ttl;
  if (ancestorsEnd > 0) {
    const left = Math.floor((ancestorsEnd - Date.now()) / 1000);
    if (left <= 0) throw badRequest("token not found");
    if (left < granted) {
      warnings.push(`TTL of "${humanDuration(granted)}" exceeded the expiry of a parent token in "${humanDuration(left)}"; TTL value is capped accordingly`);
      granted = left;
    }
  }
  await env.ns.tokens.extendLease(entry, granted);
  return granted;
}

function requireToken(token: string | undefined): string {
  if (!token) throw badRequest("missing token ID");
  return token;
}

function requireAccessor(accessor: string | undefined): string {
  if (!accessor) throw badRequest("missing accessor");
  return accessor;
}

// ---- the path list -------------------------------------------------------------------------------------

export function tokenPaths(ns: Namespace, mount: MountEntry, core: Core): PathSpec<Fields>[] {
  const env: Env = { ns, mount, core };
  const tokens = ns.tokens;

  return [
    definePath({
      pattern: "create",
      fields: CREATE_FIELDS,
      operations: { update: (ctx) => handleCreate(env, ctx, false, ctx.fields.role_name ?? "") },
      synopsis: "The token create path is used to create new tokens.",
      description: "Creates a child token of the calling token, or an orphan with no_parent (root or sudo).",
    }),
    definePath({
      pattern: "create-orphan",
      fields: CREATE_FIELDS,
      operations: { update: (ctx) => handleCreate(env, ctx, true, ctx.fields.role_name ?? "") },
      synopsis: "The token create path is used to create new orphan tokens.",
      description: "Creates a token with no parent: revoking the caller does not revoke it.",
    }),
    definePath({
      pattern: "create/:role_name",
      fields: CREATE_FIELDS,
      operations: {
        update: async (ctx) => {
          const name = ctx.params.role_name;
          checkRoleName(name);
          return handleCreate(env, ctx, false, name);
        },
      },
      synopsis: "This token create path is used to create new tokens adhering to the given role.",
      description: "Creates a token against a token role, whose settings bound its policies and lifetime.",
    }),
    definePath({
      pattern: "lookup",
      fields: { token: { type: "string", description: "Token to lookup (POST request body)" } },
      operations: {
        // GET with ?token= is kept for old clients; POST keeps the token out of URLs and logs.
        read: (ctx) => {
          const token = requireToken(ctx.fields.token || ctx.req.clientToken);
          return lookupToken(env, token, token);
        },
        update: (ctx) => {
          const token = requireToken(ctx.fields.token || ctx.req.clientToken);
          return lookupToken(env, token, token);
        },
      },
      synopsis: "This endpoint will lookup a token and its properties.",
    }),
    definePath({
      pattern: "lookup-self",
      fields: { token: { type: "string", description: "Token to look up (unused, does not need to be set)" } },
      operations: {
        read: (ctx) => {
          const token = requireToken(ctx.req.clientToken);
          return lookupToken(env, token, token);
        },
        update: (ctx) => {
          const token = requireToken(ctx.req.clientToken);
          return lookupToken(env, token, token);
        },
      },
      synopsis: "This endpoint will lookup a token and its properties.",
    }),
    definePath({
      pattern: "lookup-accessor",
      fields: { accessor: { type: "string", description: "Accessor of the token to look up (request body)" } },
      operations: {
        update: async (ctx) => {
          const entry = await tokens.lookupByAccessor(requireAccessor(ctx.fields.accessor));
          if (!entry) throw badRequest("invalid accessor");
          // The token itself is never returned for an accessor lookup.
          return { data: lookupData(entry, "") };
        },
      },
      synopsis: "This endpoint will lookup a token associated with the given accessor and its properties. Response will not contain the token ID.",
    }),
    definePath({
      pattern: "renew",
      fields: {
        token: { type: "string", description: "Token to renew (request body)" },
        increment: { type: "duration", default: 0, description: "The desired increment in seconds to the token expiration" },
      },
      operations: {
        update: async (ctx) => {
          const token = requireToken(ctx.fields.token);
          return renewEntry(env, await tokens.lookup(token), token, ctx.fields.increment);
        },
      },
      synopsis: "This endpoint will renew the given token and prevent expiration.",
    }),
    definePath({
      pattern: "renew-self",
      fields: {
        token: { type: "string", description: "Token to renew (unused, does not need to be set)" },
        increment: { type: "duration", default: 0, description: "The desired increment in seconds to the token expiration" },
      },
      operations: {
        update: async (ctx) => {
          const token = requireToken(ctx.req.clientToken);
          return renewEntry(env, await tokens.lookup(token), token, ctx.fields.increment);
        },
      },
      synopsis: "This endpoint will renew the token used to call it and prevent expiration.",
    }),
    definePath({
      pattern: "renew-accessor",
      fields: {
        accessor: { type: "string", description: "Accessor of the token to renew (request body)" },
        increment: { type: "duration", default: 0, description: "The desired increment in seconds to the token expiration" },
      },
      operations: {
        update: async (ctx) => {
          const entry = await tokens.lookupByAccessor(requireAccessor(ctx.fields.accessor));
          if (!entry) throw badRequest("invalid accessor");
          // As OpenBao: the renewed token is not disclosed to an accessor holder.
          return renewEntry(env, entry, "", ctx.fields.increment);
        },
      },
      synopsis: "This endpoint will renew a token associated with the given accessor and its properties. Response will not contain the token ID.",
    }),
    definePath({
      pattern: "revoke",
      fields: { token: { type: "string", description: "Token to revoke (request body)" } },
      operations: {
        update: async (ctx) => {
          const entry = await tokens.lookup(requireToken(ctx.fields.token));
          // Revoking an unknown token succeeds: revocation is idempotent.
          if (entry) await tokens.revokeTree(entry.id);
          return undefined;
        },
      },
      synopsis: "This endpoint will delete the given token and all of its child tokens.",
    }),
    definePath({
      pattern: "revoke-self",
      operations: {
        update: async (ctx) => {
          if (ctx.req.caller) await tokens.revokeTree(ctx.req.caller.tokenEntryId);
          return undefined;
        },
      },
      synopsis: "This endpoint will delete the token used to call it and all of its child tokens.",
    }),
    definePath({
      pattern: "revoke-accessor",
      fields: { accessor: { type: "string", description: "Accessor of the token (request body)" } },
      operations: {
        update: async (ctx) => {
          const entry = await tokens.lookupByAccessor(requireAccessor(ctx.fields.accessor));
          if (!entry) return { warnings: ["No token found with this accessor"] };
          await tokens.revokeTree(entry.id);
          return undefined;
        },
      },
      synopsis: "This endpoint will delete the token associated with the accessor and all of its child tokens.",
    }),
    definePath({
      pattern: "revoke-orphan",
      fields: { token: { type: "string", description: "Token to revoke (request body)" } },
      operations: {
        update: async (ctx) => {
          const token = requireToken(ctx.fields.token);
          // OpenBao checks sudo here (its root path is only the old "revoke-orphan/<token>" form), so a
          // caller without sudo gets 400, not 403.
          if (ctx.req.sudo !== true) throw badRequest("root or sudo privileges required to revoke and orphan");
          const entry = await tokens.lookup(token);
          if (!entry || entry.numUses < 0) throw badRequest("token to revoke not found");
          await tokens.revokeOrphan(entry.id);
          return undefined;
        },
      },
      synopsis: "This endpoint will delete the token and orphan its child tokens.",
    }),
    definePath({
      pattern: "accessors",
      operations: {
        list: async () => {
          const { accessors, dangling } = await tokens.listAccessors();
          const resp: Response = { data: { keys: accessors } };
          if (dangling > 0) resp.warnings = [`Found ${dangling} accessor entries missing a token; run auth/token/tidy`];
          return resp;
        },
      },
      synopsis: "List token accessors, which can then be used to iterate and discover their properties or revoke them. Because this can be used to cause a denial of service, this endpoint requires 'sudo' capability in addition to 'list'.",
    }),
    definePath({
      pattern: "roles",
      operations: { list: async () => ({ data: { keys: await tokens.listRoles() } }) },
      synopsis: "This endpoint lists configured roles.",
    }),
    definePath({
      pattern: "roles/:role_name",
      fields: ROLE_FIELDS,
      existenceCheck: async (ctx) => (await tokens.readRole(ctx.params.role_name)) !== undefined,
      operations: {
        read: async (ctx) => {
          checkRoleName(ctx.fields.role_name);
          const role = await tokens.readRole(ctx.fields.role_name);
          if (!role) throw notFound();
          return { data: roleData(role) };
        },
        create: (ctx) => writeRole(env, ctx),
        update: (ctx) => writeRole(env, ctx),
        delete: async (ctx) => {
          checkRoleName(ctx.fields.role_name);
          await tokens.deleteRole(ctx.fields.role_name);
          return undefined;
        },
      },
      synopsis: "This endpoint allows creating, reading, and deleting roles.",
      description: "Roles bound the policies, parentage and lifetime of tokens created against them.",
    }),
    definePath({
      pattern: "tidy",
      operations: {
        update: async () => {
          // Run to completion before answering: no background work outlives the request (and its audit).
          await tokens.tidy();
          return { warnings: [TIDY_WARNING], status: 202 };
        },
      },
      synopsis: "This endpoint performs cleanup tasks that can be run if certain error conditions have occurred.",
      description:
        "Removes parent and accessor index entries that point at tokens that no longer exist, orphans children of missing parents and revokes expired tokens.",
    }),
  ];
}
