/** Mount entries as OpenBao renders them in sys/mounts and sys/auth. */
import type { MountEntry } from "../mounts.js";
import { VERSION } from "../../common/version.js";

export function renderMountConfig(m: MountEntry): Record<string, unknown> {
  const c = m.config;
  const out: Record<string, unknown> = {
    default_lease_ttl: c.defaultLeaseTtl,
    max_lease_ttl: c.maxLeaseTtl,
    force_no_cache: c.forceNoCache,
  };
  if (c.listingVisibility) out.listing_visibility = c.listingVisibility;
  if (c.passthroughRequestHeaders.length) out.passthrough_request_headers = c.passthroughRequestHeaders;
  if (c.allowedResponseHeaders.length) out.allowed_response_headers = c.allowedResponseHeaders;
  if (c.auditNonHmacRequestKeys.length) out.audit_non_hmac_request_keys = c.auditNonHmacRequestKeys;
  if (c.auditNonHmacResponseKeys.length) out.audit_non_hmac_response_keys = c.auditNonHmacResponseKeys;
  if (c.allowedManagedKeys?.length) out.allowed_managed_keys = c.allowedManagedKeys;
  if (m.table === "auth") out.token_type = c.tokenType ?? "default-service";
  return out;
}

export function renderMount(m: MountEntry): Record<string, unknown> {
  return {
    accessor: m.accessor,
    config: renderMountConfig(m),
    description: m.description,
    external_entropy_access: m.externalEntropyAccess,
    local: m.local,
    options: m.options,
    plugin_version: "",
    running_plugin_version: `v${VERSION}+builtin.arca`,
    running_sha256: "",
    seal_wrap: m.sealWrap,
    type: m.type,
    uuid: m.uuid,
    deprecation_status: "supported",
  };
}
