/**
 * The token store's endpoints (`auth/token/*`), wire-compatible with OpenBao's `vault/token_store.go`:
 * create (plain, orphan, against a role), lookup, renew and revoke (by token, self or accessor),
 * revoke-orphan, accessors, roles and tidy. Token entries are only ever touched through the core's
 * TokenStore; these handlers decide policy, TTL and parentage and shape the responses.
 */
import { ArcaError, notFound } from "../../common/errors.js";
import { definePath, type PathSpec } from "../framework/path.js";
import type { Fields } from "../framework/fields.js";
import type { Request, Response } from "../framework/request.js";
import type { Core } from "../core.js";
import type { Namespace } from "../namespaces/namespace.js";
import type { MountEntry } from "../mounts.js";
import type { TokenEntry } from "./token-entry.js";
import { calculateTtl, humanDuration } from "./token-rules.js";
import { checkRoleName, leaseBounds, type Env } from "./token-env.js";
import { ROLE_FIELDS, roleData, writeRole } from "./token-roles.js";
import { CREATE_FIELDS, handleCreate } from "./token-create.js";
import { authFor, lookupData } from "./token-responses.js";

const badRequest = (msg: string): ArcaError => new ArcaError("invalid_request", msg);

const TIDY_WARNING = "Tidy operation successfully started. Any information from the operation will be printed to OpenBao's server logs.";

// ---- lookup / renew / revoke --------------------------------------------------------------------------

async function lookupToken(env: Env, token: string, id: string): Promise<Response> {
  const entry = await env.ns.tokens.lookup(token);
  if (!entry) throw new ArcaError("permission_denied", "bad token");
  return { data: lookupData(entry, id) };
}

async function renewEntry(env: Env, req: Request, entry: TokenEntry | undefined, clientToken: string, increment: number): Promise<Response> {
  // A token on its last use (-1) is no longer valid for anything but the request it is serving.
  if (!entry || entry.numUses < 0) throw badRequest("token not found");
  if (entry.type === "batch") throw badRequest("batch tokens cannot be renewed");
  if (entry.expireTime === 0 || !entry.renewable) throw badRequest("lease is not renewable");
  // The auth mount that logged the token in may refuse (cert auth re-checks the client certificate).
  const issuer = entry.path.startsWith("auth/") ? env.ns.router.match(entry.path) : undefined;
  if (issuer) await issuer.backend.renewLogin({ storage: issuer.storage, req, meta: entry.meta });
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

/** A batch token lives until its TTL or its parent ends (OpenBao's expiration manager refuses the same). */
function refuseBatch(entry: TokenEntry): void {
  if (entry.type === "batch") throw badRequest("batch tokens cannot be revoked");
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
          return renewEntry(env, ctx.req, await tokens.lookup(token), token, ctx.fields.increment);
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
          return renewEntry(env, ctx.req, await tokens.lookup(token), token, ctx.fields.increment);
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
          return renewEntry(env, ctx.req, entry, "", ctx.fields.increment);
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
          if (entry) {
            refuseBatch(entry);
            await tokens.revokeTree(entry.id);
          }
          return undefined;
        },
      },
      synopsis: "This endpoint will delete the given token and all of its child tokens.",
    }),
    definePath({
      pattern: "revoke-self",
      operations: {
        update: async (ctx) => {
          if (ctx.req.caller?.tokenType === "batch") throw badRequest("batch tokens cannot be revoked");
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
          refuseBatch(entry);
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
