/**
 * `destroy/<path>`: permanently removes the data of chosen versions; their metadata stays, marked
 * destroyed, so reads of them answer 404 with that metadata.
 */
import { definePath } from "../../core/framework/path.js";
import { saveMetadata, versionKey } from "./kv-store.js";
import { versionsTarget } from "./path-delete.js";

export const destroyPath = definePath({
  pattern: "destroy/:path+",
  fields: {
    path: { type: "string", description: "Location of the secret." },
    versions: { type: "any", description: "The versions to destroy. Their data will be permanently deleted." },
  },
  operations: {
    update: {
      transaction: true,
      handler: async ({ params, fields, storage }) => {
        const target = await versionsTarget(storage, params.path, fields.versions, "no version number provided");
        if (!target) return;
        const { path, versions, meta } = target;
        for (const n of versions) {
          const v = meta.versions[String(n)];
          if (!v || v.destroyed) continue;
          v.destroyed = true;
          await storage.delete(versionKey(path, n));
        }
        await saveMetadata(storage, path, meta);
        return undefined;
      },
    },
  },
  synopsis: "Permanently removes one or more versions in the KV store",
  description: `
Permanently removes the specified version data for the provided key and version numbers from the
key-value store. The versions' metadata is kept and marked destroyed.
`,
});
