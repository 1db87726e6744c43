/** `?help=1` on any path: the declared path's help text and its OpenAPI fragment. */
import { ArcaError, permissionDenied } from "../../common/errors.js";
import type { Core } from "../../core/core.js";
import { helpMarkdown, openApiPathItem, openApiPathTemplate } from "../../core/framework/openapi.js";

export async function helpFor(core: Core, rawPath: string, token: string | undefined, namespaceHeader?: string): Promise<Record<string, unknown>> {
  // Help needs a valid token (as OpenBao), but no capability on the path itself. The token is checked
  // first: without one, a missing namespace must not answer differently from an existing one.
  const resolved = await core.resolveToken(token);
  if (!resolved) throw permissionDenied();
  const { ns, path } = core.namespaces.resolve(namespaceHeader, rawPath);
  if (!resolved.ns.contains(ns)) throw permissionDenied();
  const route = ns.router.match(path);
  if (!route) throw new ArcaError("not_found", `no handler for route "${path.slice(0, 256)}"`);
  const match = route.backend.route(route.relPath);
  if (!match) {
    return { help: route.backend.helpText || `## ${route.mountPoint}\n`, openapi: { openapi: "3.0.2", paths: {} } };
  }
  return {
    help: helpMarkdown(match.path),
    openapi: {
      openapi: "3.0.2",
      info: { title: "Arca", version: "0.1.0" },
      paths: { [openApiPathTemplate(route.mountPoint, match.path)]: openApiPathItem(match.path) },
    },
  };
}
