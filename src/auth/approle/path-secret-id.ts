/**
 * Secret IDs of an AppRole role: generate, custom, list (accessors), lookup and destroy by secret ID or
 * by accessor, and tidy. Shapes and messages follow OpenBao's path_role.go; a secret ID is returned
 * exactly once, by the call that creates it, and only its HMAC is stored.
 */
import { randomUUID } from "node:crypto";
import { ArcaError, notFound } from "../../common/errors.js";
import { definePath, type HandlerContext, type PathSpec } from "../../core/framework/path.js";
import type { Fields } from "../../core/framework/fields.js";
import type { Response } from "../../core/framework/request.js";
import { cidrsAreSubset, parseAddrs, validateCidrList } from "../../core/cidr.js";
import type { AppRoleRole, AppRoleStore, SecretIdEntry } from "./approle-store.js";
import type { AppRoleEnv } from "./approle-env.js";
import { checkRoleName } from "./path-role.js";

const badRequest = (msg: string): ArcaError => new ArcaError("invalid_request", msg);

const TIDY_WARNING = "Tidy operation successfully started. Any information from the operation will be printed to OpenBao's server logs.";
/** Go's zero time.Time, which OpenBao renders for a secret ID that never expires. */
const GO_ZERO_TIME = "0001-01-01T00:00:00Z";

const GENERATE_FIELDS = {
  role_name: { type: "string", required: true, description: "Name of the role." },
  metadata: { type: "any", description: "Metadata to be tied to the SecretID. This should be a JSON formatted string containing the metadata in key value pairs." },
  cidr_list: { type: "strings", description: "Comma separated string or list of CIDR blocks enforcing secret IDs to be used from specific set of IP addresses." },
  token_bound_cidrs: { type: "strings", description: "Comma separated string or list of CIDR blocks. If set, specifies the blocks of IP addresses which can use the returned token." },
  num_uses: { type: "int", description: "Number of times this SecretID can be used, after which the SecretID expires. Overrides secret_id_num_uses role option when supplied. May not be higher than role's secret_id_num_uses." },
  ttl: { type: "duration", description: "Duration in seconds after which this SecretID expires. Overrides secret_id_ttl role option when supplied. May not be longer than role's secret_id_ttl." },
} as const satisfies Fields;

const CUSTOM_FIELDS = {
  ...GENERATE_FIELDS,
  secret_id: { type: "string", description: "SecretID to be attached to the role." },
} as const satisfies Fields;

type GenerateCtx = HandlerContext<typeof GENERATE_FIELDS>;

/** strutil.ParseArbitraryKeyValues: a JSON object (or its string), or "k=v,k2=v2". */
function parseMetadata(raw: unknown): Record<string, string> {
  if (raw === undefined || raw === null || raw === "") return {};
  let obj: unknown = raw;
  if (typeof raw === "string") {
    try {
      obj = JSON.parse(raw);
    } catch {
      const out: Record<string, string> = {};
      for (const pair of raw.split(",")) {
        const eq = pair.indexOf("=");
        if (eq <= 0) throw badRequest(`failed to parse metadata: invalid key/value pair ${JSON.stringify(pair.slice(0, 64))}`);
        out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
      }
      return out;
    }
  }
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) throw badRequest("failed to parse metadata: expected a JSON object");
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (typeof v !== "string") throw badRequest(`failed to parse metadata: value of ${JSON.stringify(k.slice(0, 64))} is not a string`);
    out[k] = v;
  }
  return out;
}

async function roleOr404(store: AppRoleStore, name: string): Promise<AppRoleRole> {
  checkRoleName(name);
  const role = await store.readRole(name);
  if (!role) throw new ArcaError("not_found", `role "${name}" does not exist`);
  return role;
}

async function roleOr400(store: AppRoleStore, name: string): Promise<AppRoleRole> {
  checkRoleName(name);
  const role = await store.readRole(name);
  if (!role) throw badRequest(`role "${name}" does not exist`);
  return role;
}

async function issueSecretId(env: AppRoleEnv, ctx: GenerateCtx, secretId: string): Promise<Response> {
  const { fields: f } = ctx;
  const store = await env.salt.open(ctx.storage);
  const role = await roleOr404(store, f.role_name);
  if (secretId === "") throw badRequest("missing secret_id");
  if (!role.bindSecretId) throw badRequest("bind_secret_id is not set on the role");

  const cidrList = f.cidr_list ?? [];
  if (!validateCidrList(cidrList)) throw badRequest("failed to validate CIDR blocks");
  if (!cidrsAreSubset(role.secretIdBoundCidrs, cidrList)) {
    throw badRequest(`failed to verify subset relationship between CIDR blocks on the role ${JSON.stringify(role.secretIdBoundCidrs)} and CIDR blocks on the secret ID ${JSON.stringify(cidrList)}`);
  }
  const tokenCidrs = parseAddrs(f.token_bound_cidrs ?? [], "token_bound_cidrs");
  if (!cidrsAreSubset(role.tokenBoundCidrs, tokenCidrs)) {
    throw badRequest(`failed to verify subset relationship between CIDR blocks on the role ${JSON.stringify(role.tokenBoundCidrs)} and CIDR blocks on the secret ID ${JSON.stringify(tokenCidrs)}`);
  }

  let numUses = role.secretIdNumUses;
  if (ctx.has("num_uses")) {
    numUses = f.num_uses ?? 0;
    if (numUses < 0) throw badRequest("num_uses cannot be negative");
    // A request may narrow the role's limit, never widen it (0 is "unlimited", the widest).
    if (role.secretIdNumUses > 0 && (numUses === 0 || numUses > role.secretIdNumUses)) throw badRequest("num_uses cannot be higher than the role's secret_id_num_uses");
  }
  let ttl = role.secretIdTtl;
  if (ctx.has("ttl")) {
    ttl = f.ttl ?? 0;
    if (role.secretIdTtl > 0 && (ttl === 0 || ttl > role.secretIdTtl)) throw badRequest("ttl cannot be longer than the role's secret_id_ttl");
  }
  // deriveSecretIDTTL: never beyond the mount's max lease TTL.
  const maxLease = env.view.leaseBounds().max;
  if (ttl > maxLease) ttl = maxLease;

  const now = Date.now();
  const entry = await store.registerSecretId(role.name, secretId, {
    numUses,
    ttl,
    creationTime: now,
    expirationTime: ttl > 0 ? now + ttl * 1000 : 0,
    lastUpdatedTime: now,
    metadata: parseMetadata(f.metadata),
    cidrList,
    tokenBoundCidrs: tokenCidrs,
  });
  return {
    data: {
      secret_id: secretId,
      secret_id_accessor: entry.accessor,
      secret_id_ttl: entry.ttl,
      secret_id_num_uses: entry.numUses,
    },
  };
}

/** secretIDStorageEntry.ToResponseData. */
function secretIdData(e: SecretIdEntry): Record<string, unknown> {
  return {
    secret_id_accessor: e.accessor,
    secret_id_num_uses: e.numUses,
    secret_id_ttl: e.ttl,
    creation_time: new Date(e.creationTime).toISOString(),
    expiration_time: e.expirationTime > 0 ? new Date(e.expirationTime).toISOString() : GO_ZERO_TIME,
    last_updated_time: new Date(e.lastUpdatedTime).toISOString(),
    metadata: e.metadata,
    cidr_list: e.cidrList,
    token_bound_cidrs: e.tokenBoundCidrs,
  };
}

const SECRET_ID_FIELDS = {
  role_name: { type: "string", required: true, description: "Name of the role." },
  secret_id: { type: "string", description: "SecretID attached to the role." },
} as const satisfies Fields;

const ACCESSOR_FIELDS = {
  role_name: { type: "string", required: true, description: "Name of the role." },
  secret_id_accessor: { type: "string", description: "Accessor of the SecretID" },
} as const satisfies Fields;

type SecretIdCtx = HandlerContext<typeof SECRET_ID_FIELDS>;
type AccessorCtx = HandlerContext<typeof ACCESSOR_FIELDS>;

async function destroyBySecretId(env: AppRoleEnv, ctx: SecretIdCtx): Promise<undefined> {
  const secretId = ctx.fields.secret_id ?? "";
  if (secretId === "") throw badRequest("missing secret_id");
  const store = await env.salt.open(ctx.storage);
  const role = await roleOr400(store, ctx.fields.role_name);
  const entry = await store.readSecretId(role.name, secretId);
  if (entry) await store.destroySecretId(role.name, entry);
  return undefined;
}

async function destroyByAccessor(env: AppRoleEnv, ctx: AccessorCtx): Promise<undefined> {
  const accessor = ctx.fields.secret_id_accessor ?? "";
  if (accessor === "") throw badRequest("missing secret_id_accessor");
  const store = await env.salt.open(ctx.storage);
  const role = await roleOr400(store, ctx.fields.role_name);
  const entry = await store.readByAccessor(role.name, accessor);
  if (!entry) throw notFound(`failed to find accessor entry for secret_id_accessor: ${JSON.stringify(accessor)}`);
  await store.destroySecretId(role.name, entry);
  return undefined;
}

export function secretIdPaths(env: AppRoleEnv): PathSpec<Fields>[] {
  return [
    definePath({
      pattern: "role/:role_name/secret-id",
      fields: GENERATE_FIELDS,
      operations: {
        update: (ctx) => issueSecretId(env, ctx, randomUUID()),
        list: async (ctx) => {
          const store = await env.salt.open(ctx.storage);
          const role = await roleOr400(store, ctx.fields.role_name);
          return { data: { keys: await store.listAccessors(role.name) } };
        },
      },
      synopsis: "Generate a SecretID against this role.",
      description: "The SecretID generated using this endpoint will be scoped to access just this role and none else.",
    }),
    definePath({
      pattern: "role/:role_name/custom-secret-id",
      fields: CUSTOM_FIELDS,
      operations: { update: (ctx) => issueSecretId(env, ctx, ctx.fields.secret_id ?? "") },
      synopsis: "Assign a SecretID of choice against the role.",
      description: "This option is not recommended unless there is a specific need to do so.",
    }),
    definePath({
      pattern: "role/:role_name/secret-id/lookup",
      fields: SECRET_ID_FIELDS,
      operations: {
        update: async (ctx) => {
          const secretId = ctx.fields.secret_id ?? "";
          if (secretId === "") throw badRequest("missing secret_id");
          const store = await env.salt.open(ctx.storage);
          const role = await roleOr400(store, ctx.fields.role_name);
          const entry = await store.readSecretId(role.name, secretId);
          // OpenBao answers an unknown secret ID with no body (204), not an error.
          return entry ? { data: secretIdData(entry) } : undefined;
        },
      },
      synopsis: "Read the properties of an issued secret_id",
    }),
    definePath({
      pattern: "role/:role_name/secret-id/destroy",
      fields: SECRET_ID_FIELDS,
      operations: { update: (ctx) => destroyBySecretId(env, ctx), delete: (ctx) => destroyBySecretId(env, ctx) },
      synopsis: "Invalidate an issued secret_id",
    }),
    definePath({
      pattern: "role/:role_name/secret-id-accessor/lookup",
      fields: ACCESSOR_FIELDS,
      operations: {
        update: async (ctx) => {
          const accessor = ctx.fields.secret_id_accessor ?? "";
          if (accessor === "") throw badRequest("missing secret_id_accessor");
          const store = await env.salt.open(ctx.storage);
          const role = await roleOr400(store, ctx.fields.role_name);
          const entry = await store.readByAccessor(role.name, accessor);
          if (!entry) throw notFound(`failed to find accessor entry for secret_id_accessor: ${JSON.stringify(accessor)}`);
          return { data: secretIdData(entry) };
        },
      },
      synopsis: "Read an issued secret_id, using its accessor",
    }),
    definePath({
      pattern: "role/:role_name/secret-id-accessor/destroy",
      fields: ACCESSOR_FIELDS,
      operations: { update: (ctx) => destroyByAccessor(env, ctx), delete: (ctx) => destroyByAccessor(env, ctx) },
      synopsis: "Delete an issued secret_id, using its accessor",
    }),
    definePath({
      pattern: "tidy/secret-id",
      operations: {
        update: async (ctx) => {
          // Runs to completion before answering: no background work outlives the request (and its audit).
          await (await env.salt.open(ctx.storage)).tidy();
          return { warnings: [TIDY_WARNING], status: 202 };
        },
      },
      synopsis: "Trigger the clean-up of expired SecretID entries.",
      description: "Removes expired secret IDs and index entries that point at nothing.",
    }),
  ];
}
