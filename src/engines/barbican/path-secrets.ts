/**
 * `secrets`, `secrets/:id` and `secrets/:id/payload`: create (one- or two-step), list with filters and
 * paging, metadata, payload retrieval with Accept negotiation, second-step upload, delete.
 *
 * Cost: a create or upload is one seal (PayloadSealer) and one record write; a read is one record get (and
 * one open for the payload). A list without filters reads one page of records through the creation index
 * (secret-index.ts); a filtered list, or one the index cannot answer exactly (secrets with an expiration or
 * a restrictive ACL), reads every record of the project (O(secrets)).
 */
import { definePath, joinedStorage, type HandlerContext } from "../../core/framework/path.js";
import type { Fields } from "../../core/framework/fields.js";
import type { Response } from "../../core/framework/request.js";
import { BarbicanError } from "./barbican-error.js";
import { ACCEPT_HEADER, baseHref, callerUser, isProjectAdmin, type BarbicanEnv } from "./barbican-env.js";
import { checkId, newId } from "./barbican-ids.js";
import { nowStamp } from "./barbican-time.js";
import { aclAllowsRead } from "./acl-record.js";
import { errorBody } from "./python-json.js";
import { page, queryString, renderPage, type Page } from "./paging.js";
import { checkQuota } from "./quotas.js";
import { parseCreatePayload, parseSecretFields, parseUploadedPayload, type PayloadInput } from "./secret-input.js";
import { ensureIndex, indexSecret, indexedIds, isSpecial, unindexSecret } from "./secret-index.js";
import { getJson } from "../../core/view.js";
import type { KeyValueStore } from "../../storage/storage.js";
import { allSecrets, loadSecret, renderSecret, saveSecret, secretKey, secretRef, type SecretRecord } from "./secret-record.js";

const alreadyHasData = (): BarbicanError => new BarbicanError("conflict", "Secret already has data, cannot modify it.");

/** Barbican answers a read of a secret the ACL withholds as 403 with this text. */
const READ_DENIED = "Secret retrieval attempt not allowed - please review your user/project privileges";

/** A live secret of this project the caller may read (ACL applied). */
export async function readableSecret(env: BarbicanEnv, ctx: HandlerContext<Fields>, id: string): Promise<SecretRecord> {
  const rec = await loadSecret(ctx.storage, env.tag, id);
  if (!aclAllowsRead(rec.acl, callerUser(ctx.req), rec.creatorId, isProjectAdmin(ctx.req))) throw new BarbicanError("permission_denied", READ_DENIED);
  return rec;
}

/** Stores a new secret record (and its payload, when one came with it); used by orders too. */
export async function storeSecret(env: BarbicanEnv, ctx: HandlerContext<Fields>, fields: ReturnType<typeof parseSecretFields>, payload: PayloadInput | undefined): Promise<SecretRecord> {
  const id = newId(env.tag);
  const now = nowStamp();
  const rec: SecretRecord = {
    id,
    created: now,
    updated: now,
    ...fields,
    creatorId: callerUser(ctx.req),
    contentType: payload?.contentType ?? null,
    payload: payload ? await env.sealer.seal(payload.bytes, id) : null,
    metadata: {},
    acl: null,
    consumers: [],
  };
  // The record and its index entry commit together: a secret is never missing from plain lists.
  await ctx.storage.transaction(async (txn) => {
    const joined = joinedStorage(txn);
    await saveSecret(joined, rec);
    await indexSecret(joined, rec, true);
  });
  return rec;
}

function matchesFilters(s: SecretRecord, q: Record<string, unknown>): boolean {
  const name = queryString(q, "name");
  if (name !== undefined && name !== "" && (s.name ?? "").toLowerCase() !== name.toLowerCase()) return false;
  const alg = queryString(q, "alg");
  if (alg !== undefined && alg !== "" && (s.algorithm ?? "").toLowerCase() !== alg.toLowerCase()) return false;
  const mode = queryString(q, "mode");
  if (mode !== undefined && mode !== "" && (s.mode ?? "").toLowerCase() !== mode.toLowerCase()) return false;
  const bits = queryString(q, "bits");
  if (bits !== undefined && bits !== "" && String(s.bitLength ?? "") !== bits) return false;
  const type = queryString(q, "secret_type");
  if (type !== undefined && type !== "" && s.secretType !== type) return false;
  return true;
}

const FILTERS = ["name", "alg", "mode", "bits", "secret_type", "acl_only", "created", "updated", "expiration"];
/** Sorts the index answers: none, or by creation. */
const INDEX_SORTS = new Set(["created", "created:asc", "created:desc"]);

function hasFilters(q: Record<string, unknown>): boolean {
  const sort = queryString(q, "sort");
  return FILTERS.some((f) => (queryString(q, f) ?? "") !== "") || (sort !== undefined && sort !== "" && !INDEX_SORTS.has(sort));
}

/**
 * A page of a list without filters from the creation index (secret-index.ts): `limit` record reads rather
 * than all. Undefined when the index cannot answer exactly (not built, special secrets, or a record that
 * is not what the index says: the caller scans).
 */
async function plainListPage(storage: KeyValueStore, tag: string, q: Record<string, unknown>, desc: boolean): Promise<Page<SecretRecord> | undefined> {
  if (hasFilters(q)) return undefined;
  const ids = await indexedIds(storage);
  if (!ids) return undefined;
  if (desc) ids.reverse();
  const p = page(ids, q);
  const items: SecretRecord[] = [];
  for (const id of p.items) {
    const rec = checkId(id, tag) === "mine" ? await getJson<SecretRecord>(storage, secretKey(id)) : undefined;
    if (!rec || rec.deleted || isSpecial(rec)) return undefined;
    items.push(rec);
  }
  return { ...p, items };
}


export function secretPaths(env: BarbicanEnv) {
  return [
    definePath({
      pattern: "secrets",
      takesArbitraryInput: true,
      // A POST always makes a new secret: it is a `create` to the ACL (observer and audit lack it).
      existenceCheck: async () => false,
      operations: {
        list: async ({ req, storage }) => {
          const base = baseHref(req);
          const user = callerUser(req);
          const admin = isProjectAdmin(req);
          const desc = queryString(req.data, "sort")?.startsWith("created:desc") === true;
          const fast = await plainListPage(storage, env.tag, req.data, desc);
          if (fast) return { data: renderPage("secrets", fast, (s) => renderSecret(s, base), `${base}/v1/secrets`) };
          const live = await allSecrets(storage);
          if (!hasFilters(req.data)) await ensureIndex(storage, live);
          const all = live.filter((s) => matchesFilters(s, req.data) && aclAllowsRead(s.acl, user, s.creatorId, admin));
          if (desc) all.reverse();
          return { data: renderPage("secrets", page(all, req.data), (s) => renderSecret(s, base), `${base}/v1/secrets`) };
        },
        create: async (ctx) => {
          const fields = parseSecretFields(ctx.req.data);
          const payload = parseCreatePayload(ctx.req.data);
          await checkQuota(ctx.storage, "secrets", async () => (await allSecrets(ctx.storage)).length, env.quotas);
          const rec = await storeSecret(env, ctx, fields, payload);
          const ref = secretRef(baseHref(ctx.req), rec.id);
          return { status: 201, data: { secret_ref: ref }, headers: { location: ref } };
        },
      },
      synopsis: "List or create secrets",
    }),
    definePath({
      pattern: "secrets/:id",
      takesArbitraryInput: true,
      operations: {
        read: async (ctx) => ({ data: renderSecret(await readableSecret(env, ctx, ctx.params.id), baseHref(ctx.req)) }),
        delete: {
          transaction: true,
          handler: async ({ storage, params }) => {
            const rec = await loadSecret(storage, env.tag, params.id);
            // The id stays known (Barbican soft-deletes): a second DELETE or GET is "Secret not found.".
            await storage.put(secretKey(rec.id), Buffer.from(JSON.stringify({ id: rec.id, deleted: true })));
            await unindexSecret(storage, rec);
            return { status: 204 };
          },
        },
      },
      synopsis: "A secret's metadata; delete it",
    }),
    definePath({
      pattern: "secrets/:id/payload",
      takesArbitraryInput: true,
      operations: {
        read: async (ctx) => payloadResponse(env, ctx),
        // Sealing may call the key chain (another request through the pipeline): it runs before the
        // transaction, which then re-checks that no payload arrived meanwhile.
        update: async (ctx) => {
          const payload = parseUploadedPayload(ctx.req.data);
          const first = await loadSecret(ctx.storage, env.tag, ctx.params.id);
          if (first.payload !== null) throw alreadyHasData();
          const sealed = await env.sealer.seal(payload.bytes, first.id);
          await ctx.storage.transaction(async (txn) => {
            const rec = await loadSecret(joinedStorage(txn), env.tag, first.id);
            if (rec.payload !== null) throw alreadyHasData();
            rec.payload = sealed;
            rec.contentType = payload.contentType;
            rec.updated = nowStamp();
            await saveSecret(joinedStorage(txn), rec);
          });
          return { status: 204 };
        },
      },
      synopsis: "A secret's payload: read it, or upload it (second step of a two-step create)",
    }),
  ];
}

/** What an Accept header asks of a payload: text, bytes, or something no payload is served as. */
function negotiate(accept: string | undefined): "text" | "bytes" | undefined {
  if (accept === undefined || accept.trim() === "") return "bytes";
  const types = accept.split(",").map((t) => t.split(";")[0].trim().toLowerCase());
  if (types.includes("text/plain")) return "text";
  if (types.some((t) => t === "application/octet-stream" || t === "*/*" || t === "application/pkcs8" || t === "application/*")) return "bytes";
  return undefined;
}

async function payloadResponse(env: BarbicanEnv, ctx: HandlerContext<Fields>): Promise<Response> {
  const rec = await readableSecret(env, ctx, ctx.params.id);
  const want = negotiate(ctx.req.headers?.[ACCEPT_HEADER]);
  if (rec.payload === null) throw new BarbicanError("not_found", "Not Found. Sorry but your secret has no payload.");
  // 406 has no error kind of its own: the answer is written here, in Barbican's error body.
  if (want === undefined) return { raw: { status: 406, contentType: "application/json", body: errorBody(406, "Secret payload retrieval issue seen - Wrong payload content-type.") } };
  const bytes = await env.sealer.open(rec.payload, rec.id);
  return { raw: { status: 200, contentType: want === "text" ? "text/plain; charset=UTF-8" : "application/octet-stream", body: bytes } };
}
