/**
 * `POST auth/<mount>/login {role_id, secret_id}` (OpenBao's approle path_login.go). Every credential
 * failure answers the same 400 "invalid role or secret ID" so a caller never learns which half was
 * wrong. A secret ID's checks and its use count run in one storage transaction: two concurrent logins
 * can never both spend the last use, and a refused login (CIDR, token CIDR) spends none.
 */
import { ArcaError, permissionDenied } from "../../common/errors.js";
import { definePath, type PathSpec } from "../../core/framework/path.js";
import type { Fields } from "../../core/framework/fields.js";
import type { Request } from "../../core/framework/request.js";
import { getJson, putJson } from "../../core/view.js";
import { issueLoginToken } from "../token-fields.js";
import { addressInCidrs, cidrsAreSubset, normaliseAddress } from "../../core/cidr.js";
import { AppRoleStore, MAX_HMAC_INPUT, type AppRoleRole, type SecretIdEntry } from "./approle-store.js";
import type { AppRoleEnv } from "./approle-env.js";

const INVALID = "invalid role or secret ID";
const invalidCredentials = (): ArcaError => new ArcaError("invalid_request", INVALID);

function checkCidrs(req: Request, cidrs: readonly string[], what: "the secret ID" | "the role"): void {
  if (cidrs.length === 0) return;
  if (!addressInCidrs(req.remoteAddress, cidrs)) {
    throw new ArcaError("invalid_request", `source address ${JSON.stringify(normaliseAddress(req.remoteAddress))} unauthorized by CIDR restrictions on ${what}`);
  }
}

type Spend = { ok: true; entry: SecretIdEntry } | { ok: false };

/**
 * Validates and spends one use of a secret ID atomically. An expired secret ID is deleted on the way
 * (and the login refused), so that refusal commits rather than rolling back.
 */
async function spendSecretId(store: AppRoleStore, role: AppRoleRole, secretId: string, req: Request): Promise<SecretIdEntry> {
  if (Buffer.byteLength(secretId) > MAX_HMAC_INPUT) throw invalidCredentials();
  const secretIdHmac = store.hmac("secret_id", secretId);
  const key = store.secretIdKey(role.name, secretIdHmac);
  const result = await store.storage.transaction(async (txn): Promise<Spend> => {
    const entry = await getJson<SecretIdEntry>(txn, key);
    if (!entry || !AppRoleStore.sameHmac(entry.secretIdHmac, secretIdHmac)) return { ok: false };
    const now = Date.now();
    if (entry.expirationTime > 0 && entry.expirationTime <= now) {
      await store.destroyIn(txn, role.name, entry);
      return { ok: false };
    }
    // An accessor-less secret ID is a half-deleted one (OpenBao revokes it on sight).
    if ((await txn.get(`accessor/${store.hmac("accessor", entry.accessor)}`)) === undefined) {
      await txn.delete(key);
      return { ok: false };
    }
    // The role's bindings may have narrowed since the secret ID was issued.
    if (!cidrsAreSubset(role.secretIdBoundCidrs, entry.cidrList)) throw new ArcaError("invalid_request", "CIDR restrictions on the secret ID are no longer a subset of the role's");
    checkCidrs(req, entry.cidrList, "the secret ID");
    checkCidrs(req, role.secretIdBoundCidrs, "the role");
    const tokenCidrs = entry.tokenBoundCidrs.length > 0 ? entry.tokenBoundCidrs : role.tokenBoundCidrs;
    if (tokenCidrs.length > 0 && !addressInCidrs(req.remoteAddress, tokenCidrs)) throw permissionDenied();

    if (entry.numUses === 1) {
      await store.destroyIn(txn, role.name, entry);
    } else if (entry.numUses > 1) {
      entry.numUses -= 1;
      entry.lastUpdatedTime = now;
      await putJson(txn, key, entry);
    }
    return { ok: true, entry };
  });
  if (!result.ok) throw invalidCredentials();
  return result.entry;
}

export function loginPaths(env: AppRoleEnv): PathSpec<Fields>[] {
  return [
    definePath({
      pattern: "login",
      fields: {
        role_id: { type: "string", description: "Unique identifier of the Role. Required to be supplied when the 'bind_secret_id' constraint is set." },
        secret_id: { type: "string", default: "", description: "SecretID belong to the App role" },
      },
      operations: {
        update: async (ctx) => {
          const roleId = (ctx.fields.role_id ?? "").trim();
          if (roleId === "") throw new ArcaError("invalid_request", "missing role_id");
          if (Buffer.byteLength(roleId) > MAX_HMAC_INPUT) throw invalidCredentials();
          const store = await env.salt.open(ctx.storage);
          const role = await store.roleByRoleId(roleId);
          if (!role) throw invalidCredentials();

          let metadata: Record<string, string> = {};
          let tokenBoundCidrs = role.tokenBoundCidrs;
          if (role.bindSecretId) {
            const secretId = ctx.fields.secret_id.trim();
            if (secretId === "") throw new ArcaError("invalid_request", "missing secret_id");
            const entry = await spendSecretId(store, role, secretId, ctx.req);
            metadata = { ...entry.metadata };
            if (entry.tokenBoundCidrs.length > 0) tokenBoundCidrs = entry.tokenBoundCidrs;
          } else {
            checkCidrs(ctx.req, role.secretIdBoundCidrs, "the role");
          }
          // Always include the role name, for later filtering (as OpenBao does).
          metadata.role_name = role.name;
          return issueLoginToken({
            view: env.view,
            req: ctx.req,
            params: role,
            meta: metadata,
            displayName: "",
            boundCidrs: tokenBoundCidrs,
          });
        },
      },
      synopsis: "Issue a token based on the credentials supplied",
      description:
        "While the credential 'role_id' is required at all times, other credentials required depends on the properties App role to which the 'role_id' belongs to. The 'bind_secret_id' constraint (enabled by default) on the App role requires the 'secret_id' credential to be presented.",
    }),
  ];
}
