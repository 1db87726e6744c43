/**
 * Barbican's v1 URL space mapped onto the barbican engine's paths: which methods each resource allows
 * (405 with `Allow` otherwise), the logical operation and engine path for each, and how its body is read.
 */
import type { Operation } from "../../core/framework/request.js";

export type BodyKind = "none" | "json" | "payload";

export interface RouteTarget {
  /** Below the project's `barbican/` mount. */
  path: string;
  operation: Operation;
  body: BodyKind;
}

export interface RouteMatch {
  /** For Barbican's 403 wording: "Secret", "Container", … */
  resource: string;
  allow: readonly string[];
  target(method: string, wantsJson: boolean): RouteTarget;
  /** The project the request is about when it is not the caller's (project-quotas/{id}). */
  project?: string;
}

const ID = "([^/]+)";

interface RouteSpec {
  re: RegExp;
  resource: string;
  allow: readonly string[];
  target(method: string, m: RegExpExecArray, wantsJson: boolean): RouteTarget;
  project?: (m: RegExpExecArray) => string;
}

const crud = (path: string, extra: Partial<Record<string, RouteTarget>> = {}) => (method: string): RouteTarget =>
  extra[method] ??
  ({
    GET: { path, operation: "read", body: "none" },
    PUT: { path, operation: "update", body: "json" },
    PATCH: { path, operation: "patch", body: "json" },
    DELETE: { path, operation: "delete", body: "none" },
    POST: { path, operation: "update", body: "json" },
  } as Record<string, RouteTarget>)[method];

const collection = (path: string) => (method: string): RouteTarget =>
  method === "GET" ? { path: `${path}/`, operation: "list", body: "none" } : { path, operation: "update", body: "json" };

const ROUTES: RouteSpec[] = [
  { re: /^secrets$/, resource: "Secret", allow: ["GET", "POST"], target: collection("secrets") },
  {
    re: new RegExp(`^secrets/${ID}$`),
    resource: "Secret",
    allow: ["GET", "DELETE", "PUT"],
    target: (method, m, wantsJson) => {
      // A GET with a non-JSON Accept is Barbican's legacy payload retrieval; a PUT is the second upload step.
      if (method === "GET") return wantsJson ? { path: `secrets/${m[1]}`, operation: "read", body: "none" } : { path: `secrets/${m[1]}/payload`, operation: "read", body: "none" };
      if (method === "PUT") return { path: `secrets/${m[1]}/payload`, operation: "update", body: "payload" };
      return { path: `secrets/${m[1]}`, operation: "delete", body: "none" };
    },
  },
  { re: new RegExp(`^secrets/${ID}/payload$`), resource: "Secret payload", allow: ["GET"], target: (_m, m) => ({ path: `secrets/${m[1]}/payload`, operation: "read", body: "none" }) },
  {
    re: new RegExp(`^secrets/${ID}/metadata$`),
    resource: "Secret metadata",
    allow: ["GET", "PUT", "POST"],
    target: (method, m) => crud(`secrets/${m[1]}/metadata`, { POST: { path: `secrets/${m[1]}/metadata-entries`, operation: "update", body: "json" } })(method),
  },
  { re: new RegExp(`^secrets/${ID}/metadata/${ID}$`), resource: "Secret metadatum", allow: ["GET", "PUT", "DELETE"], target: (method, m) => crud(`secrets/${m[1]}/metadata/${m[2]}`)(method) },
  { re: new RegExp(`^secrets/${ID}/acl$`), resource: "Secret ACL", allow: ["GET", "PUT", "PATCH", "DELETE"], target: (method, m) => crud(`secrets/${m[1]}/acl`)(method) },
  {
    re: new RegExp(`^secrets/${ID}/consumers$`),
    resource: "Secret consumer",
    allow: ["GET", "POST", "DELETE"],
    target: (method, m) => crud(`secrets/${m[1]}/consumers`, { GET: { path: `secrets/${m[1]}/consumers/`, operation: "list", body: "none" }, DELETE: { path: `secrets/${m[1]}/consumers`, operation: "delete", body: "json" } })(method),
  },
  { re: /^containers$/, resource: "Container", allow: ["GET", "POST"], target: collection("containers") },
  { re: new RegExp(`^containers/${ID}$`), resource: "Container", allow: ["GET", "DELETE"], target: (method, m) => crud(`containers/${m[1]}`)(method) },
  {
    re: new RegExp(`^containers/${ID}/secrets$`),
    resource: "Container Secret",
    allow: ["POST", "DELETE"],
    target: (method, m) => ({ path: `containers/${m[1]}/secrets`, operation: method === "POST" ? "update" : "delete", body: "json" }),
  },
  { re: new RegExp(`^containers/${ID}/acl$`), resource: "Container ACL", allow: ["GET", "PUT", "PATCH", "DELETE"], target: (method, m) => crud(`containers/${m[1]}/acl`)(method) },
  {
    re: new RegExp(`^containers/${ID}/consumers$`),
    resource: "ContainerConsumer",
    allow: ["GET", "POST", "DELETE"],
    target: (method, m) => crud(`containers/${m[1]}/consumers`, { GET: { path: `containers/${m[1]}/consumers/`, operation: "list", body: "none" }, DELETE: { path: `containers/${m[1]}/consumers`, operation: "delete", body: "json" } })(method),
  },
  { re: /^orders$/, resource: "Order", allow: ["GET", "POST"], target: collection("orders") },
  { re: new RegExp(`^orders/${ID}$`), resource: "Order", allow: ["GET", "DELETE"], target: (method, m) => crud(`orders/${m[1]}`)(method) },
  { re: /^quotas$/, resource: "Quotas", allow: ["GET"], target: () => ({ path: "quotas", operation: "read", body: "none" }) },
  {
    re: new RegExp(`^project-quotas/${ID}$`),
    resource: "Project Quotas",
    allow: ["GET", "PUT", "DELETE"],
    target: (method) => crud("project-quota")(method),
    project: (m) => decodeURIComponent(m[1]),
  },
  { re: /^secret-stores$/, resource: "Secret stores", allow: ["GET"], target: () => ({ path: "secret-stores/", operation: "list", body: "none" }) },
  { re: /^secret-stores\/(global-default|preferred)$/, resource: "Secret store", allow: ["GET"], target: (_m, m) => ({ path: `secret-stores/${m[1]}`, operation: "read", body: "none" }) },
  { re: new RegExp(`^secret-stores/${ID}$`), resource: "Secret store", allow: ["GET"], target: (_m, m) => ({ path: `secret-stores/${m[1]}`, operation: "read", body: "none" }) },
  {
    re: new RegExp(`^secret-stores/${ID}/preferred$`),
    resource: "Secret store",
    allow: ["POST", "DELETE"],
    target: (method, m) => ({ path: `secret-stores/${m[1]}/preferred`, operation: method === "POST" ? "update" : "delete", body: "none" }),
  },
];

/** The route of a v1 path (below `/v1/`, no trailing slash), or undefined: Barbican's bare 404. */
export function routeOf(v1Path: string): RouteMatch | undefined {
  for (const r of ROUTES) {
    const m = r.re.exec(v1Path);
    if (!m) continue;
    return {
      resource: r.resource,
      allow: r.allow,
      target: (method, wantsJson) => r.target(method, m, wantsJson),
      ...(r.project ? { project: r.project(m) } : {}),
    };
  }
  return undefined;
}
