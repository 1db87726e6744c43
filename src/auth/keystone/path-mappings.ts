/**
 * The two mapping tables: `projects/:project_id` {namespace} says which Arca namespace (relative to the
 * mount's) a Keystone project's tokens live in, and `roles/:keystone_role` {policies} which policies a
 * Keystone role grants. Role names are matched case-insensitively (stored lower-cased), as Keystone
 * itself treats them.
 */
import { ArcaError, notFound, unsupportedPath } from "../../common/errors.js";
import { definePath, type PathSpec } from "../../core/framework/path.js";
import type { Fields } from "../../core/framework/fields.js";
import { namespaceSegments } from "../../core/namespaces/namespace-entry.js";
import { sanitizePolicies } from "../../core/tokens/token-rules.js";
import { NON_ASSIGNABLE_POLICIES } from "../../core/policy/builtin.js";
import { getJson, putJson } from "../../core/view.js";
import type { KeyValueStore } from "../../storage/storage.js";

/** OpenBao's framework.GenericNameRegex: what a path segment may be. */
const NAME = /^\w(?:[\w.-]*\w)?$/;

export interface ProjectMapping {
  namespace: string;
}

export interface RoleMapping {
  policies: string[];
}

function key(prefix: "project/" | "role/", name: string): string {
  if (!NAME.test(name) || name.length > 256) throw unsupportedPath();
  return prefix + (prefix === "role/" ? name.toLowerCase() : name);
}

/** A mapping's namespace, normalised ("a//b/" → "a/b"). */
export function normaliseNamespace(raw: string): string {
  return namespaceSegments(raw).join("/");
}

export function readProject(storage: KeyValueStore, projectId: string): Promise<ProjectMapping | undefined> {
  // A Keystone project ID that could not be a stored key simply has no mapping.
  if (!NAME.test(projectId) || projectId.length > 256) return Promise.resolve(undefined);
  return getJson<ProjectMapping>(storage, key("project/", projectId));
}

export async function readRole(storage: KeyValueStore, role: string): Promise<RoleMapping | undefined> {
  if (!NAME.test(role) || role.length > 256) return undefined;
  return getJson<RoleMapping>(storage, key("role/", role));
}

async function listAll(storage: KeyValueStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await storage.list(prefix, { after, limit: 1000 });
    out.push(...page);
    if (page.length < 1000) return out;
    after = page[page.length - 1];
  }
}

export function mappingPaths(): PathSpec<Fields>[] {
  return [
    definePath({
      pattern: "projects",
      operations: { list: async (ctx) => ({ data: { keys: await listAll(ctx.storage, "project/") } }) },
      synopsis: "List the Keystone projects mapped to a namespace.",
    }),
    definePath({
      pattern: "projects/:project_id",
      fields: {
        project_id: { type: "string", required: true, description: "The Keystone project ID." },
        namespace: { type: "string", description: "Namespace (relative to the mount's) the project's tokens are issued in; empty for the mount's own." },
      },
      existenceCheck: async (ctx) => (await getJson(ctx.storage, key("project/", ctx.params.project_id))) !== undefined,
      operations: {
        read: async (ctx) => {
          const m = await getJson<ProjectMapping>(ctx.storage, key("project/", ctx.params.project_id));
          if (!m) throw notFound();
          return { data: { namespace: m.namespace } };
        },
        create: async (ctx) => {
          const k = key("project/", ctx.fields.project_id);
          if (ctx.fields.namespace === undefined) throw new ArcaError("invalid_request", "missing namespace");
          await putJson(ctx.storage, k, { namespace: normaliseNamespace(ctx.fields.namespace) } satisfies ProjectMapping);
          return undefined;
        },
        update: async (ctx) => {
          const k = key("project/", ctx.fields.project_id);
          if (ctx.fields.namespace === undefined) throw new ArcaError("invalid_request", "missing namespace");
          await putJson(ctx.storage, k, { namespace: normaliseNamespace(ctx.fields.namespace) } satisfies ProjectMapping);
          return undefined;
        },
        delete: async (ctx) => {
          await ctx.storage.delete(key("project/", ctx.params.project_id));
          return undefined;
        },
      },
      synopsis: "Map a Keystone project to a namespace.",
    }),
    definePath({
      pattern: "roles",
      operations: { list: async (ctx) => ({ data: { keys: await listAll(ctx.storage, "role/") } }) },
      synopsis: "List the Keystone roles mapped to policies.",
    }),
    definePath({
      pattern: "roles/:keystone_role",
      fields: {
        keystone_role: { type: "string", required: true, description: "The Keystone role name." },
        policies: { type: "strings", description: "Policies a token carrying this role gets (in the project's namespace)." },
      },
      existenceCheck: async (ctx) => (await getJson(ctx.storage, key("role/", ctx.params.keystone_role))) !== undefined,
      operations: {
        read: async (ctx) => {
          const m = await getJson<RoleMapping>(ctx.storage, key("role/", ctx.params.keystone_role));
          if (!m) throw notFound();
          return { data: { policies: m.policies } };
        },
        create: async (ctx) => writeRole(ctx.storage, ctx.fields.keystone_role, ctx.fields.policies),
        update: async (ctx) => writeRole(ctx.storage, ctx.fields.keystone_role, ctx.fields.policies),
        delete: async (ctx) => {
          await ctx.storage.delete(key("role/", ctx.params.keystone_role));
          return undefined;
        },
      },
      synopsis: "Map a Keystone role to policies.",
    }),
  ];
}

async function writeRole(storage: KeyValueStore, role: string, raw: string[] | undefined): Promise<undefined> {
  const k = key("role/", role);
  const policies = sanitizePolicies(raw ?? [], false);
  for (const p of policies) {
    if (NON_ASSIGNABLE_POLICIES.includes(p)) throw new ArcaError("invalid_request", `cannot assign policy "${p}"`);
  }
  await putJson(storage, k, { policies } satisfies RoleMapping);
  return undefined;
}
