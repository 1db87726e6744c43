/**
 * sys/internal/ui/mounts (the bao/vault CLI asks it which KV version a mount is) and
 * sys/internal/specs/openapi (the OpenAPI document of every mounted path).
 */
import { permissionDenied } from "../../common/errors.js";
import { definePath, type PathSpec } from "../framework/path.js";
import { openApiPathItem, openApiPathTemplate } from "../framework/openapi.js";
import { routePath } from "../mounts.js";
import type { Core } from "../core.js";
import type { Namespace } from "../namespaces/namespace.js";
import { renderMount } from "./render.js";
import { VERSION } from "../../common/version.js";

export function internalPaths(ns: Namespace, core: Core): PathSpec[] {
  return [
    definePath({
      pattern: "internal/ui/mounts",
      synopsis: "Mounts listed for unauthenticated UI use (listing_visibility=unauth).",
      operations: {
        read: async () => {
          const visible = (table: "secret" | "auth") =>
            Object.fromEntries(ns.mounts(table).filter((m) => m.config.listingVisibility === "unauth").map((m) => [m.path, renderMount(m)]));
          return { data: { secret: visible("secret"), auth: visible("auth") } };
        },
      },
    }),
    definePath({
      pattern: "internal/ui/mounts/:path+",
      fields: { path: { type: "string", required: true } },
      synopsis: "The mount serving a path, for a caller with any capability below that mount.",
      operations: {
        read: async ({ fields, req }) => {
          // Authorised by the caller's access to the mount, not to this sys path (as OpenBao does).
          const token = await core.resolveCaller(req.caller);
          const scoped = token ? await core.aclIn(token, ns) : undefined;
          if (!token || !scoped) throw permissionDenied();
          const route = ns.router.match(fields.path.replace(/^\/+/, ""));
          if (!route) throw permissionDenied();
          if (!scoped.acl.isRoot && !(await token.ns.policies.hasMountAccess(token.entry.policies, scoped.prefix + route.mountPoint))) throw permissionDenied();
          return { data: { ...renderMount(route.entry), path: route.mountPoint } };
        },
      },
    }),
    definePath({
      pattern: "internal/specs/openapi",
      synopsis: "The OpenAPI document of every path this server serves.",
      operations: {
        read: async () => {
          const paths: Record<string, unknown> = {};
          for (const m of ns.router.all()) {
            for (const p of m.backend.paths) paths[openApiPathTemplate(routePath(m.entry), p)] = openApiPathItem(p);
          }
          // OpenBao answers the bare document (HTTPRawBody), not an envelope: generators read `paths` at the top.
          return { raw: { status: 200, contentType: "application/json", body: JSON.stringify({ openapi: "3.0.2", info: { title: "Arca", description: "OpenBao-compatible API", version: VERSION }, paths }) } };
        },
      },
    }),
  ];
}
