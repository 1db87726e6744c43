/**
 * Barbican's list paging: `limit` (default 10, at most 100) and `offset` from the query, the page, `total`,
 * and absolute `previous`/`next` refs when there is more on either side.
 */
export const DEFAULT_LIMIT = 10;
export const MAX_LIMIT = 100;

function intParam(v: unknown, fallback: number): number {
  if (typeof v !== "string" || !/^\d{1,9}$/.test(v)) return fallback;
  return Number(v);
}

export interface Page<T> {
  items: T[];
  limit: number;
  offset: number;
  total: number;
}

export function page<T>(all: T[], query: Record<string, unknown>): Page<T> {
  const limit = Math.min(Math.max(intParam(query.limit, DEFAULT_LIMIT), 1), MAX_LIMIT);
  const offset = intParam(query.offset, 0);
  return { items: all.slice(offset, offset + limit), limit, offset, total: all.length };
}

/** `{<key>: [...], previous?, next?, total}` in Barbican's key order; `collection` is the list's absolute URL. */
export function renderPage<T>(key: string, p: Page<T>, render: (item: T) => unknown, collection: string): Record<string, unknown> {
  const out: Record<string, unknown> = { [key]: p.items.map(render) };
  if (p.offset > 0) out.previous = `${collection}?limit=${p.limit}&offset=${Math.max(0, p.offset - p.limit)}`;
  if (p.offset + p.limit < p.total) out.next = `${collection}?limit=${p.limit}&offset=${p.offset + p.limit}`;
  out.total = p.total;
  return out;
}

/** The query's single string value of `name`, if sent. */
export function queryString(query: Record<string, unknown>, name: string): string | undefined {
  const v = query[name];
  return typeof v === "string" ? v : undefined;
}
