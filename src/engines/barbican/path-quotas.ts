/**
 * `quotas` (the caller's project, effective values), `project-quota` (one project's configured quotas, for
 * service admins: the wire format routes /v1/project-quotas/{id} into that project's namespace, so only a
 * token that reaches it passes the pipeline) and `secret-stores` (the one store: the project's payload
 * sealer, which is both the global default and every project's preferred store).
 */
import { definePath } from "../../core/framework/path.js";
import { putJson } from "../../core/view.js";
import { BarbicanError, badRequest } from "./barbican-error.js";
import { baseHref, type BarbicanEnv } from "./barbican-env.js";
import { QUOTA_NAMES, QUOTAS_KEY, type Quotas } from "./quotas.js";

const STORE_CREATED = "2026-12-01T00:00:00";

function parseQuotas(body: Record<string, unknown>): Quotas {
  const q = body.project_quotas;
  if (typeof q !== "object" || q === null || Array.isArray(q)) throw badRequest("Provided object does not match schema 'Project Quota': 'project_quotas' is a required property. Invalid property: 'project_quotas'");
  const out: Quotas = {};
  for (const [k, v] of Object.entries(q as Record<string, unknown>)) {
    if (!(QUOTA_NAMES as readonly string[]).includes(k)) throw badRequest(`Provided object does not match schema 'Project Quota': Additional properties are not allowed ('${k.slice(0, 64)}' was unexpected). Invalid property: '${k.slice(0, 64)}'`);
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < -1) throw badRequest(`Provided object does not match schema 'Project Quota': ${JSON.stringify(v).slice(0, 32)} is not a valid quota. Invalid property: '${k}'`);
    out[k as (typeof QUOTA_NAMES)[number]] = v;
  }
  return out;
}

export function quotaPaths(env: BarbicanEnv) {
  const storeId = `${env.tag}-0000-4000-8000-000000000001`;
  const store = (base: string): Record<string, unknown> => ({
    status: "ACTIVE",
    updated: STORE_CREATED,
    name: `Arca ${env.sealer.kind}`,
    created: STORE_CREATED,
    secret_store_ref: `${base}/v1/secret-stores/${storeId}`,
    global_default: true,
    crypto_plugin: null,
    secret_store_plugin: `arca_${env.sealer.kind}`,
  });
  const oneStore = (id: string, base: string): Record<string, unknown> => {
    if (id !== storeId) throw new BarbicanError("not_found", "Not Found. Provided secret store id is invalid.");
    return store(base);
  };
  return [
    definePath({
      pattern: "quotas",
      operations: {
        read: async ({ storage }) => {
          const q = (await env.quotas.get(storage)) ?? {};
          return { data: { quotas: Object.fromEntries(QUOTA_NAMES.map((n) => [n, q[n] ?? -1])) } };
        },
      },
      synopsis: "The calling project's effective quotas",
    }),
    definePath({
      pattern: "project-quota",
      takesArbitraryInput: true,
      operations: {
        read: async ({ storage }) => {
          const q = await env.quotas.get(storage);
          if (!q) throw new BarbicanError("not_found", "Not Found. Sorry, no quotas set for this project.");
          return { data: { project_quotas: q } };
        },
        update: async ({ req, storage }) => {
          const q = parseQuotas(req.data);
          await putJson(storage, QUOTAS_KEY, q);
          env.quotas.set(q);
          return { status: 204 };
        },
        delete: async ({ storage }) => {
          if (!(await env.quotas.get(storage))) throw new BarbicanError("not_found", "Not Found. Sorry, no quotas set for this project.");
          await storage.delete(QUOTAS_KEY);
          env.quotas.set(undefined);
          return { status: 204 };
        },
      },
      synopsis: "A project's configured quotas (service admin)",
    }),
    definePath({
      pattern: "secret-stores",
      operations: { list: async ({ req }) => ({ data: { secret_stores: [store(baseHref(req))], total: 1 } }) },
    }),
    definePath({
      pattern: "secret-stores/global-default",
      operations: { read: async ({ req }) => ({ data: store(baseHref(req)) }) },
    }),
    definePath({
      pattern: "secret-stores/preferred",
      operations: { read: async ({ req }) => ({ data: store(baseHref(req)) }) },
    }),
    definePath({
      pattern: "secret-stores/:id",
      operations: { read: async ({ req, params }) => ({ data: oneStore(params.id, baseHref(req)) }) },
    }),
    definePath({
      pattern: "secret-stores/:id/preferred",
      operations: {
        // One store: it is already every project's preferred one; setting or unsetting changes nothing.
        update: async ({ req, params }) => (oneStore(params.id, baseHref(req)), { status: 204 }),
        delete: async ({ req, params }) => (oneStore(params.id, baseHref(req)), { status: 204 }),
      },
    }),
  ];
}
