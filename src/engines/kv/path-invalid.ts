/**
 * Everything a KV v2 mount does not serve (e.g. `secret/foo` instead of `secret/data/foo`): OpenBao answers
 * 404 with a warning naming the right CLI sub-command, which is what users of a v1-style client see.
 */
import { definePath } from "../../core/framework/path.js";
import type { Handler } from "../../core/framework/path.js";
import type { Fields } from "../../core/framework/fields.js";
import type { Operation, Response } from "../../core/framework/request.js";

const GROUP_ROOTS = new Set(["metadata", "data", "delete", "undelete", "destroy"]);

/** Non-list operations on `metadata/`, `data/`, … themselves. */
export function rootNotSupported(): Response {
  return { status: 404, warnings: ["Non-listing operations on the root of a K/V v2 mount are not supported."] };
}

const SUBCOMMAND: Record<Operation, string> = {
  create: "put",
  update: "put",
  patch: "patch",
  read: "get",
  list: "list",
  scan: "scan",
  delete: "delete",
};

const handler: Handler<Fields> = async ({ req, params }) => {
  if (GROUP_ROOTS.has(params.path)) return rootNotSupported();
  return {
    status: 404,
    warnings: [
      `Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the OpenBao CLI, use 'bao kv ${SUBCOMMAND[req.operation]}' for this operation.`,
    ],
  };
};

export const invalidPath = definePath({
  pattern: ":path*",
  operations: { read: handler, create: handler, update: handler, patch: handler, delete: handler, list: handler, scan: handler },
  synopsis: "Not a KV v2 endpoint.",
  description: `
A KV version 2 mount serves these paths:

    config                 settings for the whole mount
    data/<path>            write, patch, read and delete secret versions
    metadata/<path>        key metadata and settings; LIST/SCAN for keys
    detailed-metadata/<p>  LIST/SCAN keys together with their metadata
    delete/<path>          soft-delete versions
    undelete/<path>        restore soft-deleted versions
    destroy/<path>         permanently remove versions
    subkeys/<path>         the structure of a secret without its values
`,
});
