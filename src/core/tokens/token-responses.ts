/** What the token endpoints answer: the auth block of a new or renewed token, and lookup data. */

import type { AuthResponse } from "../framework/request.js";
import type { TokenEntry } from "./token-entry.js";
import { TokenStore } from "./token-store.js";
import type { Env } from "./token-env.js";

export function authFor(entry: TokenEntry, clientToken: string, leaseDuration: number): AuthResponse {
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

export function lookupData(entry: TokenEntry, id: string): Record<string, unknown> {
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

export async function policyWarnings(env: Env, policies: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of policies) if (!(await env.ns.policies.read(p))) out.push(`Policy "${p}" does not exist`);
  return out;
}
