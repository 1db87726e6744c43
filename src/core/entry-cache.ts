/**
 * A bounded LRU cache of decrypted barrier entries, so hot reads skip storage and AES-GCM.
 *
 * Correctness under concurrency: every write invalidates its key twice (when written inside the
 * transaction and again once committed) and bumps a generation counter; a reader may only fill the
 * cache if no invalidation happened since it began reading, so a value read before a commit can never
 * be cached after it. Entries are zeroed when evicted or cleared (seal).
 */
export class EntryCache {
  private readonly entries = new Map<string, Buffer>();
  private bytes = 0;
  private generation = 0;

  constructor(
    // Bounded so that memory stays flat however large the store grows (measured with 1M KV entries).
    private readonly maxEntries = 50_000,
    private readonly maxBytes = 32 * 1024 * 1024,
  ) {}

  /** A copy of the cached value (callers may zero what they get). */
  get(key: string): Buffer | undefined {
    const v = this.entries.get(key);
    if (v === undefined) return undefined;
    // Refresh recency: Map iteration order is insertion order.
    this.entries.delete(key);
    this.entries.set(key, v);
    return Buffer.from(v);
  }

  /** The generation to pass to `fill` for a read that starts now. */
  begin(): number {
    return this.generation;
  }

  fill(key: string, value: Buffer, since: number): void {
    if (since !== this.generation || value.length > this.maxBytes / 16) return;
    this.drop(key);
    const copy = Buffer.from(value);
    this.entries.set(key, copy);
    this.bytes += copy.length;
    while (this.entries.size > this.maxEntries || this.bytes > this.maxBytes) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.drop(oldest);
    }
  }

  invalidate(key: string): void {
    this.generation++;
    this.drop(key);
  }

  clear(): void {
    this.generation++;
    for (const v of this.entries.values()) v.fill(0);
    this.entries.clear();
    this.bytes = 0;
  }

  get size(): number {
    return this.entries.size;
  }

  private drop(key: string): void {
    const v = this.entries.get(key);
    if (v === undefined) return;
    this.bytes -= v.length;
    v.fill(0);
    this.entries.delete(key);
  }
}
