/**
 * The seam between HTTP and the core: a wire format (OpenBao's /v1 API today; Barbican's REST API next)
 * translates an HTTP request into the core's logical Request and the core's answer back into its own
 * bodies. Everything else is shared and lives outside the format: listeners, TLS, the request-size limit
 * (`readBody`), and the one pipeline (`Core.handleRequest`: token, policy, audit). A format never checks a
 * token or a policy and never writes audit entries; it only translates.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ArcaError } from "../common/errors.js";
import type { Request, Response } from "../core/framework/request.js";

/**
 * A request's query, read-only: a request without one gets a shared empty instance (no URLSearchParams
 * built per request), which nothing may write to.
 */
export type QueryParams = Pick<URLSearchParams, "get" | "getAll" | "has" | "entries" | "keys" | "values" | "forEach" | "size" | typeof Symbol.iterator>;

export interface WireInput {
  http: IncomingMessage;
  /** The URL path without its query, as sent (not decoded). */
  pathname: string;
  query: QueryParams;
  /** The request body within the listener's size limit (413 beyond it). Read once. */
  readBody(): Promise<Buffer>;
}

/** A request the format has translated: the front door runs it through the pipeline and hands the answer back. */
export interface WireCall {
  kind: "call";
  request: Request;
  /** The namespace the caller named outside the path (OpenBao's X-Vault-Namespace), if any. */
  namespaceHeader?: string;
  render(res: ServerResponse, resp: Response | undefined): void;
}

/**
 * The format answered without the pipeline (OpenBao's unauthenticated sys/init, sys/health, help): what
 * the request metrics record it as.
 */
export interface WireAnswered {
  kind: "answered";
  mount: string;
  operation: string;
}

export interface WireFormat {
  /** For logs and metrics. */
  readonly name: string;
  /** Whether this format serves the URL path (by prefix: `/v1/`, `/toy/`). */
  matches(pathname: string): boolean;
  translate(input: WireInput, res: ServerResponse): Promise<WireCall | WireAnswered>;
  /**
   * A refusal or failure in this format's error body. Internal errors arrive here already stripped of
   * detail (the front door logs them).
   */
  renderError(res: ServerResponse, input: WireInput, err: ArcaError): void;
}
