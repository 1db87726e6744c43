/**
 * The Barbican (OpenStack Key Manager v1) wire format, under a prefix of the listener (`/barbican`): HTTP
 * → a request on the caller's project's `barbican/` mount → Barbican's JSON. Token, policy, audit and metrics
 * are the shared pipeline's; this module only translates (and, in dev-mode noauth, stands a short-lived
 * project token in for Barbican's unauthenticated context: projects.ts).
 *
 * Who the caller is:
 *   X-Auth-Token   an Arca token (any auth method); the project is the token's namespace.
 *   noauth (dev)   X-Project-Id names the project (a namespace, created on first use), X-Roles the roles
 *                  (default admin), X-User-Id the user; a token, when sent, still authorises.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { ArcaError } from "../../common/errors.js";
import type { Core } from "../../core/core.js";
import type { Request, Response } from "../../core/framework/request.js";
import { ACCEPT_HEADER, HREF_HEADER, USER_HEADER } from "../../engines/barbican/barbican-env.js";
import { BarbicanError } from "../../engines/barbican/barbican-error.js";
import { REASONS, errorBody, pythonJson } from "../../engines/barbican/python-json.js";
import type { WireAnswered, WireCall, WireFormat, WireInput } from "../wire-format.js";
import { KeystoneTokenExchange, type KeystoneExchangeResult } from "../../auth/keystone/exchange.js";
import { BARBICAN_MOUNT, ProjectDirectory } from "./projects.js";
import { policiesForRoles } from "./roles.js";
import { routeOf, type RouteMatch } from "./routes.js";

export interface BarbicanFormatOptions {
  /** URL prefix, e.g. "/barbican" ("" serves Barbican at the root of its own listener). */
  prefix: string;
  /** Dev mode only: X-Project-Id names the project without a token (Barbican's unauthenticated-context). */
  noauth: boolean;
  /** Base of the refs in answers (Barbican's host_href), e.g. "https://kms.example:8200/barbican"; default from Host. */
  hostHref?: string;
  /** A `keystone` auth mount (root namespace): X-Auth-Token values that are not Arca tokens are Keystone's. */
  keystoneMount?: string;
}

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });

/** Barbican's request body limit (max_allowed_request_size_in_bytes). */
export const MAX_BARBICAN_BODY = 25000;

const DESCRIBED_BY = { rel: "describedby", type: "text/html", href: "https://docs.openstack.org/" };
const MEDIA_TYPES = [{ base: "application/json", type: "application/vnd.openstack.key-manager-v1+json" }];

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
}

/** The microversion the client asked for (1.1 unlocks secret consumers); 1.0 otherwise. */
function microversion(req: IncomingMessage): string {
  const v = header(req, "openstack-api-version");
  return v !== undefined && /^key-manager\s+(1\.1|latest)$/i.test(v) ? "1.1" : "1.0";
}

function openstackHeaders(req: IncomingMessage, requestId: string | undefined): Record<string, string> {
  const h: Record<string, string> = { "openstack-api-version": `key-manager ${microversion(req)}`, vary: "openstack-api-version" };
  if (requestId !== undefined) h["x-openstack-request-id"] = `req-${requestId}`;
  return h;
}

function sendBody(res: ServerResponse, status: number, headers: Record<string, string>, body: string | Buffer | undefined): void {
  // Barbican's reason phrases (Node says "Payload Too Large" where WebOb says "Request Entity Too Large").
  const reason = REASONS[status];
  const all = { ...headers, "Content-Length": body === undefined ? 0 : Buffer.byteLength(body) };
  if (reason !== undefined) res.writeHead(status, reason, all);
  else res.writeHead(status, all);
  if (body === undefined) {
    res.end();
    return;
  }
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, headers: Record<string, string>, body: unknown): void {
  sendBody(res, status, { ...headers, "Content-Type": "application/json" }, pythonJson(body));
}

/** Whether the client asked for JSON (metadata) rather than a payload on GET /v1/secrets/{id}. */
function wantsJson(req: IncomingMessage): boolean {
  const accept = header(req, "accept");
  if (accept === undefined) return true;
  const types = accept.split(",").map((t) => t.split(";")[0].trim().toLowerCase());
  return types.some((t) => t === "application/json" || t === "*/*" || t === "application/*");
}

function mediaType(req: IncomingMessage): string {
  return (header(req, "content-type") ?? "").split(";")[0].trim().toLowerCase();
}

/** Barbican's words for a refusal the pipeline made (the engine words its own). */
function describe(err: ArcaError, route: RouteMatch | undefined, method: string): string {
  if (err instanceof BarbicanError) return err.message;
  switch (err.kind) {
    case "permission_denied": {
      const action = method === "GET" ? "retrieval" : method === "POST" ? "creation" : method === "DELETE" ? "deletion" : "update";
      return `${route?.resource ?? "Resource"} ${action} attempt not allowed - please review your user/project privileges`;
    }
    case "not_found":
    case "unsupported_operation":
      return "";
    case "payload_too_large":
      return "Provided information too large to process";
    default:
      return err.message;
  }
}

/** WebOb's 400 (not Barbican's error body, and none of its headers) for a request without X-Project-Id. */
function missingProject(res: ServerResponse): WireAnswered {
  sendJson(res, 400, {}, { message: "The server could not comply with the request since it is either malformed or otherwise incorrect.<br /><br />\nMissing X-Project-Id\n\n", code: "400 Bad Request", title: "Bad Request" });
  return { kind: "answered", mount: "barbican", operation: "refused" };
}

/** What one request carries between translate and renderError. */
interface Pending {
  route?: RouteMatch;
  requestId?: string;
  /** The noauth token issued for this request: forgotten if the pipeline refuses it (revoked meanwhile). */
  noauthToken?: string;
}

/** The Keystone token's exchange, or Barbican's 401-free refusal (a refused token is a 403 as for Arca tokens). */
async function exchangeOrRefuse(exchange: KeystoneTokenExchange, token: string, remote: string, route: RouteMatch, method: string): Promise<KeystoneExchangeResult> {
  try {
    return await exchange.exchange(token, remote);
  } catch (err) {
    if (err instanceof ArcaError && err.status < 500) throw new BarbicanError("permission_denied", describe(new ArcaError("permission_denied", ""), route, method));
    throw err;
  }
}

export function barbicanWireFormat(core: Core, opts: BarbicanFormatOptions): WireFormat {
  const keystoneExchange = opts.keystoneMount === undefined ? undefined : new KeystoneTokenExchange(core, { mountPath: `${opts.keystoneMount}/` });
  const projects = new ProjectDirectory(core);
  const prefix = opts.prefix.replace(/\/+$/, "");
  const pending = new WeakMap<IncomingMessage, Pending>();

  const baseOf = (req: IncomingMessage): string => {
    if (opts.hostHref !== undefined) return opts.hostHref.replace(/\/+$/, "");
    const tls = (req.socket as { encrypted?: boolean }).encrypted === true;
    return `${tls ? "https" : "http"}://${header(req, "host") ?? "localhost"}${prefix}`;
  };

  const versionEntry = (req: IncomingMessage) => ({ id: "v1", status: "stable", links: [{ rel: "self", href: `${baseOf(req)}/v1/` }, DESCRIBED_BY], "media-types": MEDIA_TYPES });

  async function translate(input: WireInput, res: ServerResponse): Promise<WireCall | WireAnswered> {
    const http = input.http;
    const method = (http.method ?? "GET").toUpperCase();
    const rest = input.pathname.slice(prefix.length);
    if (rest === "" || rest === "/") {
      sendJson(res, 300, openstackHeaders(http, undefined), { versions: { values: [versionEntry(http)] } });
      return { kind: "answered", mount: "barbican", operation: "versions" };
    }
    const state: Pending = {};
    pending.set(http, state);
    if (!rest.startsWith("/v1")) throw new ArcaError("not_found", "");
    const v1 = rest.slice(3);
    if (v1 === "" || v1 === "/") {
      // As Barbican's unauthenticated context: even the v1 root needs a project.
      if (opts.noauth && header(http, "x-project-id") === undefined && header(http, "x-auth-token") === undefined) return missingProject(res);
      sendJson(res, 200, openstackHeaders(http, randomUUID()), { version: versionEntry(http) });
      return { kind: "answered", mount: "barbican", operation: "version" };
    }
    if (!v1.startsWith("/")) throw new ArcaError("not_found", "");
    const route = routeOf(v1.slice(1).replace(/\/+$/, ""));
    state.route = route;
    if (!route) throw new ArcaError("not_found", "");
    if (!route.allow.includes(method)) {
      res.setHeader("Allow", route.allow.join(", "));
      throw new ArcaError("unsupported_operation", "");
    }
    const target = route.target(method, wantsJson(http));

    // Who calls, and in which project.
    const token = header(http, "x-auth-token");
    const projectHeader = opts.noauth ? header(http, "x-project-id") : undefined;
    const remote = http.socket.remoteAddress ?? "";
    const resolved = token === undefined ? undefined : await core.resolveToken(token, remote);
    // Not an Arca token: with a keystone mount, a Keystone token, exchanged for an Arca token of its project.
    const keystone = token !== undefined && !resolved && keystoneExchange ? await exchangeOrRefuse(keystoneExchange, token, remote, route, method) : undefined;
    let projectName: string | undefined = route.project ?? projectHeader ?? (resolved ? resolved.ns.path : keystone?.namespace);
    if (projectName === undefined && token === undefined) {
      if (opts.noauth) return missingProject(res);
      throw new BarbicanError("permission_denied", "Authentication required: send X-Auth-Token");
    }
    // An unknown token goes to the pipeline as it is (refused and audited there) in the root namespace.
    projectName ??= "";
    let ns;
    try {
      ns = await projects.byName(projectName, opts.noauth && token === undefined);
    } catch (err) {
      if (err instanceof ArcaError && err.status < 500) throw new BarbicanError(err.kind === "not_found" ? "permission_denied" : "invalid_request", err.kind === "not_found" ? describe(new ArcaError("permission_denied", ""), route, method) : `Invalid project: ${err.message}`);
      throw err;
    }
    let clientToken = keystone ? keystone.clientToken : token;
    let user: string | null = keystone ? (keystone.metadata.user_id ?? null) : null;
    if (clientToken === undefined) {
      // Dev-mode noauth (the only way here without a token): Barbican's defaults, admin when no roles are sent.
      user = header(http, "x-user-id") ?? null;
      const roles = header(http, "x-roles");
      clientToken = await projects.noauthToken(ns, roles === undefined ? ["barbican-admin"] : policiesForRoles(roles.split(",")), user);
    } else if (resolved) {
      const meta = resolved.entry.meta;
      user = meta.user_id ?? meta.username ?? (resolved.entry.entityId || null);
    }

    const data = await requestData(input, target.body, method);
    const headers: Record<string, string> = { [HREF_HEADER]: baseOf(http) };
    if (user !== null) headers[USER_HEADER] = user;
    const accept = header(http, "accept");
    if (accept !== undefined) headers[ACCEPT_HEADER] = accept;
    const request = core.newRequest({
      operation: target.operation,
      path: `${BARBICAN_MOUNT}${target.path}`,
      data,
      clientToken,
      remoteAddress: http.socket.remoteAddress ?? "",
      headers,
    });
    state.requestId = request.id;
    if (token === undefined) state.noauthToken = clientToken;
    return {
      kind: "call",
      request,
      namespaceHeader: ns.path === "" ? undefined : ns.path,
      render: (r, resp) => render(r, http, request, resp),
    };
  }

  function render(res: ServerResponse, http: IncomingMessage, request: Request, resp: Response | undefined): void {
    const headers = openstackHeaders(http, request.id);
    if (resp?.raw) {
      sendBody(res, resp.raw.status, { ...headers, "Content-Type": resp.raw.contentType }, resp.raw.body);
      return;
    }
    if (resp?.headers?.location !== undefined) headers.Location = resp.headers.location;
    if (resp?.data === undefined || resp.data === null) {
      sendBody(res, resp?.status ?? 204, headers, undefined);
      return;
    }
    sendJson(res, resp.status ?? 200, headers, resp.data);
  }

  return {
    name: "barbican",
    matches: (pathname) => pathname === prefix || pathname.startsWith(`${prefix}/`),
    translate,
    renderError: (res, input, err) => {
      const state = pending.get(input.http) ?? {};
      const method = (input.http.method ?? "GET").toUpperCase();
      const issued = state.noauthToken;
      // A refused noauth token is dropped from the cache only if it no longer resolves (revoked meanwhile):
      // a role's refusals must not mint a token each.
      if (issued !== undefined && err.kind === "permission_denied" && !(err instanceof BarbicanError)) {
        void core.resolveToken(issued).then((t) => t === undefined && projects.forgetNoauthToken(issued), () => undefined);
      }
      sendBody(res, err.status, { ...openstackHeaders(input.http, state.requestId ?? randomUUID()), "Content-Type": "application/json" }, errorBody(err.status, describe(err, state.route, method)));
    },
  };
}

/** The request's data: the query for reads, the JSON body, or (two-step upload) the raw payload. */
async function requestData(input: WireInput, kind: "none" | "json" | "payload", method: string): Promise<Record<string, unknown>> {
  if (kind === "none" && method === "GET") return Object.fromEntries([...input.query].filter(([k]) => k !== "__proto__"));
  if (kind === "none") return {};
  const body = await input.readBody();
  if (body.length > MAX_BARBICAN_BODY) throw new BarbicanError("payload_too_large", "Provided information too large to process");
  if (kind === "payload") {
    return { payload: body.toString("base64"), content_type: header(input.http, "content-type") ?? "", content_encoding: header(input.http, "content-encoding") ?? "" };
  }
  if (body.length === 0 && method === "DELETE") return {};
  if (mediaType(input.http) !== "application/json") throw new BarbicanError("unsupported_media_type", "Unexpected content type. Expected content types are: ['application/json']");
  let parsed: unknown;
  try {
    // Invalid UTF-8 is malformed (as Python's json refuses it), not silently replaced by U+FFFD.
    parsed = JSON.parse(STRICT_UTF8.decode(body));
  } catch {
    throw new BarbicanError("invalid_request", "Malformed JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new BarbicanError("invalid_request", "Malformed JSON");
  return parsed as Record<string, unknown>;
}
