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

export interface Request {
  /** Unique per request; echoed as `request_id`. */
  id: string;
  operation: Operation;
  /** Path below /v1/, without a leading slash; LIST/SCAN paths end in "/". Inside `namespace` once resolved. */
  path: string;
  /** The namespace the request runs in (set by the core from X-Vault-Namespace and the path). */
  namespace: NamespaceRef;
  data: Record<string, unknown>;
  /** The raw client token, if any. Never logged; audit sees only its HMAC. */
  clientToken: string | undefined;
  caller: Caller | undefined;
  /**
   * Set by the pipeline once the token is authorised: the caller's policy grants `sudo` on this path (root
   * tokens always). Handlers that relax a rule for privileged callers read it here, never re-derive it.
   */
  sudo?: boolean;
  remoteAddress: string;
  /** Seconds; set from X-Vault-Wrap-TTL. */
  wrapTtl: number | undefined;
  /**
   * Request headers an engine may read, lower-case names. Only those the HTTP layer chooses to pass
   * (If-Modified-Since, for the PKI fetches' 304 answers); never the token or other credentials.
   */
  headers?: Record<string, string>;
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

export interface RawResponse {
  status: number;
  contentType: string;
  body: Buffer | string;
  headers?: Record<string, string>;
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
  headers?: Record<string, string>;
  /**
   * Work the pipeline runs once the response is audited, outside the namespace's request count: sys/seal
   * seals here, because sealing tears the audit devices down and its own response must be on record first.
   * Never sent to the client.
   */
  afterAudit?: () => Promise<void>;
}
