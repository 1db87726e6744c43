/**
 * The only place L2/L3 plaintext lives: a bounded LRU in memory. Every way out of it zeroes the bytes —
 * eviction, `clear()` (revoke, seal/unmount via the engine's cleanup), replacement — so a key dropped from
 * the cache is gone from this process's heap, not merely unreferenced.
 *
 * `generation` moves on every clear: an unwrap that started before a revoke must not put its result back
 * (it checks the generation it started with), and an operation that used a key re-checks it before
 * answering, so nothing that began before the kill switch finishes after it returns.
 *
 * Callers use a key synchronously right after `get` (no await in between): zeroing can never happen under
 * a running cipher, because cipher setup copies the key in the same tick.
 */
export class KeyCache {
  private readonly entries = new Map<string, Buffer>();
  private gen = 0;

  constructor(private readonly max: number) {}

  get generation(): number {
    return this.gen;
  }

  get size(): number {
    return this.entries.size;
  }

  get(id: string): Buffer | undefined {
    const key = this.entries.get(id);
    if (key) {
      // Most recently used goes last (Map keeps insertion order).
      this.entries.delete(id);
      this.entries.set(id, key);
    }
    return key;
  }

  /** Keeps `key` (the cache owns it from now on) unless the cache was cleared since `startedAt`. */
  put(id: string, key: Buffer, startedAt: number): void {
    if (startedAt !== this.gen || this.max <= 0) {
      key.fill(0);
      return;
    }
    const old = this.entries.get(id);
    if (old && old !== key) old.fill(0);
    this.entries.delete(id);
    this.entries.set(id, key);
    while (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value as string;
      this.drop(oldest);
    }
  }

  drop(id: string): void {
    const key = this.entries.get(id);
    if (!key) return;
    key.fill(0);
    this.entries.delete(id);
  }

  /** Zeroes and forgets everything; later puts of unwraps begun before this are refused. */
  clear(): void {
    this.gen++;
    this.dropAll();
  }

  /**
   * Zeroes and forgets everything without moving the generation: requests already running finish (they
   * unwrap again), as after a local `drop`. For changes that take nothing away from a running request.
   */
  dropAll(): void {
    for (const key of this.entries.values()) key.fill(0);
    this.entries.clear();
  }
}
