/**
 * ACME errors (RFC 8555 §6.7): problem documents (RFC 7807) of type `urn:ietf:params:acme:error:<type>`.
 * Every ACME answer that is not a success is one of these, never the OpenBao `{"errors":[…]}` envelope:
 * ACME clients read `type` to decide what to do (a `badNonce` is retried with the fresh nonce).
 */
import type { RawResponse, ResponseHeaders } from "../../../core/framework/request.js";

export type ProblemType =
  | "accountDoesNotExist"
  | "alreadyReplaced"
  | "alreadyRevoked"
  | "badCSR"
  | "badNonce"
  | "badPublicKey"
  | "badRevocationReason"
  | "badSignatureAlgorithm"
  | "connection"
  | "dns"
  | "externalAccountRequired"
  | "incorrectResponse"
  | "malformed"
  | "orderNotReady"
  | "rejectedIdentifier"
  | "serverInternal"
  | "tls"
  | "unauthorized"
  | "unsupportedIdentifier";

const DEFAULT_STATUS: Partial<Record<ProblemType, number>> = {
  accountDoesNotExist: 400,
  orderNotReady: 403,
  unauthorized: 403,
  serverInternal: 500,
};

export const PROBLEM_PREFIX = "urn:ietf:params:acme:error:";

/** An ACME error a handler throws; the ACME wrapper renders it as a problem document. */
export class AcmeProblem extends Error {
  readonly status: number;
  constructor(
    readonly type: ProblemType,
    detail: string,
    status?: number,
  ) {
    super(detail);
    this.name = "AcmeProblem";
    this.status = status ?? DEFAULT_STATUS[type] ?? 400;
  }

  /** The document as it is stored on a challenge or order (`error`) and sent. */
  toJson(): ProblemDocument {
    return { type: PROBLEM_PREFIX + this.type, detail: this.message, status: this.status };
  }
}

export interface ProblemDocument {
  type: string;
  detail: string;
  status: number;
}

export const problem = (type: ProblemType, detail: string, status?: number): AcmeProblem => new AcmeProblem(type, detail, status);

export function problemResponse(p: AcmeProblem, headers: ResponseHeaders): { raw: RawResponse } {
  return { raw: { status: p.status, contentType: "application/problem+json", body: JSON.stringify(p.toJson()), headers } };
}
