/**
 * AppRole roles (`role`, `role/:role_name`, `role/:role_name/role-id`), wire-compatible with OpenBao's
 * builtin/credential/approle/path_role.go: names are case-insensitive, a role needs at least one
 * constraint (bind_secret_id or a CIDR binding), role_id is a UUID unless the caller sets one.
 */
import { randomUUID } from "node:crypto";
import { ArcaError, notFound, unsupportedPath } from "../../common/errors.js";
import { definePath, type HandlerContext, type PathSpec } from "../../core/framework/path.js";
import type { Fields } from "../../core/framework/fields.js";
import type { Response } from "../../core/framework/request.js";
import {
  LEGACY_TOKEN_FIELDS,
  TOKEN_FIELDS,
  defaultTokenParams,
  parseTokenFields,
  tokenData,
} from "../token-fields.js";
import { validateCidrList } from "../../core/cidr.js";
import { MAX_HMAC_INPUT, type AppRoleRole } from "./approle-store.js";
import type { AppRoleEnv } from "./approle-env.js";

const badRequest = (msg: string): ArcaError => new ArcaError("invalid_request", msg);

/** OpenBao's framework.GenericNameRegex: anything else is not a route at all (404). */
const ROLE_NAME = /^\w(?:[\w.-]*\w)?$/;

export function checkRoleName(name: string): void {
  if (!ROLE_NAME.test(name) || Buffer.byteLength(name) > MAX_HMAC_INPUT) throw unsupportedPath();
}

const ROLE_FIELDS = {
  role_name: { type: "string", required: true, description: "Name of the role. Must be less than 4096 bytes." },
  bind_secret_id: { type: "bool", default: true, description: "Impose secret_id to be presented when logging in using this role." },
  secret_id_bound_cidrs: { type: "strings", description: "Comma separated string or list of CIDR blocks. If set, specifies the blocks of IP addresses which can perform the login operation." },
  bound_cidr_list: { type: "strings", description: "Use 'secret_id_bound_cidrs' instead.", deprecated: true },
  secret_id_num_uses: { type: "int", default: 0, description: "Number of times a SecretID can access the role, after which the SecretID will expire. Defaults to 0 meaning that the secret_id is of unlimited use." },
  secret_id_ttl: { type: "duration", default: 0, description: "Duration in seconds after which the issued SecretID should expire. Defaults to 0, meaning no expiration." },
  local_secret_ids: { type: "bool", default: false, description: "If set, the secret IDs generated using this role will be cluster local. This can only be set during role creation and once set, it can't be reset later." },
  role_id: { type: "string", description: "Identifier of the role. Defaults to a UUID." },
  ...TOKEN_FIELDS,
  policies: LEGACY_TOKEN_FIELDS.policies,
  period: LEGACY_TOKEN_FIELDS.period,
} as const satisfies Fields;

type RoleCtx = HandlerContext<typeof ROLE_FIELDS>;

function newRole(name: string): AppRoleRole {
  return {
    ...defaultTokenParams(),
    name,
    roleId: "",
    bindSecretId: true,
    secretIdBoundCidrs: [],
    secretIdNumUses: 0,
    secretIdTtl: 0,
    localSecretIds: false,
  };
}

function hasConstraint(role: AppRoleRole): boolean {
  return role.bindSecretId || role.secretIdBoundCidrs.length > 0 || role.tokenBoundCidrs.length > 0;
}

async function writeRole(env: AppRoleEnv, ctx: RoleCtx): Promise<Response | undefined> {
  const { fields: f } = ctx;
  const name = f.role_name.toLowerCase();
  checkRoleName(name);
  const store = await env.salt.open(ctx.storage);
  const existing = await store.readRole(name);
  // The pipeline's existence check made this "create" only when the role is new.
  const creating = existing === undefined;
  const role = existing ?? newRole(name);
  const warnings = parseTokenFields(role, { get: (n) => (f as Record<string, unknown>)[n], has: (n) => ctx.has(n as keyof typeof ROLE_FIELDS) }, ["policies", "period"]);

  if (ctx.has("local_secret_ids")) {
    if (!creating) throw badRequest("local_secret_ids can only be modified during role creation");
    role.localSecretIds = f.local_secret_ids;
  }
  const previousRoleId = role.roleId;
  if (ctx.has("role_id")) role.roleId = f.role_id ?? "";
  else if (creating) role.roleId = randomUUID();
  if (role.roleId === "") throw badRequest("invalid role_id supplied, or failed to generate a role_id");

  if (ctx.has("bind_secret_id") || creating) role.bindSecretId = f.bind_secret_id;
  if (ctx.has("secret_id_bound_cidrs")) role.secretIdBoundCidrs = f.secret_id_bound_cidrs ?? [];
  else if (ctx.has("bound_cidr_list")) role.secretIdBoundCidrs = f.bound_cidr_list ?? [];
  if (!validateCidrList(role.secretIdBoundCidrs)) throw badRequest("invalid CIDR blocks");

  if (ctx.has("secret_id_num_uses") || creating) role.secretIdNumUses = f.secret_id_num_uses;
  if (role.secretIdNumUses < 0) throw badRequest("secret_id_num_uses cannot be negative");
  if (ctx.has("secret_id_ttl") || creating) role.secretIdTtl = f.secret_id_ttl;

  const maxLease = env.view.leaseBounds().max;
  if (role.period > maxLease) throw badRequest(`period of "${role.period}s" is greater than the backend's maximum lease TTL of "${maxLease}s"`);
  if (role.tokenMaxTtl > maxLease) {
    warnings.push("token_max_ttl is greater than the backend mount's maximum TTL value; issued tokens' max TTL value will be truncated");
  }
  if (!hasConstraint(role)) throw badRequest("at least one constraint should be enabled on the role");
  await store.writeRole(role, previousRoleId);
  return warnings.length > 0 ? { warnings } : undefined;
}

export function roleData(role: AppRoleRole): Record<string, unknown> {
  const data: Record<string, unknown> = {
    bind_secret_id: role.bindSecretId,
    secret_id_bound_cidrs: role.secretIdBoundCidrs,
    secret_id_num_uses: role.secretIdNumUses,
    secret_id_ttl: role.secretIdTtl,
    local_secret_ids: role.localSecretIds,
    ...tokenData(role),
  };
  // Backwards-compatible keys, only when the deprecated field was written.
  if (role.period !== 0) data.period = role.period;
  if (role.policies.length > 0) data.policies = role.policies;
  return data;
}

export function rolePaths(env: AppRoleEnv): PathSpec<Fields>[] {
  return [
    definePath({
      pattern: "role",
      operations: {
        list: async (ctx) => ({ data: { keys: await (await env.salt.open(ctx.storage)).listRoles() } }),
      },
      synopsis: "Lists all the roles registered with the backend.",
      description: "The list will contain the names of the roles.",
    }),
    definePath({
      pattern: "role/:role_name",
      fields: ROLE_FIELDS,
      existenceCheck: async (ctx) => {
        checkRoleName(ctx.params.role_name);
        return (await (await env.salt.open(ctx.storage)).readRole(ctx.params.role_name)) !== undefined;
      },
      operations: {
        read: async (ctx) => {
          checkRoleName(ctx.params.role_name);
          const role = await (await env.salt.open(ctx.storage)).readRole(ctx.params.role_name);
          if (!role) throw notFound();
          const resp: Response = { data: roleData(role) };
          if (!hasConstraint(role)) resp.warnings = ["Role does not have any constraints set on it. Updates to this role will require a constraint to be set"];
          return resp;
        },
        create: (ctx) => writeRole(env, ctx),
        update: (ctx) => writeRole(env, ctx),
        delete: async (ctx) => {
          checkRoleName(ctx.params.role_name);
          const store = await env.salt.open(ctx.storage);
          const role = await store.readRole(ctx.params.role_name);
          if (role) await store.deleteRole(role);
          return undefined;
        },
      },
      synopsis: "Register an role with the backend.",
      description:
        "A role can represent a service, a machine or anything that can be IDed. Secret IDs issued against it, and the tokens a login with them yields, follow the options set here.",
    }),
    definePath({
      pattern: "role/:role_name/role-id",
      fields: {
        role_name: { type: "string", required: true, description: "Name of the role." },
        role_id: { type: "string", description: "Identifier of the role. Defaults to a UUID." },
      },
      operations: {
        read: async (ctx) => {
          checkRoleName(ctx.params.role_name);
          const role = await (await env.salt.open(ctx.storage)).readRole(ctx.params.role_name);
          if (!role) throw notFound();
          return { data: { role_id: role.roleId } };
        },
        update: async (ctx) => {
          checkRoleName(ctx.params.role_name);
          const store = await env.salt.open(ctx.storage);
          const role = await store.readRole(ctx.params.role_name);
          if (!role) throw new ArcaError("not_found", `role name "${ctx.params.role_name}" doesn't exist`);
          const roleId = ctx.fields.role_id ?? "";
          if (roleId === "") throw badRequest("missing role_id");
          const previous = role.roleId;
          role.roleId = roleId;
          await store.writeRole(role, previous);
          return undefined;
        },
      },
      synopsis: "Returns the 'role_id' of the role.",
      description: "If login is performed from an role, then its 'role_id' should be presented as a credential during the login.",
    }),
  ];
}
