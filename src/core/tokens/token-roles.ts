/** Token roles (`auth/token/roles/:name`): their fields, the write rules and the read shape. */
import { ArcaError } from "../../common/errors.js";
import type { HandlerContext } from "../framework/path.js";
import type { Fields } from "../framework/fields.js";
import type { Response } from "../framework/request.js";
import type { TokenRole } from "./token-entry.js";
import { removeDuplicates, sanitizePolicies } from "./token-rules.js";
import { checkRoleName, leaseBounds, PATH_SUFFIX_SANITIZE, type Env } from "./token-env.js";

const badRequest = (msg: string): ArcaError => new ArcaError("invalid_request", msg);

// ---- roles ------------------------------------------------------------------------------------------

export const ROLE_FIELDS = {
  role_name: { type: "string", required: true, description: "Name of the role" },
  allowed_policies: { type: "strings", description: "If set, tokens can be created with any subset of the policies in this list, rather than the normal semantics of tokens being a subset of the calling token's policies." },
  disallowed_policies: { type: "strings", description: "If set, successful token creation via this role will require that no policies in the given list are requested." },
  allowed_policies_glob: { type: "strings", description: "If set, tokens can be created with any subset of glob matched policies in this list." },
  disallowed_policies_glob: { type: "strings", description: "If set, successful token creation via this role will require that no requested policies glob match any of policies in this list." },
  orphan: { type: "bool", description: "If true, tokens created via this role will be orphan tokens (have no parent)" },
  period: { type: "duration", description: "Use 'token_period' instead.", deprecated: true },
  path_suffix: { type: "string", description: "If set, tokens created via this role will contain the given suffix as a part of their path." },
  explicit_max_ttl: { type: "duration", description: "Use 'token_explicit_max_ttl' instead.", deprecated: true },
  renewable: { type: "bool", default: true, description: "Tokens created via this role will be renewable or not according to this value." },
  bound_cidrs: { type: "strings", description: "Use 'token_bound_cidrs' instead.", deprecated: true },
  allowed_entity_aliases: { type: "strings", description: "String or JSON list of allowed entity aliases." },
  token_bound_cidrs: { type: "strings", description: "Comma separated string or JSON list of CIDR blocks." },
  token_explicit_max_ttl: { type: "duration", description: "If set, tokens created via this role carry an explicit maximum TTL." },
  token_period: { type: "duration", description: "If set, tokens created via this role will have no max lifetime; instead, their renewal period will be fixed to this value." },
  token_type: { type: "string", description: "The type of token to generate, service or batch" },
  token_no_default_policy: { type: "bool", description: "If true, the 'default' policy will not automatically be added to generated tokens" },
  token_num_uses: { type: "int", description: "The maximum number of times a token may be used, a value of zero means unlimited" },
} as const satisfies Fields;

type RoleCtx = HandlerContext<typeof ROLE_FIELDS>;

const TOKEN_TYPES = ["service", "batch", "default-service", "default-batch"] as const;

function isTokenType(v: string): v is TokenRole["tokenType"] {
  return (TOKEN_TYPES as readonly string[]).includes(v);
}

export async function writeRole(env: Env, ctx: RoleCtx): Promise<Response | undefined> {
  const f = ctx.fields;
  const has = (name: keyof typeof ROLE_FIELDS): boolean => ctx.has(name);
  const name = f.role_name;
  checkRoleName(name);
  const existing = await env.ns.tokens.readRole(name);
  const role: TokenRole = existing ?? {
    name,
    allowedPolicies: [],
    disallowedPolicies: [],
    allowedPoliciesGlob: [],
    disallowedPoliciesGlob: [],
    allowedEntityAliases: null,
    orphan: false,
    renewable: true,
    pathSuffix: "",
    period: 0,
    explicitMaxTtl: 0,
    tokenPeriod: 0,
    tokenExplicitMaxTtl: 0,
    tokenNoDefaultPolicy: false,
    tokenNumUses: 0,
    tokenType: "default-service",
    tokenBoundCidrs: [],
  };
  const warnings: string[] = [];
  if (has("orphan")) role.orphan = f.orphan ?? false;
  if (has("renewable")) role.renewable = f.renewable;
  if (has("path_suffix")) {
    const suffix = f.path_suffix ?? "";
    if (suffix !== "" && !PATH_SUFFIX_SANITIZE.test(suffix)) {
      throw badRequest(`given role path suffix contains invalid characters; must match ${PATH_SUFFIX_SANITIZE.source}`);
    }
    role.pathSuffix = suffix;
  }
  if (role.pathSuffix.includes("..")) throw badRequest(`error registering path suffix: path cannot contain parent references`);
  if (has("allowed_policies")) role.allowedPolicies = sanitizePolicies(f.allowed_policies ?? [], false);
  if (has("disallowed_policies")) role.disallowedPolicies = removeDuplicates(f.disallowed_policies ?? []);
  if (has("allowed_policies_glob")) role.allowedPoliciesGlob = sanitizePolicies(f.allowed_policies_glob ?? [], false);
  if (has("disallowed_policies_glob")) role.disallowedPoliciesGlob = removeDuplicates(f.disallowed_policies_glob ?? []);
  if (has("token_type")) {
    const t = f.token_type ?? "";
    if (!isTokenType(t)) throw badRequest(`invalid 'token_type' value ${JSON.stringify(t)}`);
    role.tokenType = t;
  }
  if (has("token_no_default_policy")) role.tokenNoDefaultPolicy = f.token_no_default_policy ?? false;

  // token_* wins over its deprecated alias; the alias is kept only when it alone was given.
  if (has("token_period")) {
    if (has("period")) warnings.push("Both 'token_period' and deprecated 'period' value supplied, ignoring the deprecated value");
    role.tokenPeriod = f.token_period ?? 0;
    role.period = 0;
  } else if (has("period")) {
    role.period = f.period ?? 0;
    role.tokenPeriod = role.period;
  }
  if (has("token_bound_cidrs")) {
    if (has("bound_cidrs")) warnings.push("Both 'token_bound_cidrs' and deprecated 'bound_cidrs' value supplied, ignoring the deprecated value");
    role.tokenBoundCidrs = f.token_bound_cidrs ?? [];
  } else if (has("bound_cidrs")) {
    role.tokenBoundCidrs = f.bound_cidrs ?? [];
  }
  if (has("token_explicit_max_ttl")) {
    if (has("explicit_max_ttl")) warnings.push("Both 'token_explicit_max_ttl' and deprecated 'explicit_max_ttl' value supplied, ignoring the deprecated value");
    role.tokenExplicitMaxTtl = f.token_explicit_max_ttl ?? 0;
    role.explicitMaxTtl = 0;
  } else if (has("explicit_max_ttl")) {
    role.explicitMaxTtl = f.explicit_max_ttl ?? 0;
    role.tokenExplicitMaxTtl = role.explicitMaxTtl;
  }
  const maxTtl = leaseBounds(env).max;
  if (role.tokenExplicitMaxTtl > 0 && maxTtl > 0 && role.tokenExplicitMaxTtl > maxTtl) {
    warnings.push(
      `Given explicit max TTL of ${role.tokenExplicitMaxTtl} is greater than system/mount allowed value of ${maxTtl} seconds; until this is fixed attempting to create tokens against this role will result in an error`,
    );
  }
  if (has("token_num_uses")) {
    const n = f.token_num_uses ?? 0;
    if (n < 0) throw badRequest("error parsing role fields: token_num_uses cannot be negative");
    role.tokenNumUses = n;
  }
  if (role.tokenType === "batch") {
    if (!role.orphan) throw badRequest("'token_type' cannot be 'batch' when role is set to generate non-orphan tokens");
    if (role.period !== 0 || role.tokenPeriod !== 0) throw badRequest("'token_type' cannot be 'batch' when role is set to generate periodic tokens");
    if (role.renewable) throw badRequest("'token_type' cannot be 'batch' when role is set to generate renewable tokens");
    if (role.explicitMaxTtl !== 0 || role.tokenExplicitMaxTtl !== 0) {
      throw badRequest("'token_type' cannot be 'batch' when role is set to generate tokens with an explicit max TTL");
    }
  }
  if (has("allowed_entity_aliases")) role.allowedEntityAliases = removeDuplicates(f.allowed_entity_aliases ?? []);
  await env.ns.tokens.writeRole(role);
  return warnings.length > 0 ? { warnings } : undefined;
}

export function roleData(role: TokenRole): Record<string, unknown> {
  const data: Record<string, unknown> = {
    period: role.period,
    token_period: role.tokenPeriod,
    explicit_max_ttl: role.explicitMaxTtl,
    token_explicit_max_ttl: role.tokenExplicitMaxTtl,
    disallowed_policies: role.disallowedPolicies,
    allowed_policies: role.allowedPolicies,
    disallowed_policies_glob: role.disallowedPoliciesGlob,
    allowed_policies_glob: role.allowedPoliciesGlob,
    name: role.name,
    orphan: role.orphan,
    path_suffix: role.pathSuffix,
    renewable: role.renewable,
    token_type: role.tokenType,
    allowed_entity_aliases: role.allowedEntityAliases,
    token_no_default_policy: role.tokenNoDefaultPolicy,
  };
  if (role.tokenBoundCidrs.length > 0) data.token_bound_cidrs = role.tokenBoundCidrs;
  if (role.tokenNumUses > 0) data.token_num_uses = role.tokenNumUses;
  return data;
}

