/**
 * The cubbyhole: private storage per token, mounted at cubbyhole/ on every server. A token sees only
 * its own cubbyhole; no policy can grant another token's, and revoking the token destroys it (the core
 * empties it when the token store reports the revocation).
 *
 * STORAGE LAYOUT (an on-disk format, forever), inside the mount's view:
 *   <token entry id>/<path>   the request body as JSON (token entry ids are salted hashes, never tokens)
 */
import { ArcaError, notFound, permissionDenied } from "../../common/errors.js";
import { LogicalBackend } from "../../core/framework/backend.js";
import { definePath, type HandlerContext } from "../../core/framework/path.js";
import type { Fields } from "../../core/framework/fields.js";
import { getJson, putJson } from "../../core/view.js";

const PATH_FIELDS = { path: { type: "string", default: "", description: "Location of the secret in this token's cubbyhole." } } as const;

/** The caller's own key for a path; the pipeline has already resolved the token. */
function ownKey(ctx: HandlerContext<Fields>, path: string): string {
  const id = ctx.req.caller?.tokenEntryId;
  if (!id) throw permissionDenied();
  // A batch token is stored nowhere, so nothing would ever clear its cubbyhole (OpenBao's refusal).
  if (ctx.req.caller?.tokenType === "batch") throw new ArcaError("invalid_request", 'cubbyhole operations are only supported by "service" type tokens');
  if (path.split("/").some((s) => s === "." || s === "..") || path.length > 1024) {
    throw new ArcaError("invalid_request", "invalid path");
  }
  return `${id}/${path}`;
}

export function createCubbyholeBackend(): LogicalBackend {
  return new LogicalBackend({
    type: "cubbyhole",
    help: "Per-token private secret storage, destroyed with the token.",
    paths: [
      definePath({
        pattern: ":path*",
        fields: PATH_FIELDS,
        // A write's whole body is the secret.
        takesArbitraryInput: true,
        synopsis: "Read, write, list or delete a secret in the calling token's cubbyhole.",
        existenceCheck: async (ctx) => (await ctx.storage.get(ownKey(ctx, ctx.params.path ?? ""))) !== undefined,
        operations: {
          read: async (ctx) => {
            const data = await getJson<Record<string, unknown>>(ctx.storage, ownKey(ctx, ctx.params.path ?? ""));
            if (!data) throw notFound();
            return { data };
          },
          create: async (ctx) => write(ctx),
          update: async (ctx) => write(ctx),
          delete: async (ctx) => {
            await ctx.storage.delete(ownKey(ctx, ctx.params.path ?? ""));
            return undefined;
          },
          list: async (ctx) => ({ data: { keys: await ctx.storage.list(ownKey(ctx, ctx.params.path ?? "")) } }),
        },
      }),
    ],
  });
}

async function write(ctx: HandlerContext<Fields>): Promise<undefined> {
  const path = ctx.params.path ?? "";
  if (path === "") throw new ArcaError("invalid_request", "missing path");
  const data = { ...ctx.req.data };
  if (Object.keys(data).length === 0) throw new ArcaError("invalid_request", "missing data fields");
  await putJson(ctx.storage, ownKey(ctx, path), data);
  return undefined;
}
