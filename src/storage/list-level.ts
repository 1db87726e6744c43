/**
 * One level of listing over a sorted key range, for backends whose range reads are asynchronous
 * (PostgreSQL): scan keys in order and, on meeting a sub-folder, seek past it instead of walking it. SQLite
 * (synchronous iterators) shares the range arithmetic (prefixEnd, levelScan).
 */
import { collapseToLevel, type ListOptions } from "./storage.js";

/** Reads up to `limit` keys with start <= key < end (end undefined: no upper bound), in byte order. */
export type RangeReader = (start: string, end: string | undefined, limit: number) => Promise<string[]>;

/** The smallest string greater than every string starting with `prefix` ("" has none). */
export function prefixEnd(prefix: string): string | undefined {
  if (prefix === "") return undefined;
  const last = prefix.charCodeAt(prefix.length - 1);
  return prefix.slice(0, -1) + String.fromCharCode(last + 1);
}

/** Keys fetched per range read: large enough for flat folders, small enough not to pull a sub-tree. */
const PAGE = 256;

/**
 * Where one level's scan starts and how many names it returns (the SQLite and PostgreSQL listings share
 * this): after `opts.after`, past its whole sub-tree when it is a folder.
 */
export function levelScan(prefix: string, opts: ListOptions): { start: string; end: string | undefined; limit: number } {
  let start = prefix;
  if (opts.after !== undefined && opts.after !== "") {
    start = opts.after.endsWith("/") ? prefix + prefixEnd(opts.after) : prefix + opts.after + "\u0001";
  }
  return { start, end: prefixEnd(prefix), limit: opts.limit && opts.limit > 0 ? opts.limit : Infinity };
}

export async function listLevelAsync(read: RangeReader, prefix: string, opts: ListOptions): Promise<string[]> {
  const scan = levelScan(prefix, opts);
  const { end, limit } = scan;
  let start = scan.start;
  const out: string[] = [];
  for (;;) {
    const keys = await read(start, end, PAGE);
    let next: string | undefined;
    for (const key of keys) {
      const [name] = collapseToLevel(prefix, [key]);
      if (name === undefined) continue;
      out.push(name);
      if (out.length >= limit) return out;
      if (name.endsWith("/")) {
        next = prefix + prefixEnd(name);
        break;
      }
    }
    if (next === undefined) {
      // A short page is the end of the range; a full one without folders continues after its last key.
      if (keys.length < PAGE) return out;
      // No valid key lies between k and k + "\u0001" (keys hold no NUL, which PostgreSQL text cannot carry).
      next = keys[keys.length - 1] + "\u0001";
    }
    start = next;
  }
}
