/**
 * `containers`, `containers/:id` and its `acl`: named groups of this project's secrets. A container's
 * secrets must exist and be readable by the caller when it is made (as Barbican checks).
 * `containers/:id/secrets` adds a secret to a generic container or takes one out (Barbican's container secrets).
 * Cost: a create reads each referenced secret once; a list reads every container record (O(containers)).
 */
import { definePath, type HandlerContext } from "../../core/framework/path.js";
import type { Fields } from "../../core/framework/fields.js";
import { BarbicanError, badRequest, schemaError } from "./barbican-error.js";
import { baseHref, callerUser, type BarbicanEnv } from "./barbican-env.js";
import { checkId, idOfRef, newId } from "./barbican-ids.js";
import { nowStamp } from "./barbican-time.js";
import { parseAclBody, renderAcl } from "./acl-record.js";
import { CONTAINER_TYPES, allContainers, containerRef, loadContainer, renderContainer, saveContainer, type ContainerRecord, type ContainerType } from "./container-record.js";
import { page, queryString, renderPage } from "./paging.js";
import { checkQuota } from "./quotas.js";
import { readableSecret } from "./path-secrets.js";
import { pyRepr } from "./secret-input.js";

const SCHEMA = "Container";
const MAX_SECRETS = 100;

/** Which secret names each container type allows (generic: any). */
const ALLOWED_NAMES: Record<Exclude<ContainerType, "generic">, readonly string[]> = {
  rsa: ["private_key", "public_key", "private_key_passphrase"],
  certificate: ["certificate", "private_key", "private_key_passphrase", "intermediates"],
};

function parseType(raw: unknown): ContainerType {
  if (typeof raw !== "string" || !(CONTAINER_TYPES as readonly string[]).includes(raw)) {
    throw schemaError(SCHEMA, `${pyRepr(raw)} is not one of ['generic', 'rsa', 'certificate']`, "type");
  }
  return raw as ContainerType;
}

/** The container body's secret_refs as (name, id) pairs, each secret checked against this project. */
async function parseSecretRefs(env: BarbicanEnv, ctx: HandlerContext<Fields>, type: ContainerType, raw: unknown): Promise<ContainerRecord["secrets"]> {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw) || raw.length > MAX_SECRETS) throw schemaError(SCHEMA, `'secret_refs' must be a list of at most ${MAX_SECRETS} entries`, "secret_refs");
  const out: ContainerRecord["secrets"] = [];
  const names = new Set<string>();
  for (const entry of raw as unknown[]) {
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) throw schemaError(SCHEMA, "each of 'secret_refs' must be an object", "secret_refs");
    const { name, secret_ref: ref } = entry as Record<string, unknown>;
    if (typeof ref !== "string" || ref === "") throw schemaError(SCHEMA, "'secret_ref' is a required property", "secret_ref");
    if (name !== undefined && name !== null && (typeof name !== "string" || name.length > 255)) throw schemaError(SCHEMA, "'name' must be a string of at most 255 characters", "name");
    const n = typeof name === "string" ? name : null;
    if (type !== "generic") {
      if (n === null || !ALLOWED_NAMES[type].includes(n)) throw badRequest(`Provided object does not match schema '${SCHEMA}': only 'private_key', 'public_key', 'private_key_passphrase'${type === "certificate" ? ", 'certificate', 'intermediates'" : ""} reference names are allowed for ${type} type. Invalid property: 'secret_refs'`);
    }
    if (n !== null) {
      if (names.has(n)) throw badRequest(`Provided object does not match schema '${SCHEMA}': Duplicate reference names are not allowed. Invalid property: 'secret_refs'`);
      names.add(n);
    }
    const id = idOfRef(ref);
    try {
      await readableSecret(env, ctx, id);
    } catch (err) {
      if (err instanceof BarbicanError && err.status === 404) throw new BarbicanError("not_found", `Secret provided for '${n ?? ""}' doesn't exist.`);
      throw err;
    }
    out.push({ name: n, secretId: id });
  }
  if (type === "certificate" && !names.has("certificate")) throw badRequest(`Provided object does not match schema '${SCHEMA}': 'certificate' reference name is required for certificate type. Invalid property: 'secret_refs'`);
  return out;
}

/** The body of POST/DELETE containers/{id}/secrets (Barbican's 'Container Secret' schema). */
function parseContainerSecret(body: Record<string, unknown>): { name: string | null; secretId: string; ref: string } {
  const { name, secret_ref: ref } = body;
  if (typeof ref !== "string" || ref === "") throw schemaError("Container Secret", "'secret_ref' is a required property", "secret_ref");
  if (name !== undefined && name !== null && (typeof name !== "string" || name.length > 255)) throw schemaError("Container Secret", `${pyRepr(name)} is not of type 'string', 'null'`, "name");
  return { name: typeof name === "string" ? name : null, secretId: idOfRef(ref), ref };
}

/** A secret of this project that still exists (another project's, a deleted or an unknown one: 404 `missing`). */
async function liveSecret(env: BarbicanEnv, ctx: HandlerContext<Fields>, id: string, missing: string): Promise<void> {
  try {
    await readableSecret(env, ctx, id);
  } catch (err) {
    if (err instanceof BarbicanError && (err.status === 404 || (err.status === 403 && checkId(id, env.tag) === "foreign"))) throw new BarbicanError("not_found", missing);
    throw err;
  }
}

/** Stores a new container (used by asymmetric orders too). */
export async function storeContainer(env: BarbicanEnv, ctx: HandlerContext<Fields>, name: string | null, type: ContainerType, secrets: ContainerRecord["secrets"]): Promise<ContainerRecord> {
  const now = nowStamp();
  const rec: ContainerRecord = { id: newId(env.tag), created: now, updated: now, name, type, creatorId: callerUser(ctx.req), secrets, consumers: [], acl: null };
  await saveContainer(ctx.storage, rec);
  return rec;
}

export function containerPaths(env: BarbicanEnv) {
  return [
    definePath({
      pattern: "containers",
      takesArbitraryInput: true,
      existenceCheck: async () => false,
      operations: {
        list: async ({ req, storage }) => {
          const base = baseHref(req);
          const name = queryString(req.data, "name");
          const type = queryString(req.data, "type");
          const all = (await allContainers(storage)).filter((c) => (name === undefined || name === "" || c.name === name) && (type === undefined || type === "" || c.type === type));
          return { data: renderPage("containers", page(all, req.data), (c) => renderContainer(c, base), `${base}/v1/containers`) };
        },
        create: async (ctx) => {
          const body = ctx.req.data;
          const type = parseType(body.type);
          const name = body.name;
          if (name !== undefined && name !== null && (typeof name !== "string" || name.length > 255)) throw schemaError(SCHEMA, "'name' must be a string of at most 255 characters", "name");
          const secrets = await parseSecretRefs(env, ctx, type, body.secret_refs);
          await checkQuota(ctx.storage, "containers", async () => (await allContainers(ctx.storage)).length, env.quotas);
          const rec = await storeContainer(env, ctx, typeof name === "string" ? name : null, type, secrets);
          const ref = containerRef(baseHref(ctx.req), rec.id);
          return { status: 201, data: { container_ref: ref }, headers: { location: ref } };
        },
      },
      synopsis: "List or create containers",
    }),
    definePath({
      pattern: "containers/:id",
      takesArbitraryInput: true,
      operations: {
        read: async ({ req, storage, params }) => ({ data: renderContainer(await loadContainer(storage, env.tag, params.id), baseHref(req)) }),
        delete: {
          transaction: true,
          handler: async ({ storage, params }) => {
            const rec = await loadContainer(storage, env.tag, params.id);
            await saveContainer(storage, { ...rec, secrets: [], consumers: [], acl: null, deleted: true });
            return { status: 204 };
          },
        },
      },
      synopsis: "A container; delete it (its secrets stay)",
    }),
    definePath({
      pattern: "containers/:id/secrets",
      takesArbitraryInput: true,
      operations: {
        update: {
          transaction: true,
          handler: async (ctx) => {
            const rec = await loadContainer(ctx.storage, env.tag, ctx.params.id);
            if (rec.type !== "generic") throw badRequest("Only 'generic' containers can be modified.");
            const { name, secretId } = parseContainerSecret(ctx.req.data);
            await liveSecret(env, ctx, secretId, "Secret provided doesn't exist.");
            if (rec.secrets.some((e) => e.secretId === secretId && e.name === name)) {
              throw new BarbicanError("conflict", "Conflict. A secret with that name and ID is already stored in this container. The same secret can exist in a container as long as the name is unique.");
            }
            if (rec.secrets.length >= MAX_SECRETS) throw badRequest(`A container holds at most ${MAX_SECRETS} secrets`);
            await saveContainer(ctx.storage, { ...rec, secrets: [...rec.secrets, { name, secretId }], updated: nowStamp() });
            const ref = containerRef(baseHref(ctx.req), rec.id);
            return { status: 201, data: { container_ref: ref }, headers: { location: ref } };
          },
        },
        delete: {
          transaction: true,
          handler: async (ctx) => {
            const rec = await loadContainer(ctx.storage, env.tag, ctx.params.id);
            const { name, secretId, ref } = parseContainerSecret(ctx.req.data);
            await liveSecret(env, ctx, secretId, `Secret '${ref.slice(0, 300)}' with name '${name ?? "None"}' doesn't exist.`);
            const kept = rec.secrets.filter((e) => !(e.secretId === secretId && e.name === name));
            if (kept.length === rec.secrets.length) throw new BarbicanError("not_found", "Secret provided is not in the container");
            await saveContainer(ctx.storage, { ...rec, secrets: kept, updated: nowStamp() });
            return { status: 204 };
          },
        },
      },
      synopsis: "Add a secret to a generic container, or take one out (the secret stays)",
    }),
    definePath({
      pattern: "containers/:id/acl",
      takesArbitraryInput: true,
      operations: {
        read: async ({ storage, params }) => ({ data: renderAcl((await loadContainer(storage, env.tag, params.id)).acl) }),
        update: {
          transaction: true,
          handler: async ({ req, storage, params }) => {
            const rec = await loadContainer(storage, env.tag, params.id);
            rec.acl = parseAclBody(req.data, null, nowStamp());
            await saveContainer(storage, rec);
            return { data: { acl_ref: `${containerRef(baseHref(req), rec.id)}/acl` } };
          },
        },
        patch: {
          transaction: true,
          handler: async ({ req, storage, params }) => {
            const rec = await loadContainer(storage, env.tag, params.id);
            rec.acl = parseAclBody(req.data, rec.acl, nowStamp());
            await saveContainer(storage, rec);
            return { data: { acl_ref: `${containerRef(baseHref(req), rec.id)}/acl` } };
          },
        },
        delete: {
          transaction: true,
          handler: async ({ storage, params }) => {
            const rec = await loadContainer(storage, env.tag, params.id);
            rec.acl = null;
            await saveContainer(storage, rec);
            return { status: 204 };
          },
        },
      },
      synopsis: "Who may read a container",
    }),
  ];
}
