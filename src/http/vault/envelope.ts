/**
 * The OpenBao JSON envelope, success and error (sdk/logical/translate_response.go, response_util.go).
 */
import type { AuthResponse, Request, Response } from "../../core/framework/request.js";

/** sys paths whose `data` keys are also copied to the top level (OpenBao's "sys injector"). */
const SYS_INJECT = new Set([
  "sys/audit",
  "sys/audit-hash",
  "sys/auth",
  "sys/config/cors",
  "sys/capabilities",
  "sys/capabilities-accessor",
  "sys/capabilities-self",
  "sys/ha-status",
  "sys/key-status",
  "sys/mounts",
  "sys/policy",
  "sys/rotate",
  "sys/rotate/keyring",
  "sys/remount",
  "sys/wrapping/wrap",
]);

function shouldInject(path: string): boolean {
  if (SYS_INJECT.has(path) || SYS_INJECT.has(path.replace(/\/$/, ""))) return true;
  return path.startsWith("sys/audit-hash/");
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
    for (const [k, v] of Object.entries(resp.data)) if (!(k in body)) body[k] = v;
  }
  return body;
}

/** True when a response has nothing to say and is answered 204. */
export function isEmpty(resp: Response | undefined): boolean {
  return !resp || (resp.data == null && !resp.auth && !(resp.warnings && resp.warnings.length > 0) && !resp.raw);
}
