// Built-in policies, as OpenBao ships them (`vault/policy_store.go`).
//
// `default` is written to storage on first unseal and may then be edited (not deleted); `root` never
// exists in storage and cannot be written; `response-wrapping` is internal and not assignable.

import { normalisePolicyName, parsePolicy, type Policy } from "./policy.js";

export const ROOT_POLICY_NAME = "root";
export const DEFAULT_POLICY_NAME = "default";
export const RESPONSE_WRAPPING_POLICY_NAME = "response-wrapping";

/** Policies that cannot be created, updated or deleted through the API. */
export const IMMUTABLE_POLICIES: readonly string[] = [ROOT_POLICY_NAME, RESPONSE_WRAPPING_POLICY_NAME];
/** Policies that cannot be deleted (`default` may be edited). */
export const UNDELETABLE_POLICIES: readonly string[] = [ROOT_POLICY_NAME, DEFAULT_POLICY_NAME];
/** Policies that cannot be attached to tokens. */
export const NON_ASSIGNABLE_POLICIES: readonly string[] = [RESPONSE_WRAPPING_POLICY_NAME];

// OpenBao's text verbatim (whitespace included), so `GET sys/policies/acl/default` matches byte for byte.
// The identity/entity lines use templating, which we parse but never match yet (see policy.ts).
// Vault Enterprise additionally grants `sys/control-group/request`; OpenBao has no control groups.
export const DEFAULT_POLICY_TEXT = `
# Allow tokens to look up their own properties
path "auth/token/lookup-self" {
    capabilities = ["read"]
}

# Allow tokens to renew themselves
path "auth/token/renew-self" {
    capabilities = ["update"]
}

# Allow tokens to revoke themselves
path "auth/token/revoke-self" {
    capabilities = ["update"]
}

# Allow a token to look up its own capabilities on a path
path "sys/capabilities-self" {
    capabilities = ["update"]
}

# Allow a token to look up its own entity by id or name
path "identity/entity/id/{{identity.entity.id}}" {
  capabilities = ["read"]
}
path "identity/entity/name/{{identity.entity.name}}" {
  capabilities = ["read"]
}


# Allow a token to look up its resultant ACL from all policies. This is useful
# for UIs. It is an internal path because the format may change at any time
# based on how the internal ACL features and capabilities change.
path "sys/internal/ui/resultant-acl" {
    capabilities = ["read"]
}

# Allow a token to renew a lease via lease_id in the request body; old path for
# old clients, new path for newer
path "sys/renew" {
    capabilities = ["update"]
}
path "sys/leases/renew" {
    capabilities = ["update"]
}

# Allow looking up lease properties. This requires knowing the lease ID ahead
# of time and does not divulge any sensitive information.
path "sys/leases/lookup" {
    capabilities = ["update"]
}

# Allow a token to manage its own cubbyhole
path "cubbyhole/*" {
    capabilities = ["create", "read", "update", "delete", "list"]
}

# Allow a token to wrap arbitrary values in a response-wrapping token
path "sys/wrapping/wrap" {
    capabilities = ["update"]
}

# Allow a token to look up the creation time and TTL of a given
# response-wrapping token
path "sys/wrapping/lookup" {
    capabilities = ["update"]
}

# Allow a token to unwrap a response-wrapping token. This is a convenience to
# avoid client token swapping since this is also part of the response wrapping
# policy.
path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}

# Allow general purpose tools
path "sys/tools/hash" {
    capabilities = ["update"]
}
path "sys/tools/hash/*" {
    capabilities = ["update"]
}

# Allow a token to make requests to the Authorization Endpoint for OIDC providers.
path "identity/oidc/provider/+/authorize" {
    capabilities = ["read", "update"]
}
`;

/** Attached to response-wrapping tokens so unwrapping always works. */
export const RESPONSE_WRAPPING_POLICY_TEXT = `
path "cubbyhole/response" {
    capabilities = ["create", "read"]
}

path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}
`;

/** The `root` policy: no rules; the ACL treats the name itself as "everything allowed". Frozen. */
export const ROOT_POLICY: Policy = Object.freeze({
  name: ROOT_POLICY_NAME,
  raw: "",
  paths: Object.freeze([]),
  templated: false,
});

export function isImmutablePolicy(name: string): boolean {
  return IMMUTABLE_POLICIES.includes(normalisePolicyName(name));
}

export function defaultPolicy(): Promise<Policy> {
  return parsePolicy(DEFAULT_POLICY_NAME, DEFAULT_POLICY_TEXT);
}

export function responseWrappingPolicy(): Promise<Policy> {
  return parsePolicy(RESPONSE_WRAPPING_POLICY_NAME, RESPONSE_WRAPPING_POLICY_TEXT);
}
