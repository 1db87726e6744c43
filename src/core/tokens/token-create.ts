/** `auth/token/create*`: policy, TTL and parent rules of a new token, as OpenBao's token store applies them. */
import { invalidRequest } from "../../common/errors.js";
import type { HandlerContext } from "../framework/path.js";
import type { Fields } from "../framework/fields.js";
import type { Response } from "../framework/request.js";
import { NON_ASSIGNABLE_POLICIES } from "../policy/builtin.js";
import type { TokenRole } from "./token-entry.js";
import { calculateTtl, containsGlob, removeDuplicates, sanitizePolicies } from "./token-rules.js";
import { leaseBounds, type Env } from "./token-env.js";
import { authFor, policyWarnings } from "./token-responses.js";

/** OpenBao's `displayNameSanitize`. */
const DISPLAY_NAME_SANITIZE = /[^a-zA-Z0-9-]/g;

export const CREATE_FIELDS = {
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

export async function handleCreate(env: Env, ctx: CreateCtx, orphan: boolean, roleName: string): Promise<Response> {
  const { ns } = env;
  const { req, fields: f } = ctx;
  // A parent namespace's token acting here is looked up in its own store.
  const caller = await env.core.resolveCaller(req.caller);
  const parent = caller?.entry;
  if (!parent) throw invalidRequest("parent token lookup failed: no parent found");
  if (parent.type === "batch") throw invalidRequest("batch tokens cannot create more tokens");
  // -1 is a limited-use token on its last use: still limited.
  if (parent.numUses !== 0) throw invalidRequest("restricted use token cannot generate child tokens");

  let role: TokenRole | undefined;
  if (roleName !== "") {
    role = await ns.tokens.readRole(roleName);
    if (!role) throw invalidRequest(`unknown role ${roleName}`);
  }
  // Root or sudo on the requested path (OpenBao's SudoPrivilege), as the pipeline decided it.
  const isSudo = req.sudo === true;

  let typeStr = f.type ?? "";
  if (role) {
    if (role.tokenType === "default-batch" && typeStr === "") typeStr = "batch";
    else if (role.tokenType === "service" || role.tokenType === "batch") typeStr = role.tokenType;
  }
  if (typeStr !== "" && typeStr !== "service" && typeStr !== "batch") throw invalidRequest("invalid 'token_type' value");
  const batch = typeStr === "batch";
  if (batch) {
    // What a batch token cannot carry, in OpenBao's order and words.
    const badReason = (f.explicit_max_ttl ?? 0) !== 0 ? "explicit_max_ttl" : (f.num_uses ?? 0) !== 0 ? "num_uses" : (f.period ?? 0) !== 0 ? "period" : "";
    if (badReason !== "") throw invalidRequest(`batch tokens cannot have "${badReason}" set`);
  }

  const numUsesIn = f.num_uses ?? 0;
  if (numUsesIn < 0) throw invalidRequest("number of uses cannot be negative");
  if (f.entity_alias) {
    if (!role) throw invalidRequest("'entity_alias' is only allowed in combination with token role");
    const alias = f.entity_alias.toLowerCase();
    const allowed = role.allowedEntityAliases ?? [];
    if (!allowed.includes(alias) && !containsGlob(allowed, alias)) throw invalidRequest("invalid 'entity_alias' value");
    throw invalidRequest("entity aliases are not supported");
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
    if (!isSudo) throw invalidRequest("root or sudo privileges required to specify token id");
    if (id.startsWith("hvs.")) throw invalidRequest("custom token ID cannot have the 'hvs.' prefix");
    if (id.startsWith("s.")) throw invalidRequest("custom token ID cannot have the 's.' prefix");
    if (id.includes(".")) throw invalidRequest("custom token ID cannot have a '.' in the value");
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
            throw invalidRequest(
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
        if (dis.includes(p) || containsGlob(disGlob, p)) throw invalidRequest(`token policy "${p}" is disallowed by this role`);
      }
    }
    requested = final;
  } else if (requested.length === 0) {
    // Inherit the parent's policies; "default" only if the parent has it.
    requested = sanitizePolicies(parent.policies, false);
  } else if (!isSudo) {
    const input = sanitizePolicies(requested, false);
    const mine = sanitizePolicies(parent.policies, false);
    if (!input.every((p) => mine.includes(p))) throw invalidRequest("child policies must be subset of parent");
    if (!noDefault && parent.policies.includes("default")) addDefault = true;
  } else {
    addDefault = !noDefault;
  }
  let policies = sanitizePolicies(requested, addDefault);
  if (noDefault) policies = policies.filter((p) => p !== "default");
  for (const p of policies) if (NON_ASSIGNABLE_POLICIES.includes(p)) throw invalidRequest(`cannot assign policy "${p}"`);
  if (policies.includes("root") && !parent.policies.includes("root")) {
    throw invalidRequest("root tokens may not be created without parent token being root");
  }
  if (batch && policies.includes("root")) throw invalidRequest("batch tokens cannot be root tokens");

  // Parentage.
  let isOrphan = orphan;
  if (role) isOrphan = role.orphan;
  else if (f.no_parent) {
    if (!isSudo) throw invalidRequest("root or sudo privileges required to create orphan token");
    isOrphan = true;
  }

  // TTLs.
  const requestExplicitMaxTtl = f.explicit_max_ttl ?? 0;
  const requestPeriod = f.period ?? 0;
  let explicitMaxTtl = requestExplicitMaxTtl;
  let period = requestPeriod;
  if (period > 0 && !isSudo) throw invalidRequest("root or sudo privileges required to create periodic token");
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
    if (parent.expireTime !== 0) throw invalidRequest("expiring root tokens cannot create non-expiring root tokens");
    renewable = false;
  }
  if (batch) renewable = false;

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
    type: batch ? "batch" : "service",
  });
  warnings.push(...(await policyWarnings(env, entry.policies)));
  return { auth: authFor(entry, token, entry.ttl), warnings };
}

/** Go's %q of a []string: ["a" "b"]. */
function goQuoteList(items: readonly string[]): string {
  return `[${items.map((i) => JSON.stringify(i)).join(" ")}]`;
}
