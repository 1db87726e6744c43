/** `?help=1` on any path: the declared path's help text and its OpenAPI fragment. */
import { ArcaError, permissionDenied } from "../../core/errors.js";
import type { Core } from "../../core/core.js";
import { helpMarkdown, openApiPathItem, openApiPathTemplate } from "../../core/framework/openapi.js";

export async function helpFor(core: Core, path: string, token: string | undefined): Promise<Record<string, unknown>> {
  // Help needs a valid token (as OpenBao), but no capability on the path itself.
  if (!(await core.resolveToken(token))) throw permissionDenied();
  const route = core.router.match(path);
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
