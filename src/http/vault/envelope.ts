/**
 * The OpenBao JSON envelope, success and error (sdk/logical/translate_response.go, response_util.go).
 */
import type { AuthResponse, Request, Response } from "../../core/framework/request.js";
import { setOwn } from "../../core/own-keys.js";

/**
 * OpenBao's "sys injector" (internal/http/handler.go injectDataIntoTopRoutes): for these routes every key
 * of `data` is also copied to the top level. They are Go ServeMux patterns, so one ending in `/` covers
 * its whole subtree (`sys/policy/` serves `sys/policy/ops`, `sys/mounts/` serves `sys/mounts/x/tune`)
 * and the others match exactly. Old clients (node-vault's getPolicy, hvac's list_mounted_secrets_engines)
 * read these keys at the top level.
 */
const SYS_INJECT_EXACT = new Set([
  "sys/audit",
  "sys/auth",
  "sys/config/cors",
  "sys/config/auditing/request-headers",
  "sys/capabilities",
  "sys/capabilities-accessor",
  "sys/capabilities-self",
  "sys/ha-status",
  "sys/key-status",
  "sys/mounts",
  "sys/policy",
  "sys/rekey/backup",
  "sys/rekey/recovery-key-backup",
  "sys/remount",
  "sys/rotate",
  "sys/rotate/keyring",
  "sys/wrapping/wrap",
]);
const SYS_INJECT_SUBTREES = ["sys/audit/", "sys/audit-hash/", "sys/auth/", "sys/config/auditing/request-headers/", "sys/mounts/", "sys/policy/"];

function shouldInject(path: string): boolean {
  // Every pattern is below sys/ (checked first: this runs for every response with data).
  if (!path.startsWith("sys/")) return false;
  // List requests carry a trailing slash the client did not send; the exact patterns still apply.
  if (SYS_INJECT_EXACT.has(path) || SYS_INJECT_EXACT.has(path.replace(/\/$/, ""))) return true;
  return SYS_INJECT_SUBTREES.some((prefix) => path.startsWith(prefix));
}

export function renderAuth(a: AuthResponse): Record<string, unknown> {
  return {
    client_token: a.clientToken,
    accessor: a.accessor,
    policies: a.policies,
    token_policies: a.tokenPolicies,
    // OpenBao renders an empty metadata map as null.
    metadata: Object.keys(a.metadata).length > 0 ? a.metadata : null,
    lease_duration: a.leaseDuration,
    renewable: a.renewable,
    entity_id: a.entityId,
    token_type: a.tokenType,
    orphan: a.orphan,
    mfa_requirement: null,
    num_uses: a.numUses,
  };
}

export function renderSuccess(req: Request, resp: Response): Record<string, unknown> {
  if (resp.wrapInfo) {
    const w = resp.wrapInfo;
    // A wrapped response shows nothing of what it wraps (and no request id), as OpenBao's.
    return {
      request_id: "",
      lease_id: "",
      renewable: false,
      lease_duration: 0,
      data: null,
      wrap_info: {
        token: w.token,
        accessor: w.accessor,
        ttl: w.ttl,
        creation_time: w.creationTime,
        creation_path: w.creationPath,
        ...(w.wrappedAccessor ? { wrapped_accessor: w.wrappedAccessor } : {}),
      },
      warnings: null,
      auth: null,
    };
  }
  const body: Record<string, unknown> = {
    request_id: req.id,
    lease_id: resp.leaseId ?? "",
    renewable: resp.renewable ?? false,
    lease_duration: resp.leaseDuration ?? 0,
    data: resp.data ?? null,
    wrap_info: null,
    warnings: resp.warnings && resp.warnings.length > 0 ? resp.warnings : null,
    auth: resp.auth ? renderAuth(resp.auth) : null,
    mount_type: req.mountType,
  };
  if (resp.data && shouldInject(req.path)) {
    for (const [k, v] of Object.entries(resp.data)) if (!Object.hasOwn(body, k)) setOwn(body, k, v);
  }
  return body;
}

/** True when a response has nothing to say and is answered 204. */
export function isEmpty(resp: Response | undefined): boolean {
  return !resp || (resp.data == null && !resp.auth && !resp.wrapInfo && !(resp.warnings && resp.warnings.length > 0) && !resp.raw);
}
