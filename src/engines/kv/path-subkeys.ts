/**
 * `subkeys/<path>`: the structure of a secret version with every value replaced by null, so a caller can
 * see which keys exist without being able to read them.
 */
import { ArcaError, notFound } from "../../common/errors.js";
import { definePath } from "../../core/framework/path.js";
import { subkeys, validatePath } from "./kv-input.js";
import { versionView } from "./kv-store.js";
import { lookupConsistent } from "./path-data.js";

export const subkeysPath = definePath({
  pattern: "subkeys/:path+",
  fields: {
    path: { type: "string", description: "Location of the secret." },
    depth: { type: "int", default: 0, description: "The maximum depth to traverse. No limit will be imposed if not provided or if 0." },
    version: { type: "int", description: "Specifies which version to retrieve. If not provided, the current version will be used." },
  },
  operations: {
    read: {
      summary: "Read the structure of a secret without its values.",
      handler: async ({ params, fields, storage }) => {
        const path = validatePath(params.path);
        const found = await lookupConsistent(storage, path, fields.version ?? 0);
        if (found.kind === "absent") throw notFound();
        const metadata = versionView(found.meta, found.version, found.record);
        if (found.kind === "gone") throw new ArcaError("not_found", "", { data: { subkeys: null, metadata } });
        const data = JSON.parse(found.data.toString("utf8")) as Record<string, unknown>;
        return { data: { subkeys: subkeys(data, fields.depth), metadata } };
      },
    },
  },
  synopsis: "Read the structure of a secret entry from the Key-Value store with the values removed.",
  description: `
Returns the subkeys of the secret at the path: every leaf value (non-objects and empty objects) is
replaced by null. "version" selects the version (default: current). "depth" limits the nesting shown
(0 = no limit); keys at that depth are shown as null even if they hold objects.
`,
});
