/**
 * KV version 1: `<path>` stores the request body as it is, with no versions or metadata (OpenBao's
 * "passthrough" backend). Entries live under `entries/` in the mount's view, so that the mount could later
 * be upgraded in place to the v2 layout, which uses other prefixes.
 */
import { invalidRequest, notFound } from "../../common/errors.js";
import { parseDuration } from "../../core/framework/duration.js";
import { coerceField, type FieldSpec } from "../../core/framework/fields.js";
import { definePath } from "../../core/framework/path.js";
import type { KeyValueReader } from "../../storage/storage.js";
import { listPrefix, serialiseData, validatePath } from "./kv-input.js";

export const ENTRIES_PREFIX = "entries/";

const LIST_AFTER: FieldSpec = { type: "string" };
const LIST_LIMIT: FieldSpec = { type: "int" };

/** A "ttl" (or legacy "lease") entry in the data becomes the response's lease duration, as in OpenBao. */
function ttlOf(data: Record<string, unknown>): number | undefined {
  const raw = Object.hasOwn(data, "ttl") ? data.ttl : Object.hasOwn(data, "lease") ? data.lease : undefined;
  if (raw === undefined) return undefined;
  try {
    const d = parseDuration(raw);
    return d >= 0 ? d : undefined;
  } catch {
    return undefined; // OpenBao ignores an unparsable ttl here
  }
}

async function scan(r: KeyValueReader, prefix: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const name of await r.list(ENTRIES_PREFIX + prefix + rel)) {
      if (name.endsWith("/")) await walk(rel + name);
      else out.push(rel + name);
    }
  };
  await walk("");
  return out;
}

/**
 * The v1 path. `defaultLeaseTtl` is the mount's default lease TTL as tuned now (read per request, so a tune
 * shows at once): OpenBao answers every read with it as lease_duration unless the secret has its own "ttl".
 */
export const passthroughPath = (defaultLeaseTtl: () => number) => definePath({
  pattern: ":path*",
  // A write's whole body is the secret.
  takesArbitraryInput: true,
  fields: {
    path: { type: "string", description: "Location of the secret." },
    // Typed "any" and coerced only when listing: on writes the whole body is the secret, and a secret may
    // well have an "after" or "limit" entry of any type.
    after: { type: "any", description: "Optional entry to begin listing after, not required to exist. Only used for listing." },
    limit: { type: "any", description: "Optional number of entries to return; defaults to all entries. Only used for listing." },
  },
  existenceCheck: async ({ params, storage }) => {
    const path = validatePath(params.path);
    return path !== "" && (await storage.get(ENTRIES_PREFIX + path)) !== undefined;
  },
  operations: {
    read: async ({ params, storage }) => {
      const path = validatePath(params.path);
      if (path === "") throw notFound();
      const raw = await storage.get(ENTRIES_PREFIX + path);
      if (raw === undefined) throw notFound();
      const data = JSON.parse(raw.toString("utf8")) as Record<string, unknown>;
      return { data, leaseDuration: ttlOf(data) || defaultLeaseTtl() };
    },
    update: async ({ params, req, storage }) => {
      const path = validatePath(params.path);
      if (path === "") throw invalidRequest("missing path");
      if (Object.keys(req.data).length === 0) throw invalidRequest("missing data fields");
      await storage.put(ENTRIES_PREFIX + path, serialiseData(req.data));
      return undefined;
    },
    delete: async ({ params, storage }) => {
      const path = validatePath(params.path);
      if (path !== "") await storage.delete(ENTRIES_PREFIX + path);
      return undefined;
    },
    list: async ({ params, fields, storage }) => {
      const after = fields.after == null ? "" : (coerceField("after", LIST_AFTER, fields.after) as string);
      const limit = fields.limit == null ? 0 : (coerceField("limit", LIST_LIMIT, fields.limit) as number);
      const keys = await storage.list(ENTRIES_PREFIX + listPrefix(params.path), {
        after: after || undefined,
        limit: limit > 0 ? limit : undefined,
      });
      if (keys.length === 0) throw notFound();
      return { data: { keys } };
    },
    scan: async ({ params, storage }) => {
      const keys = await scan(storage, listPrefix(params.path));
      if (keys.length === 0) throw notFound();
      return { data: { keys } };
    },
  },
  synopsis: "Pass-through secret storage to the storage backend, allowing you to read/write arbitrary data into secret storage.",
  description: `
The pass-through backend reads and writes arbitrary data into secret storage, encrypting it along the way.
The whole request body is stored and returned on read. LIST returns the keys below a path (folders end
in "/"), paginated with "after" and "limit".

A TTL can be given when writing with the "ttl" field. If given, the lease duration of reads is set to this
value: a hint to the consumer to re-read the secret before it expires. It does not expire the data.
`,
});
