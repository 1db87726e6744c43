/**
 * One registry of error kinds. Every error that can reach a client is an ArcaError with an HTTP status;
 * the wire layer (http/vault, later acme and barbican) renders it in its own envelope. Anything else that
 * escapes a handler is an internal error: logged by request id, answered as a bare 500 without detail.
 */
export type ErrorKind =
  | "invalid_request" // 400
  | "permission_denied" // 403
  | "not_found" // 404
  | "unsupported_operation" // 405
  | "conflict" // 409 (never used where OpenBao answers 400)
  | "payload_too_large" // 413
  | "unsupported_media_type" // 415
  | "rate_limited" // 429
  | "internal" // 500
  | "upstream" // 502
  | "sealed" // 503
  | "unavailable"; // 503

const STATUS: Record<ErrorKind, number> = {
  invalid_request: 400,
  permission_denied: 403,
  not_found: 404,
  unsupported_operation: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  upstream: 502,
  sealed: 503,
  unavailable: 503,
};

export class ArcaError extends Error {
  readonly kind: ErrorKind;
  readonly status: number;
  /** Extra messages rendered after the first one in `errors: [...]`. */
  readonly details: string[];
  /** Optional `data` object rendered beside `errors` (OpenBao's RespondErrorAndData, e.g. KV deleted version). */
  readonly data: Record<string, unknown> | undefined;

  constructor(kind: ErrorKind, message: string, opts: { details?: string[]; data?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "ArcaError";
    this.kind = kind;
    this.status = STATUS[kind];
    this.details = opts.details ?? [];
    this.data = opts.data;
  }
}

export const invalidRequest = (message: string): ArcaError => new ArcaError("invalid_request", message);
export const permissionDenied = (): ArcaError => new ArcaError("permission_denied", "permission denied");
export const notFound = (message = ""): ArcaError => new ArcaError("not_found", message);
export const unsupportedPath = (): ArcaError => new ArcaError("not_found", "unsupported path");
export const unsupportedOperation = (): ArcaError => new ArcaError("unsupported_operation", "unsupported operation");
export const sealedError = (): ArcaError => new ArcaError("sealed", "Vault is sealed");

export function isArcaError(err: unknown): err is ArcaError {
  return err instanceof ArcaError;
}
