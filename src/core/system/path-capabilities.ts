/** sys/capabilities, capabilities-self, capabilities-accessor. */
import { ArcaError } from "../../common/errors.js";
import { definePath, type PathSpec } from "../framework/path.js";
import type { Core, ResolvedToken } from "../core.js";
import type { Namespace } from "../namespaces/namespace.js";

const FIELDS = {
  token: { type: "string" },
  accessor: { type: "string" },
  path: { type: "strings", description: "Deprecated single path; use paths." },
  paths: { type: "strings", description: "Paths to report the capabilities on." },
} as const;

/** Capabilities of `token` on paths of namespace `ns` ("deny" for a token that cannot act there). */
async function report(core: Core, ns: Namespace, token: ResolvedToken | undefined, paths: string[]): Promise<Record<string, unknown>> {
  if (paths.length === 0) throw new ArcaError("invalid_request", "missing paths");
  const data: Record<string, unknown> = {};
  const scoped = token ? await core.aclIn(token, ns) : undefined;
  const all: string[] = [];
  for (const raw of paths) {
    const path = raw.replace(/^\/+/, "");
    // Sorted, as OpenBao's core does before answering.
    const caps = scoped ? scoped.acl.capabilitiesOn(scoped.prefix + path).sort() : ["deny"];
    data[raw] = caps;
    all.push(...caps);
  }
  // Single path: also `capabilities` (the old clients' field).
  data.capabilities = paths.length === 1 ? data[paths[0]] : [...new Set(all)].sort();
  return data;
}

export function capabilityPaths(ns: Namespace, core: Core): PathSpec[] {
  return [
    definePath({
      pattern: "capabilities",
      fields: FIELDS,
      synopsis: "Capabilities of a token on the given paths.",
      operations: {
        update: async ({ fields, req }) => {
          if (!fields.token) throw new ArcaError("invalid_request", "missing token");
          const token = await core.resolveToken(fields.token, req.remoteAddress);
          return { data: await report(core, ns, token, [...(fields.paths ?? []), ...(fields.path ?? [])]) };
        },
      },
    }),
    definePath({
      pattern: "capabilities-self",
      fields: FIELDS,
      synopsis: "Capabilities of the calling token on the given paths.",
      operations: {
        update: async ({ fields, req }) => {
          const token = await core.resolveCaller(req.caller);
          return { data: await report(core, ns, token, [...(fields.paths ?? []), ...(fields.path ?? [])]) };
        },
      },
    }),
    definePath({
      pattern: "capabilities-accessor",
      fields: FIELDS,
      synopsis: "Capabilities of the token with the given accessor on the given paths.",
      operations: {
        update: async ({ fields }) => {
          if (!fields.accessor) throw new ArcaError("invalid_request", "missing accessor");
          const owner = core.namespaceOfAccessor(fields.accessor);
          const entry = await owner?.tokens.lookupByAccessor(fields.accessor);
          if (!owner || !entry) throw new ArcaError("invalid_request", "invalid accessor");
          return { data: await report(core, ns, { entry, ns: owner }, [...(fields.paths ?? []), ...(fields.path ?? [])]) };
        },
      },
    }),
  ];
}
