/**
 * The one HTTP entry for every wire format: picks the format by URL prefix, enforces the listener's
 * limits, runs the translated request through `Core.handleRequest`, and turns anything a handler lets
 * escape into a logged internal error (the client learns nothing that could carry a secret).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { ArcaError, isArcaError } from "../common/errors.js";
import type { Core } from "../core/core.js";
import type { Request } from "../core/framework/request.js";
import type { Logger } from "../server/log.js";
import type { ServerMetrics } from "../server/metrics.js";
import { readBody } from "./read-body.js";
import type { QueryParams, WireFormat, WireInput } from "./wire-format.js";

const NO_QUERY: QueryParams = new URLSearchParams();

export interface FrontDoorOptions {
  core: Core;
  logger: Logger;
  /** Bytes; larger bodies are refused with 413 before any format sees them. */
  maxRequestSize: number;
  metrics?: ServerMetrics;
  /** Tried in order; the last is the fallback for paths no format claims (it answers its own 404). */
  formats: readonly WireFormat[];
}

export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export function createFrontDoor(opts: FrontDoorOptions): HttpHandler {
  const { core, logger, maxRequestSize, metrics, formats } = opts;
  if (formats.length === 0) throw new Error("a front door needs at least one wire format");
  const fallback = formats[formats.length - 1];
  const handle = async (httpReq: IncomingMessage, res: ServerResponse): Promise<{ mount: string; operation: string }> => {
    const url = httpReq.url ?? "/";
    const q = url.indexOf("?");
    const pathname = q === -1 ? url : url.slice(0, q);
    const format = formats.length === 1 ? fallback : (formats.find((f) => f.matches(pathname)) ?? fallback);
    let body: Promise<Buffer> | undefined;
    const input: WireInput = {
      http: httpReq,
      pathname,
      query: q === -1 ? NO_QUERY : new URLSearchParams(url.slice(q + 1)),
      readBody: () => (body ??= readBody(httpReq, maxRequestSize)),
    };
    let request: Request | undefined;
    try {
      const t = await format.translate(input, res);
      if (t.kind === "answered") return { mount: t.mount, operation: t.operation };
      request = t.request;
      const resp = await core.handleRequest(t.request, t.namespaceHeader);
      t.render(res, resp);
      return { mount: request.mountPoint, operation: request.operation };
    } catch (err) {
      const seen = { mount: request?.mountPoint ?? "", operation: request?.operation ?? "" };
      if (isArcaError(err) && err.kind !== "internal") {
        format.renderError(res, input, err);
        return seen;
      }
      // Internal errors are logged by request id; clients get no detail that could carry secrets.
      logger.error({ requestId: request?.id, path: request?.path, format: format.name, err: err instanceof Error ? err.message : String(err) }, "internal error");
      if (!res.headersSent) format.renderError(res, input, new ArcaError("internal", "internal error"));
      else res.destroy();
      return seen;
    }
  };
  if (!metrics) {
    return async (httpReq, res) => {
      await handle(httpReq, res);
    };
  }
  return async (httpReq, res) => {
    const started = process.hrtime.bigint();
    const seen = await handle(httpReq, res);
    metrics.observe({ mount: seen.mount, operation: seen.operation, status: res.statusCode, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
  };
}
