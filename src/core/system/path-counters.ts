/**
 * sys/internal/counters/{tokens,entities,requests,activity} (root namespace only, as in OpenBao).
 *
 * tokens and entities answer as OpenBao does (`counters.service_tokens.total` counts the stored tokens of
 * every namespace; Arca has no identity entities, so `counters.entities.total` is 0). requests and
 * activity are the shapes Vault had and monitoring still polls: Arca keeps no persisted request counter
 * nor client activity log, so `requests` is this server's request count since it started (one entry for
 * the current month) and `activity` counts each namespace's live tokens as non-entity clients. Each
 * token listing is paged (countTokens), so the cost is one list per 1000 tokens per namespace.
 */
import { definePath, type PathSpec } from "../framework/path.js";
import type { Core } from "../core.js";

/** The first instant of the current UTC month, RFC 3339 — Vault's request counters are per month. */
function monthStart(now: Date): string {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString().replace(".000Z", "Z");
}

async function tokensByNamespace(core: Core): Promise<Array<{ id: string; path: string; tokens: number }>> {
  const out: Array<{ id: string; path: string; tokens: number }> = [];
  for (const ns of core.namespaces.open()) out.push({ id: ns.ref.id, path: ns.path, tokens: await ns.tokens.countTokens() });
  return out;
}

/** Requests this server answered since it started: the sum of its request counter over every label. */
async function requestsSinceStart(core: Core): Promise<number> {
  const summary = (await core.metrics?.json()) as { Counters?: Array<{ Name: string; Count: number }> } | undefined;
  return (summary?.Counters ?? []).filter((c) => c.Name === "arca_requests_total").reduce((n, c) => n + c.Count, 0);
}

export function counterPaths(core: Core): PathSpec[] {
  return [
    definePath({
      pattern: "internal/counters/tokens",
      synopsis: "The number of stored service tokens, every namespace included.",
      operations: {
        read: async () => {
          const total = (await tokensByNamespace(core)).reduce((n, ns) => n + ns.tokens, 0);
          return { data: { counters: { service_tokens: { total } } } };
        },
      },
    }),
    definePath({
      pattern: "internal/counters/entities",
      synopsis: "The number of identity entities (Arca has none).",
      operations: { read: async () => ({ data: { counters: { entities: { total: 0 } } } }) },
    }),
    definePath({
      pattern: "internal/counters/requests",
      synopsis: "Requests answered by this server since it started, as the current month's counter.",
      operations: {
        read: async () => ({ data: { counters: [{ start_time: monthStart(new Date()), total: await requestsSinceStart(core) }] } }),
      },
    }),
    definePath({
      pattern: "internal/counters/activity",
      fields: {
        start_time: { type: "string", description: "Start of the query interval (RFC 3339); echoed, Arca keeps no history." },
        end_time: { type: "string", description: "End of the query interval (RFC 3339); echoed, Arca keeps no history." },
      },
      synopsis: "Clients per namespace: live tokens, counted as non-entity clients (no activity log is kept).",
      operations: {
        read: async ({ fields }) => {
          const now = new Date();
          const counts = (n: number) => ({ clients: n, entity_clients: 0, non_entity_clients: n, distinct_entities: 0, non_entity_tokens: n });
          const spaces = await tokensByNamespace(core);
          const total = spaces.reduce((n, ns) => n + ns.tokens, 0);
          return {
            data: {
              start_time: fields.start_time || monthStart(now),
              end_time: fields.end_time || now.toISOString(),
              total: counts(total),
              by_namespace: spaces.map((ns) => ({ namespace_id: ns.id, namespace_path: ns.path, counts: counts(ns.tokens), mounts: [] })),
              months: [],
            },
          };
        },
      },
    }),
  ];
}
