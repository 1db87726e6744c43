/** sys/policies/acl/* and the legacy sys/policy/*. */
import { ArcaError, notFound } from "../../common/errors.js";
import { definePath, type PathSpec } from "../framework/path.js";
import type { Namespace } from "../namespaces/namespace.js";

/** Policies may arrive base64-encoded (the CLI does not, some tools do). */
function policyText(raw: string): string {
  const t = raw.trim();
  if (t !== "" && !/[{}"=\s]/.test(t) && /^[A-Za-z0-9+/]+={0,2}$/.test(t)) {
    const decoded = Buffer.from(t, "base64").toString("utf8");
    if (/path|\{/.test(decoded)) return decoded;
  }
  return raw;
}

export function policyPaths(ns: Namespace): PathSpec[] {
  const store = ns.policies;
  return [
    definePath({
      pattern: "policies/acl/:prefix*",
      fields: { prefix: { type: "string", default: "" } },
      synopsis: "List the configured ACL policies.",
      operations: {
        list: async ({ fields }) => ({ data: { keys: (await store.list()).filter((n) => n.startsWith(fields.prefix.replace(/\/$/, ""))) } }),
      },
    }),
    definePath({
      pattern: "policies/acl/:name",
      fields: {
        name: { type: "string", required: true, description: "The name of the policy." },
        policy: { type: "string", description: "The policy document (HCL or JSON), optionally base64-encoded." },
        cas: { type: "int", description: "Version the stored policy must have for the write to succeed." },
        cas_required: { type: "bool" },
      },
      synopsis: "Read, write or delete an ACL policy.",
      existenceCheck: async ({ fields }) => (await store.read(fields.name)) !== undefined,
      operations: {
        read: async ({ fields }) => {
          const p = await store.read(fields.name);
          if (!p) throw notFound();
          return { data: { name: p.name, policy: p.policy, rules: p.policy, version: p.version, modified: p.modified, cas_required: p.cas_required } };
        },
        create: async ({ fields }) => {
          if (fields.policy === undefined) throw new ArcaError("invalid_request", "'policy' parameter not supplied or empty");
          await store.write(fields.name, policyText(fields.policy), { cas: fields.cas, casRequired: fields.cas_required });
          return undefined;
        },
        update: async ({ fields }) => {
          if (fields.policy === undefined) throw new ArcaError("invalid_request", "'policy' parameter not supplied or empty");
          await store.write(fields.name, policyText(fields.policy), { cas: fields.cas, casRequired: fields.cas_required });
          return undefined;
        },
        patch: async ({ fields }) => {
          const cur = await store.read(fields.name);
          if (!cur) throw notFound();
          await store.write(fields.name, fields.policy !== undefined ? policyText(fields.policy) : cur.policy, {
            cas: fields.cas,
            casRequired: fields.cas_required ?? cur.cas_required,
          });
          return undefined;
        },
        delete: async ({ fields }) => {
          await store.delete(fields.name);
          return undefined;
        },
      },
    }),
    definePath({
      pattern: "policy",
      synopsis: "List the configured ACL policies (legacy).",
      operations: {
        read: async () => {
          const names = await store.list();
          return { data: { keys: names, policies: names } };
        },
      },
    }),
    definePath({
      pattern: "policy/:name",
      fields: {
        name: { type: "string", required: true },
        policy: { type: "string" },
        rules: { type: "string", deprecated: true },
      },
      synopsis: "Read, write or delete an ACL policy (legacy).",
      operations: {
        read: async ({ fields }) => {
          const p = await store.read(fields.name);
          if (!p) throw notFound();
          return { data: { name: p.name, rules: p.policy } };
        },
        update: async ({ fields }) => {
          const text = fields.policy ?? fields.rules;
          if (text === undefined) throw new ArcaError("invalid_request", "'policy' parameter not supplied or empty");
          await store.write(fields.name, policyText(text), {});
          return undefined;
        },
        delete: async ({ fields }) => {
          await store.delete(fields.name);
          return undefined;
        },
      },
    }),
  ];
}
