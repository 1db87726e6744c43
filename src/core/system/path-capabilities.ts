/** sys/capabilities, capabilities-self, capabilities-accessor. */
import { ArcaError } from "../errors.js";
import { definePath, type PathSpec } from "../framework/path.js";
import type { Core } from "../core.js";
import type { ACL } from "../policy/acl.js";
import type { TokenEntry } from "../tokens/token-store.js";

const FIELDS = {
  token: { type: "string" },
  accessor: { type: "string" },
  path: { type: "strings", description: "Deprecated single path; use paths." },
  paths: { type: "strings", description: "Paths to report the capabilities on." },
} as const;

async function report(core: Core, entry: TokenEntry | undefined, paths: string[]): Promise<Record<string, unknown>> {
  if (paths.length === 0) throw new ArcaError("invalid_request", "missing paths");
  const data: Record<string, unknown> = {};
  const acl: ACL | undefined = entry ? await core.policies.aclFor(entry.policies) : undefined;
  const all: string[] = [];
  for (const raw of paths) {
    const path = raw.replace(/^\/+/, "");
    // Sorted, as OpenBao's core does before answering.
    const caps = acl ? acl.capabilitiesOn(path).sort() : ["deny"];
    data[raw] = caps;
    all.push(...caps);
  }
  // Single path: also `capabilities` (the old clients' field).
  data.capabilities = paths.length === 1 ? data[paths[0]] : [...new Set(all)].sort();
  return data;
}

export function capabilityPaths(core: Core): PathSpec[] {
  return [
    definePath({
      pattern: "capabilities",
      fields: FIELDS,
      synopsis: "Capabilities of a token on the given paths.",
      operations: {
        update: async ({ fields }) => {
          if (!fields.token) throw new ArcaError("invalid_request", "missing token");
          const entry = await core.tokens.lookup(fields.token);
          return { data: await report(core, entry, [...(fields.paths ?? []), ...(fields.path ?? [])]) };
        },
      },
    }),
    definePath({
      pattern: "capabilities-self",
      fields: FIELDS,
      synopsis: "Capabilities of the calling token on the given paths.",
      operations: {
        update: async ({ fields, req }) => {
          const entry = req.caller ? await core.tokens.lookupById(req.caller.tokenEntryId) : undefined;
          return { data: await report(core, entry, [...(fields.paths ?? []), ...(fields.path ?? [])]) };
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
          const entry = await core.tokens.lookupByAccessor(fields.accessor);
          if (!entry) throw new ArcaError("invalid_request", "invalid accessor");
          return { data: await report(core, entry, [...(fields.paths ?? []), ...(fields.path ?? [])]) };
        },
      },
    }),
  ];
}
