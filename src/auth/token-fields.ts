/**
 * The `token_*` fields every auth method's role or user carries (OpenBao's sdk/helper/tokenutil), the
 * CIDR checks they need, and the one way a login turns them into a token: auth methods never build
 * tokens themselves, they ask the core's TokenStore here, so policies, TTL bounds and parentage
 * (login tokens are orphans) are decided identically for AppRole, userpass and whatever comes next.
 */
import { ArcaError, permissionDenied } from "../common/errors.js";
import type { Fields } from "../core/framework/fields.js";
import type { AuthResponse, Request, Response } from "../core/framework/request.js";
import type { SystemView } from "../core/framework/system-view.js";
import { calculateTtl, sanitizePolicies } from "../core/tokens/token-rules.js";
import { NON_ASSIGNABLE_POLICIES } from "../core/policy/builtin.js";
import { addressInCidrs, parseAddrs } from "../core/cidr.js";

const badRequest = (msg: string): ArcaError => new ArcaError("invalid_request", msg);

/** Stored token settings, camelCase; legacy aliases are kept only when they alone were written. */
export interface TokenParams {
  tokenPolicies: string[];
  tokenTtl: number;
  tokenMaxTtl: number;
  tokenExplicitMaxTtl: number;
  tokenPeriod: number;
  tokenNoDefaultPolicy: boolean;
  tokenNumUses: number;
  tokenType: "default" | "service" | "batch";
  tokenBoundCidrs: string[];
  /** Legacy `policies` / `period` / `ttl` / `max_ttl` / `bound_cidrs`, echoed on read as OpenBao does. */
  policies: string[];
  period: number;
  ttl: number;
  maxTtl: number;
  boundCidrs: string[];
}

export function defaultTokenParams(): TokenParams {
  return {
    tokenPolicies: [],
    tokenTtl: 0,
    tokenMaxTtl: 0,
    tokenExplicitMaxTtl: 0,
    tokenPeriod: 0,
    tokenNoDefaultPolicy: false,
    tokenNumUses: 0,
    tokenType: "default",
    tokenBoundCidrs: [],
    policies: [],
    period: 0,
    ttl: 0,
    maxTtl: 0,
    boundCidrs: [],
  };
}

export const TOKEN_FIELDS = {
  token_policies: { type: "strings", description: "Comma-separated list of policies" },
  token_ttl: { type: "duration", description: "The initial ttl of the token to generate" },
  token_max_ttl: { type: "duration", description: "The maximum lifetime of the generated token" },
  token_explicit_max_ttl: { type: "duration", description: "If set, tokens created via this role carry an explicit maximum TTL." },
  token_period: { type: "duration", description: "If set, tokens created via this role will have no max lifetime; instead, their renewal period will be fixed to this value." },
  token_no_default_policy: { type: "bool", description: "If true, the 'default' policy will not automatically be added to generated tokens" },
  token_num_uses: { type: "int", description: "The maximum number of times a token may be used, a value of zero means unlimited" },
  token_type: { type: "string", description: "The type of token to generate, service or batch" },
  token_bound_cidrs: { type: "strings", description: "Comma separated string or JSON list of CIDR blocks. If set, specifies the blocks of IP addresses which are allowed to use the generated token." },
} as const satisfies Fields;

/** Deprecated aliases; which of them a method accepts is the method's choice (AppRole: policies, period). */
export const LEGACY_TOKEN_FIELDS = {
  policies: { type: "strings", description: "Use 'token_policies' instead.", deprecated: true },
  period: { type: "duration", description: "Use 'token_period' instead.", deprecated: true },
  ttl: { type: "duration", description: "Use 'token_ttl' instead.", deprecated: true },
  max_ttl: { type: "duration", description: "Use 'token_max_ttl' instead.", deprecated: true },
  bound_cidrs: { type: "strings", description: "Use 'token_bound_cidrs' instead.", deprecated: true },
} as const satisfies Fields;

type TokenFieldName = keyof typeof TOKEN_FIELDS | keyof typeof LEGACY_TOKEN_FIELDS;

/** What parseTokenFields needs from a handler context (kept narrow so any path's fields fit). */
export interface TokenFieldInput {
  get(name: TokenFieldName): unknown;
  has(name: TokenFieldName): boolean;
}

/** Which legacy aliases this method accepts (the rest are ignored as unknown fields). */
export type LegacyAlias = "policies" | "period" | "ttl" | "max_ttl" | "bound_cidrs";

/**
 * tokenutil.ParseTokenFields plus UpgradeValue for the accepted aliases: updates `p` in place from the
 * fields the caller supplied. Returns warnings.
 */
export function parseTokenFields(p: TokenParams, input: TokenFieldInput, legacy: readonly LegacyAlias[]): string[] {
  const warnings: string[] = [];
  const num = (n: TokenFieldName): number => (input.get(n) as number | undefined) ?? 0;
  const list = (n: TokenFieldName): string[] => (input.get(n) as string[] | undefined) ?? [];

  if (input.has("token_type")) {
    let t = String(input.get("token_type"));
    // OpenBao's backwards-compatible spellings.
    if (t === "default-service") {
      t = "service";
      warnings.push("default-service has no useful meaning; adjusting to service");
    } else if (t === "default-batch") {
      t = "batch";
    } else if (t === "") {
      t = "default"; // OpenBao takes "" as the default; hvac's role writers send it when token_type is not given
    }
    if (t !== "default" && t !== "service" && t !== "batch") throw badRequest(`invalid 'token_type' value ${JSON.stringify(t)}`);
    p.tokenType = t;
  }
  if (input.has("token_no_default_policy")) p.tokenNoDefaultPolicy = Boolean(input.get("token_no_default_policy"));
  if (input.has("token_num_uses")) {
    const n = num("token_num_uses");
    if (n < 0) throw badRequest("'token_num_uses' cannot be negative");
    p.tokenNumUses = n;
  }
  if (input.has("token_explicit_max_ttl")) p.tokenExplicitMaxTtl = num("token_explicit_max_ttl");

  // A token_* field wins; its alias alone sets both (tokenutil.UpgradeValue); both together is an error.
  const pick = <T>(newName: TokenFieldName, oldName: LegacyAlias, read: (n: TokenFieldName) => T): { value: T; viaAlias: boolean } | undefined => {
    const hasOld = legacy.includes(oldName) && input.has(oldName);
    if (input.has(newName)) {
      if (hasOld) throw badRequest(`cannot specify both "${newName}" and "${oldName}"`);
      return { value: read(newName), viaAlias: false };
    }
    return hasOld ? { value: read(oldName), viaAlias: true } : undefined;
  };
  const policies = pick("token_policies", "policies", (n) => sanitizePolicies(list(n), false));
  if (policies) {
    p.tokenPolicies = policies.value;
    p.policies = policies.viaAlias ? policies.value : [];
  }
  const period = pick("token_period", "period", num);
  if (period) {
    p.tokenPeriod = period.value;
    p.period = period.viaAlias ? period.value : 0;
  }
  const ttl = pick("token_ttl", "ttl", num);
  if (ttl) {
    p.tokenTtl = ttl.value;
    p.ttl = ttl.viaAlias ? ttl.value : 0;
  }
  const maxTtl = pick("token_max_ttl", "max_ttl", num);
  if (maxTtl) {
    p.tokenMaxTtl = maxTtl.value;
    p.maxTtl = maxTtl.viaAlias ? maxTtl.value : 0;
  }
  const cidrs = pick("token_bound_cidrs", "bound_cidrs", (n) => parseAddrs(list(n), n));
  if (cidrs) {
    p.tokenBoundCidrs = cidrs.value;
    p.boundCidrs = cidrs.viaAlias ? cidrs.value : [];
  }

  for (const policy of p.tokenPolicies) {
    if (NON_ASSIGNABLE_POLICIES.includes(policy)) throw badRequest(`cannot assign policy "${policy}"`);
  }
  if (p.tokenMaxTtl > 0 && p.tokenTtl > p.tokenMaxTtl) throw badRequest("'token_ttl' cannot be greater than 'token_max_ttl'");
  return warnings;
}

/** tokenutil.PopulateTokenData: the token_* keys of a read response. */
export function tokenData(p: TokenParams): Record<string, unknown> {
  return {
    token_bound_cidrs: p.tokenBoundCidrs,
    token_explicit_max_ttl: p.tokenExplicitMaxTtl,
    token_max_ttl: p.tokenMaxTtl,
    token_no_default_policy: p.tokenNoDefaultPolicy,
    token_num_uses: p.tokenNumUses,
    token_period: p.tokenPeriod,
    token_policies: p.tokenPolicies,
    token_ttl: p.tokenTtl,
    token_type: p.tokenType,
  };
}

// ---- CIDRs -------------------------------------------------------------------------------------------

// ---- issuing a login token ------------------------------------------------------------------------------

export interface LoginTokenRequest {
  /** The auth mount's view: its lease bounds, its path, its namespace's tokens. */
  view: SystemView;
  req: Request;
  params: TokenParams;
  /** Token metadata (e.g. role_name, username); echoed in auth.metadata. */
  meta: Record<string, string>;
  /** The method's part of the display name ("" for AppRole, the username for userpass). */
  displayName: string;
  /** Overrides the params' token_bound_cidrs (AppRole secret IDs may carry their own). */
  boundCidrs?: string[];
  /** Issue in this namespace below the mount's (keystone's project mapping) instead of the mount's own. */
  namespace?: string;
}

/**
 * Refuses a login from outside the token's bound CIDRs before anything is consumed (OpenBao's core
 * checks auth.BoundCIDRs right after the backend answers, with 403 permission denied).
 */
export function checkTokenBoundCidrs(req: Request, cidrs: readonly string[]): void {
  if (cidrs.length > 0 && !addressInCidrs(req.remoteAddress, cidrs)) throw permissionDenied();
}

/**
 * Creates the orphan service token a successful login yields and shapes the auth block: policies with
 * "default" unless token_no_default_policy, TTL by framework.CalculateTTL bounded by the mount's and the
 * system's max lease TTL, num_uses, period and explicit max TTL.
 */
/**
 * The type of a login's token: the role's token_type within what the auth mount's tune allows
 * (OpenBao: "service"/"batch" on the mount force it; "default-batch" makes batch the default).
 */
export function loginTokenType(role: TokenParams["tokenType"], mountTokenType: string | undefined): "service" | "batch" {
  switch (mountTokenType) {
    case "service":
    case "batch":
      return mountTokenType;
    case "default-batch":
      return role === "default" ? "batch" : role;
    default:
      return role === "batch" ? "batch" : "service";
  }
}

export async function issueLoginToken(l: LoginTokenRequest): Promise<Response> {
  const { view, params: p } = l;
  const boundCidrs = l.boundCidrs && l.boundCidrs.length > 0 ? l.boundCidrs : p.tokenBoundCidrs;
  checkTokenBoundCidrs(l.req, boundCidrs);

  const policies = sanitizePolicies(p.tokenPolicies, !p.tokenNoDefaultPolicy);
  if (policies.includes("root")) throw badRequest("auth methods cannot create root tokens");
  const type = loginTokenType(p.tokenType, view.mount().config.tokenType);
  if (type === "batch") {
    const badReason = p.tokenNumUses !== 0 ? "num_uses" : p.tokenPeriod !== 0 ? "period" : "";
    if (badReason !== "") throw badRequest(`batch tokens cannot have "${badReason}" set`);
  }
  const bounds = view.leaseBounds();
  const { ttl, warnings } = calculateTtl({
    increment: 0,
    backendTtl: p.tokenTtl,
    period: p.tokenPeriod,
    backendMaxTtl: p.tokenMaxTtl,
    explicitMaxTtl: p.tokenExplicitMaxTtl,
    start: Math.floor(Date.now() / 1000),
    sysMaxTtl: bounds.max,
    sysDefaultTtl: bounds.def,
  });
  // The token store renews login tokens without asking this mount, so the role's token_max_ttl is
  // recorded as the token's explicit max TTL: a renewal can then never outlive it.
  let explicitMaxTtl = p.tokenExplicitMaxTtl;
  if (p.tokenPeriod === 0 && p.tokenMaxTtl > 0 && (explicitMaxTtl === 0 || p.tokenMaxTtl < explicitMaxTtl)) explicitMaxTtl = p.tokenMaxTtl;

  const source = view.mount().path.replace(/\/$/, "").replace(/\//g, "-");
  const displayName = l.displayName === "" ? source : `${source}-${l.displayName}`;
  const params = {
    policies,
    orphan: true,
    path: l.req.path,
    meta: l.meta,
    displayName,
    numUses: p.tokenNumUses,
    ttl,
    period: p.tokenPeriod,
    explicitMaxTtl,
    // The store starts a periodic token at its period; bound it by the TTL computed above.
    maxTtl: p.tokenPeriod > 0 ? ttl : undefined,
    renewable: true,
    noDefaultPolicy: p.tokenNoDefaultPolicy,
    // Enforced on every use of the token, not only at login (core.resolveToken).
    boundCidrs,
    type,
  };
  const { token, entry } = l.namespace === undefined ? await view.tokens.create(params) : await view.tokens.createIn(l.namespace, params);
  const auth: AuthResponse = {
    clientToken: token,
    accessor: entry.accessor,
    policies: entry.policies,
    tokenPolicies: entry.policies,
    metadata: entry.meta,
    leaseDuration: entry.ttl,
    renewable: entry.renewable && entry.expireTime > 0,
    entityId: entry.entityId,
    tokenType: entry.type,
    orphan: true,
    numUses: entry.numUses,
  };
  const resp: Response = { auth };
  if (warnings.length > 0) resp.warnings = warnings;
  return resp;
}
