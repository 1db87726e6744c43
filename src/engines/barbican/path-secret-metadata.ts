/**
 * A secret's user metadata (`secrets/:id/metadata`, `…/metadata/:key`) and its ACL (`secrets/:id/acl`).
 * Each write is one read-modify-write of the secret record in one transaction.
 */
import { definePath } from "../../core/framework/path.js";
import { BarbicanError, badRequest } from "./barbican-error.js";
import { baseHref, type BarbicanEnv } from "./barbican-env.js";
import { nowStamp } from "./barbican-time.js";
import { parseAclBody, renderAcl } from "./acl-record.js";
import { indexSecret } from "./secret-index.js";
import { loadSecret, saveSecret, secretRef } from "./secret-record.js";
import { readableSecret } from "./path-secrets.js";

const MAX_METADATA_KEYS = 100;

function metadataKey(raw: unknown): string {
  if (typeof raw !== "string" || raw.length === 0 || raw.length > 255) throw badRequest("Provided object does not match schema 'Secret Metadatum': 'key' must be a string of 1 to 255 characters. Invalid property: 'key'");
  // Barbican keeps keys lower-case.
  return raw.toLowerCase();
}

function metadataValue(raw: unknown): string {
  if (typeof raw !== "string" || raw.length > 255) throw badRequest("Provided object does not match schema 'Secret Metadatum': 'value' must be a string of at most 255 characters. Invalid property: 'value'");
  return raw;
}

function parseMetadata(body: Record<string, unknown>): Record<string, string> {
  const md = body.metadata;
  if (typeof md !== "object" || md === null || Array.isArray(md)) throw badRequest("Provided object does not match schema 'Secret Metadata': 'metadata' is a required property. Invalid property: 'metadata'");
  const entries = Object.entries(md as Record<string, unknown>);
  if (entries.length > MAX_METADATA_KEYS) throw badRequest(`Provided object does not match schema 'Secret Metadata': more than ${MAX_METADATA_KEYS} keys. Invalid property: 'metadata'`);
  const out: Record<string, string> = {};
  for (const [k, v] of entries) Object.defineProperty(out, metadataKey(k), { value: metadataValue(v), enumerable: true, writable: true, configurable: true });
  return out;
}

export function secretMetadataPaths(env: BarbicanEnv) {
  return [
    definePath({
      pattern: "secrets/:id/metadata",
      takesArbitraryInput: true,
      operations: {
        read: async (ctx) => ({ data: { metadata: (await readableSecret(env, ctx, ctx.params.id)).metadata } }),
        update: {
          transaction: true,
          handler: async ({ req, storage, params }) => {
            const metadata = parseMetadata(req.data);
            const rec = await loadSecret(storage, env.tag, params.id);
            rec.metadata = metadata;
            rec.updated = nowStamp();
            await saveSecret(storage, rec);
            return { status: 201, data: { metadata_ref: `${secretRef(baseHref(req), rec.id)}/metadata` } };
          },
        },
      },
      synopsis: "A secret's user metadata, as a whole",
    }),
    definePath({
      // POST /v1/secrets/{id}/metadata (one new key): a path of its own so it is a `create` to the ACL.
      pattern: "secrets/:id/metadata-entries",
      takesArbitraryInput: true,
      existenceCheck: async () => false,
      operations: {
        create: {
          transaction: true,
          handler: async ({ req, storage, params }) => {
            const key = metadataKey(req.data.key);
            const value = metadataValue(req.data.value);
            const rec = await loadSecret(storage, env.tag, params.id);
            if (Object.hasOwn(rec.metadata, key)) throw new BarbicanError("conflict", "Conflict. Key in request is already in the secret metadata");
            if (Object.keys(rec.metadata).length >= MAX_METADATA_KEYS) throw badRequest(`A secret holds at most ${MAX_METADATA_KEYS} metadata keys`);
            Object.defineProperty(rec.metadata, key, { value, enumerable: true, writable: true, configurable: true });
            rec.updated = nowStamp();
            await saveSecret(storage, rec);
            const ref = `${secretRef(baseHref(req), rec.id)}/metadata/${encodeURIComponent(key)}`;
            return { status: 201, data: { key, value }, headers: { location: ref } };
          },
        },
      },
    }),
    definePath({
      pattern: "secrets/:id/metadata/:key",
      takesArbitraryInput: true,
      operations: {
        read: async (ctx) => {
          const rec = await readableSecret(env, ctx, ctx.params.id);
          const key = ctx.params.key.toLowerCase();
          if (!Object.hasOwn(rec.metadata, key)) throw new BarbicanError("not_found", "Secret metadata not found.");
          return { data: { key, value: rec.metadata[key] } };
        },
        update: {
          transaction: true,
          handler: async ({ req, storage, params }) => {
            const key = params.key.toLowerCase();
            if (metadataKey(req.data.key) !== key) throw badRequest("Key in request data does not match key in the request url.");
            const value = metadataValue(req.data.value);
            const rec = await loadSecret(storage, env.tag, params.id);
            if (!Object.hasOwn(rec.metadata, key)) throw new BarbicanError("not_found", "Secret metadata not found.");
            rec.metadata[key] = value;
            rec.updated = nowStamp();
            await saveSecret(storage, rec);
            return { data: { key, value } };
          },
        },
        delete: {
          transaction: true,
          handler: async ({ storage, params }) => {
            const key = params.key.toLowerCase();
            const rec = await loadSecret(storage, env.tag, params.id);
            if (!Object.hasOwn(rec.metadata, key)) throw new BarbicanError("not_found", "Secret metadata not found.");
            delete rec.metadata[key];
            rec.updated = nowStamp();
            await saveSecret(storage, rec);
            return { status: 204 };
          },
        },
      },
      synopsis: "One key of a secret's user metadata",
    }),
    definePath({
      pattern: "secrets/:id/acl",
      takesArbitraryInput: true,
      operations: {
        read: async ({ storage, params }) => ({ data: renderAcl((await loadSecret(storage, env.tag, params.id)).acl) }),
        update: {
          transaction: true,
          handler: async ({ req, storage, params }) => {
            const rec = await loadSecret(storage, env.tag, params.id);
            rec.acl = parseAclBody(req.data, null, nowStamp());
            await saveSecret(storage, rec);
            await indexSecret(storage, rec, false);
            return { data: { acl_ref: `${secretRef(baseHref(req), rec.id)}/acl` } };
          },
        },
        patch: {
          transaction: true,
          handler: async ({ req, storage, params }) => {
            const rec = await loadSecret(storage, env.tag, params.id);
            rec.acl = parseAclBody(req.data, rec.acl, nowStamp());
            await saveSecret(storage, rec);
            await indexSecret(storage, rec, false);
            return { data: { acl_ref: `${secretRef(baseHref(req), rec.id)}/acl` } };
          },
        },
        delete: {
          transaction: true,
          handler: async ({ storage, params }) => {
            const rec = await loadSecret(storage, env.tag, params.id);
            rec.acl = null;
            await saveSecret(storage, rec);
            await indexSecret(storage, rec, false);
            return { status: 204 };
          },
        },
      },
      synopsis: "Who may read a secret",
    }),
  ];
}
