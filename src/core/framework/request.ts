/**
 * The logical request and response: what every wire format is translated into and out of.
 * Nothing in here knows about HTTP.
 */
export type Operation = "create" | "read" | "update" | "patch" | "delete" | "list" | "scan";

/** A namespace as requests and audit entries name it: id ("root" for the root) and full path ("" for root). */
export interface NamespaceRef {
  id: string;
  path: string;
}

export const ROOT_NAMESPACE: NamespaceRef = Object.freeze({ id: "root", path: "" });

/** What the core knows about the caller once the token is resolved. */
export interface Caller {
  /** The namespace the token belongs to. */
  namespace: NamespaceRef;
  /** The token's accessor (safe to log and audit after HMAC). */
  accessor: string;
  /** Storage id of the token entry (a salted hash of the token, never the token itself). */
  tokenEntryId: string;
  policies: string[];
  displayName: string;
  entityId: string;
  metadata: Record<string, string>;
  tokenType: "service" | "batch";
  /** Absolute expiry, or undefined for tokens that never expire (root). */
  expireTime: Date | undefined;
}

/**
 * Media types a wire format hands to the core as bytes rather than parsing them as JSON: protocols whose
 * body is not a field set (ACME's JWS, OCSP and certificate uploads in DER or PEM). A path receives one
 * only when it declares it (`rawBody` on the path); any other path refuses it with 415.
 */
export const RAW_MEDIA_TYPES = [
  "application/jose+json",
  "application/ocsp-request",
  "application/pkix-cert",
  "application/pkix-crl",
  "application/pkcs10",
  "application/pem-certificate-chain",
  "application/x-pem-file",
  "application/octet-stream",
] as const;
export type RawMediaType = (typeof RAW_MEDIA_TYPES)[number];

/** A body passed through as bytes, with the media type it was sent as (parameters such as charset dropped). */
export interface RawBody {
  mediaType: RawMediaType;
  bytes: Buffer;
}

/** The raw media type named by a Content-Type header, if it is one (case and parameters ignored). */
export function rawMediaType(contentType: string | undefined): RawMediaType | undefined {
  if (contentType === undefined) return undefined;
  const type = contentType.split(";")[0].trim().toLowerCase();
  return (RAW_MEDIA_TYPES as readonly string[]).includes(type) ? (type as RawMediaType) : undefined;
}

/**
 * Who made a request that carried no token, as the path established it (an ACME account by its JWS key, a
 * Barbican project): audit records it in place of a token's identity. Never a secret: an id and a kind.
 */
export interface AuditIdentity {
  /** What kind of principal, e.g. "acme-account", "barbican-project". */
  kind: string;
  id: string;
  /** Shown as the audit entry's display_name. */
  displayName?: string;
}

/** What the transport knows about the connection a request came in on. */
export interface ConnectionInfo {
  /**
   * The client certificate chain the TLS handshake carried, leaf first, DER; empty when the client sent
   * none. Unverified: the listener asks for a certificate but leaves judging it to the cert auth method.
   */
  peerCertificates: readonly Buffer[];
}

export interface Request {
  /** Unique per request; echoed as `request_id`. */
  id: string;
  operation: Operation;
  /** Path below /v1/, without a leading slash; LIST/SCAN paths end in "/". Inside `namespace` once resolved. */
  path: string;
  /** The namespace the request runs in (set by the core from X-Vault-Namespace and the path). */
  namespace: NamespaceRef;
  data: Record<string, unknown>;
  /** A body of a raw media type (then `data` holds no body fields); only paths that declare `rawBody` accept it. */
  body?: RawBody;
  /** The raw client token, if any. Never logged; audit sees only its HMAC. */
  clientToken: string | undefined;
  caller: Caller | undefined;
  /**
   * Set by the pipeline once the token is authorised: the caller's policy grants `sudo` on this path (root
   * tokens always). Handlers that relax a rule for privileged callers read it here, never re-derive it.
   */
  sudo?: boolean;
  remoteAddress: string;
  /** Set for requests that came over TLS; absent for plain HTTP and for requests made inside the server. */
  connection?: ConnectionInfo;
  /** Seconds; set from X-Vault-Wrap-TTL. */
  wrapTtl: number | undefined;
  /**
   * Set by the wire format for an HTTP HEAD, which reaches the engine as a `read` whose body is dropped.
   * Only protocols that answer HEAD and GET differently read it (ACME's new-nonce: 200 vs 204, RFC 8555 §7.2).
   */
  head?: boolean;
  /**
   * Request headers an engine may read, lower-case names. Only those the HTTP layer chooses to pass
   * (If-Modified-Since, for the PKI fetches' 304 answers); never the token or other credentials.
   */
  headers?: Record<string, string>;
  /**
   * Set by a handler that authenticated its caller itself (a path with `unauthenticated: true` that checks
   * a JWS, say): the response's audit entry names this identity. Ignored when a token identified the caller.
   */
  auditIdentity?: AuditIdentity;
  /** Set by the router: the mount point that serves this request, e.g. "secret/". */
  mountPoint: string;
  /** Set by the router: the path inside the mount. */
  mountPath: string;
  mountAccessor: string;
  mountType: string;
}

export interface AuthResponse {
  clientToken: string;
  accessor: string;
  policies: string[];
  tokenPolicies: string[];
  metadata: Record<string, string>;
  leaseDuration: number;
  renewable: boolean;
  entityId: string;
  tokenType: "service" | "batch";
  orphan: boolean;
  numUses: number;
}

/**
 * The response headers a path may set, by name: every wire format renders them (ACME needs Replay-Nonce,
 * Location, Link and Retry-After; PKI's fetches Last-Modified). No free-form headers: a path cannot set
 * one a wire format owns (Content-Type, Cache-Control, X-Vault-Namespace).
 */
export interface ResponseHeaders {
  location?: string;
  /** ACME (RFC 8555 §6.5): a fresh anti-replay nonce. */
  replayNonce?: string;
  /** Each an RFC 8288 link value, e.g. `<https://…/directory>;rel="index"`; sent as one header per value. */
  link?: string[];
  /** Seconds the client should wait before retrying (RFC 9110 §10.2.3). */
  retryAfter?: number;
  /** An HTTP-date (RFC 9110 §5.6.7). */
  lastModified?: string;
}

/** HTTP header names of `ResponseHeaders`, in the order they are sent. */
const HEADER_NAMES: Record<keyof ResponseHeaders, string> = {
  location: "Location",
  replayNonce: "Replay-Nonce",
  link: "Link",
  retryAfter: "Retry-After",
  lastModified: "Last-Modified",
};

/** The declared headers as HTTP header fields (for wire formats). */
export function headerFields(h: ResponseHeaders | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (!h) return out;
  for (const key of Object.keys(HEADER_NAMES) as Array<keyof ResponseHeaders>) {
    const v = h[key];
    if (v === undefined) continue;
    out[HEADER_NAMES[key]] = Array.isArray(v) ? v : String(v);
  }
  return out;
}

export interface RawResponse {
  status: number;
  /** The answer's media type (application/pkix-cert, application/ocsp-response, application/problem+json). */
  contentType: string;
  body: Buffer | string;
  /** Sent instead of `body`, as it is produced (storage snapshots); a failure midway cuts the connection. */
  stream?: AsyncIterable<Buffer>;
  headers?: ResponseHeaders;
}

/** What a wrapped response carries instead of its data (`wrap_info`). */
export interface WrapInfo {
  token: string;
  accessor: string;
  ttl: number;
  creationTime: string;
  creationPath: string;
  wrappedAccessor?: string;
}

export interface Response {
  data?: Record<string, unknown> | null;
  auth?: AuthResponse;
  warnings?: string[];
  leaseId?: string;
  leaseDuration?: number;
  renewable?: boolean;
  /** A non-JSON answer (PKI CA/CRL fetches, OCSP, ACME). */
  raw?: RawResponse;
  /** An HTTP status other than the default (200, or 204 when there is no body). */
  status?: number;
  /** Set when the response was wrapped: data and auth are then withheld. */
  wrapInfo?: WrapInfo;
  /** Headers to add (e.g. Location for 201/307). */
  headers?: ResponseHeaders;
  /**
   * Work the pipeline runs once the response is audited, outside the namespace's request count: sys/seal
   * seals here, because sealing tears the audit devices down and its own response must be on record first.
   * Never sent to the client.
   */
  afterAudit?: () => Promise<void>;
}
