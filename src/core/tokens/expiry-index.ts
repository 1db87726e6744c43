/**
 * The token store's time-ordered expiry index: one empty row per expiring token under
 * `expire/<bucket>/<token hash>`, where the bucket is the start of the minute the token expires in
 * (Unix seconds, zero-padded so that key order is time order).
 *
 * Why an index rather than a scan: finding what has expired must not read (and decrypt) every token on
 * every run. With the index, a run lists bucket names in order and stops at the first one still in the
 * future, so its cost follows the number of tokens due, not the number stored. Minute buckets keep the
 * number of folders small (at most one per minute of the longest TTL) while a run still only looks at
 * tokens that are due or nearly so.
 *
 * The rows are written in the same transaction as the token entry they describe (create, renew, revoke),
 * so they survive restarts and never disagree with the entries after a crash.
 */
import type { KeyValueReader } from "../../storage/storage.js";

export const EXPIRY_PREFIX = "expire/";
const BUCKET_MS = 60_000;
const BUCKET_DIGITS = 12;

/** The bucket folder (without trailing "/") a token expiring at `expireTime` (Unix ms) belongs in. */
export function expiryBucket(expireTime: number): string {
  const start = Math.floor(expireTime / BUCKET_MS) * (BUCKET_MS / 1000);
  return String(start).padStart(BUCKET_DIGITS, "0");
}

/** The index row of a token, or undefined for tokens that never expire. */
export function expiryKey(entry: { id: string; expireTime: number }): string | undefined {
  return entry.expireTime > 0 ? `${EXPIRY_PREFIX}${expiryBucket(entry.expireTime)}/${entry.id}` : undefined;
}

/** Start of a bucket in Unix ms. */
function bucketStart(bucket: string): number {
  return Number(bucket) * 1000;
}

/**
 * The buckets that may hold tokens expired at `now`, oldest first: every bucket whose minute has begun.
 * Reads bucket names page by page and stops at the first future one.
 */
export async function* dueBuckets(store: KeyValueReader, now: number): AsyncGenerator<string> {
  let after: string | undefined;
  for (;;) {
    const page = await store.list(EXPIRY_PREFIX, { after, limit: 100 });
    for (const name of page) {
      const bucket = name.replace(/\/$/, "");
      if (!/^\d+$/.test(bucket)) continue;
      if (bucketStart(bucket) > now) return;
      yield bucket;
    }
    if (page.length < 100) return;
    after = page[page.length - 1];
  }
}
