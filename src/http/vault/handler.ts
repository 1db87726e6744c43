/**
 * The OpenBao wire format: HTTP request → logical Request → core → envelope. Nothing here decides
 * policy or touches storage; it only translates.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ArcaError } from "../../common/errors.js";
import { namespaceUnavailableError, type Core } from "../../core/core.js";
import { headerSegments } from "../../core/namespaces/namespace-entry.js";
import { parseBool } from "../../core/framework/fields.js";
import { headerFields, rawMediaType, type Operation, type Request, type Response } from "../../core/framework/request.js";
import { DurationError, parseDuration } from "../../core/framework/duration.js";
import { setOwn } from "../../core/own-keys.js";
import { parseBody } from "./body.js";
import { isEmpty, renderSuccess } from "./envelope.js";
import { BARE_SYS_PATHS, handleRawSys, isSnapshotRestore, RAW_SYS_PATHS, restoreSnapshotRequest, sealedNoop } from "./sys-raw.js";
import { helpFor } from "./help.js";
import { connectionInfo } from "../connection-info.js";
import type { QueryParams, WireAnswered, WireCall, WireFormat, WireInput } from "../wire-format.js";

const JSON_HEADERS = { "Content-Type": "application/json", "Cache-Control": "no-store" };

/**
 * `namespace` is X-Vault-Namespace echoed back. It is passed to writeHead rather than set beforehand: a
 * header set with setHeader sends writeHead down Node's slower merging path, and the common cases are
 * object literals because spreads here showed in profiles (both measured on namespaced KV reads).
 */
function send(res: ServerResponse, status: number, body: unknown, extra?: Record<string, string | string[]>, namespace?: string): void {
  const echo = namespace === undefined ? undefined : { "X-Vault-Namespace": namespace };
  if (body === undefined) {
    res.writeHead(status, { "Cache-Control": "no-store", ...extra, ...echo });
    res.end();
    return;
  }
  const payload = JSON.stringify(body);
  const length = Buffer.byteLength(payload);
  let headers: Record<string, string | number | string[]>;
  if (extra !== undefined) headers = { ...JSON_HEADERS, "Content-Length": length, ...extra, ...echo };
  else if (namespace === undefined) headers = { "Content-Type": "application/json", "Cache-Control": "no-store", "Content-Length": length };
  else headers = { "Content-Type": "application/json", "Cache-Control": "no-store", "Content-Length": length, "X-Vault-Namespace": namespace };
  res.writeHead(status, headers);
  res.end(payload);
}

export function sendError(res: ServerResponse, err: ArcaError): void {
  const body: Record<string, unknown> = { errors: err.message === "" ? [] : [err.message, ...err.details] };
  if (err.data) body.data = err.data;
  send(res, err.status, body);
}

function operationFor(method: string, query: QueryParams): Operation {
  switch (method) {
    // HEAD reads without a body (Node drops it); the request carries `head` for paths that answer it differently.
    case "HEAD":
    case "GET": {
      const list = query.get("list");
      const scan = query.get("scan");
      const isList = list !== null && parseBool(list) === true;
      const isScan = scan !== null && parseBool(scan) === true;
      if (isList && isScan) throw new ArcaError("invalid_request", "cannot list and scan at the same time");
      return isList ? "list" : isScan ? "scan" : "read";
    }
    case "POST":
    case "PUT":
      return "update";
    case "PATCH":
      return "patch";
    case "DELETE":
      return "delete";
    default:
      throw new ArcaError("unsupported_operation", "unsupported operation");
  }
}

/** Decodes and validates the path below /v1/. */
function logicalPath(rawPath: string): string {
  let path: string;
  // Without a `%` there is nothing to decode (and nothing that could fail to decode).
  if (!rawPath.includes("%")) path = rawPath;
  else {
    try {
      path = decodeURIComponent(rawPath);
    } catch {
      throw new ArcaError("invalid_request", "invalid path encoding");
    }
  }
  if (path.includes("\0")) throw new ArcaError("invalid_request", "invalid path: contains a NUL byte");
  if (path.startsWith("/")) path = path.replace(/^\/+/, "");
  // A path with no `.` at all cannot hold a `.` or `..` segment.
  if (path.includes(".") && path.split("/").some((seg) => seg === ".." || seg === ".")) {
    throw new ArcaError("invalid_request", "invalid path: relative segments are not allowed");
  }
  if (path.length > 4096) throw new ArcaError("invalid_request", "invalid path: too long");
  return path;
}

function queryData(query: QueryParams): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of query) {
    if (k === "list" || k === "scan" || k === "help") continue;
    const prev = Object.hasOwn(out, k) ? out[k] : undefined;
    setOwn(out, k, prev === undefined ? v : Array.isArray(prev) ? [...(prev as unknown[]), v] : [prev, v]);
  }
  return out;
}

function clientToken(req: IncomingMessage): string | undefined {
  const header = req.headers["x-vault-token"];
  if (typeof header === "string" && header !== "") return header;
  const auth = req.headers.authorization;
  if (typeof auth === "string" && auth.startsWith("Bearer ")) return auth.slice(7).trim() || undefined;
  return undefined;
}

/** X-Vault-Namespace (the name Vault, OpenBao and their clients use), when set. */
function namespaceHeader(req: IncomingMessage): string | undefined {
  const header = req.headers["x-vault-namespace"];
  return typeof header === "string" && header.trim() !== "" ? header.trim() : undefined;
}

function wrapTtl(req: IncomingMessage): number | undefined {
  const raw = req.headers["x-vault-wrap-ttl"];
  if (typeof raw !== "string" || raw === "") return undefined;
  try {
    const ttl = parseDuration(raw);
    if (ttl < 0) throw new ArcaError("invalid_request", "wrap ttl must be positive");
    return ttl;
  } catch (err) {
    if (err instanceof DurationError) throw new ArcaError("invalid_request", "error parsing wrap ttl");
    throw err;
  }
}

function writeResponse(res: ServerResponse, req: Request, resp: Response | undefined, namespace: string | undefined): void {
  if (resp?.raw) {
    const headers: Record<string, string | string[]> = { "Content-Type": resp.raw.contentType, "Cache-Control": "no-store", ...headerFields(resp.raw.headers) };
    if (namespace !== undefined) headers["X-Vault-Namespace"] = namespace;
    res.writeHead(resp.raw.status, headers);
    const stream = resp.raw.stream;
    if (stream === undefined) res.end(resp.raw.body);
    // Headers are gone by the time a stream can fail: the cut connection is how the client learns it.
    else pipeline(Readable.from(stream), res).catch(() => res.destroy());
    return;
  }
  if (req.operation === "list" || req.operation === "scan") {
    const keys = resp?.data?.keys;
    if (!Array.isArray(keys) || keys.length === 0) {
      send(res, 404, { errors: [] }, undefined, namespace);
      return;
    }
  }
  // A read that finds nothing is a 404, as OpenBao answers a nil response to a read.
  if (req.operation === "read" && isEmpty(resp)) {
    send(res, 404, { errors: [] }, undefined, namespace);
    return;
  }
  if (isEmpty(resp)) {
    send(res, resp?.status ?? 204, undefined, resp?.headers && headerFields(resp.headers), namespace);
    return;
  }
  send(res, resp?.status ?? 200, renderSuccess(req, resp ?? {}), resp?.headers && headerFields(resp.headers), namespace);
}

/** The OpenBao wire format: everything under /v1/ (and, as the fallback format, a 404 for anything else). */
export function vaultWireFormat(core: Core): WireFormat {
  return {
    name: "vault",
    matches: (pathname) => pathname.startsWith("/v1/"),
    translate: (input, res) => translate(core, input, res),
    renderError: (res, input, err) => {
      const namespace = namespaceHeader(input.http);
      if (namespace !== undefined && !res.headersSent) res.setHeader("X-Vault-Namespace", namespace);
      sendError(res, err);
    },
  };
}

async function translate(core: Core, input: WireInput, res: ServerResponse): Promise<WireCall | WireAnswered> {
  const { http: httpReq, pathname: rawPath, query } = input;
  if (!rawPath.startsWith("/v1/")) {
    send(res, 404, { errors: [] });
    return { kind: "answered", mount: "", operation: "" };
  }
  const path = logicalPath(rawPath.slice(4));
  const method = httpReq.method ?? "GET";
  if (method === "PATCH") {
    const ct = (httpReq.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
    if (ct !== "application/merge-patch+json") {
      throw new ArcaError("unsupported_media_type", "PATCH requires the application/merge-patch+json content type");
    }
  }
  const hasBody = method === "POST" || method === "PUT" || method === "PATCH";
  const rawBody = hasBody ? await input.readBody() : undefined;
  // Protocol bodies (OCSP, ACME's JWS, DER and PEM uploads) reach the core as bytes, for the paths that
  // declare them; every other body is OpenBao's JSON (or form) field set.
  const mediaType = rawBody === undefined ? undefined : rawMediaType(httpReq.headers["content-type"]);
  const restore = isSnapshotRestore(path, method);
  const body = rawBody === undefined || mediaType !== undefined || restore ? {} : parseBody(rawBody);
  const token = clientToken(httpReq);
  // Echoed back on every answer, as OpenBao does, so clients can tell which namespace answered.
  const namespace = namespaceHeader(httpReq);

  if (restore) {
    if (namespace !== undefined && headerSegments(namespace).length > 0) throw namespaceUnavailableError();
    send(res, 200, await restoreSnapshotRequest(core, rawBody ?? Buffer.alloc(0)), undefined, namespace);
    return { kind: "answered", mount: path, operation: "update" };
  }

  if (RAW_SYS_PATHS.has(path)) {
    if (namespace !== undefined && headerSegments(namespace).length > 0) throw namespaceUnavailableError();
    const r = await handleRawSys(core, path, method, query, hasBody ? body : queryData(query), token);
    send(res, r.status, r.body, undefined, namespace);
    return { kind: "answered", mount: path, operation: method.toLowerCase() };
  }
  if (sealedNoop(core, path, method) && (namespace === undefined || headerSegments(namespace).length === 0)) {
    send(res, 204, undefined, undefined, namespace);
    return { kind: "answered", mount: path, operation: method.toLowerCase() };
  }
  const bare = BARE_SYS_PATHS.has(path);
  if (bare && !(await core.isInitialized())) throw new ArcaError("invalid_request", "server is not yet initialized");
  const help = query.get("help");
  if (help !== null && parseBool(help) === true && method === "GET") {
    send(res, 200, await helpFor(core, path, token, namespace), undefined, namespace);
    return { kind: "answered", mount: "", operation: "help" };
  }
  const operation = operationFor(method, query);
  const wrap = wrapTtl(httpReq);
  let reqPath = path;
  if ((operation === "list" || operation === "scan") && !reqPath.endsWith("/")) reqPath += "/";
  const connection = connectionInfo(httpReq.socket);
  const request = core.newRequest({
    operation,
    path: reqPath,
    data: hasBody ? body : queryData(query),
    ...(rawBody !== undefined && mediaType !== undefined ? { body: { mediaType, bytes: rawBody } } : {}),
    clientToken: token,
    remoteAddress: httpReq.socket.remoteAddress ?? "",
    ...(connection !== undefined ? { connection } : {}),
    ...(method === "HEAD" ? { head: true } : {}),
    // The bare answers have no wrap_info to carry a wrapping token (OpenBao's raw handlers ignore the header).
    wrapTtl: bare ? undefined : wrap,
    // Conditional GETs of CA certificates and CRLs (PKI answers 304 Not Modified).
    ...(typeof httpReq.headers["if-modified-since"] === "string" ? { headers: { "if-modified-since": httpReq.headers["if-modified-since"] } } : {}),
  });
  return {
    kind: "call",
    request,
    namespaceHeader: namespace,
    render: (r, resp) => {
      if (bare) send(r, resp?.data ? 200 : 204, resp?.data ?? undefined, undefined, namespace);
      else writeResponse(r, request, resp, namespace);
    },
  };
}
