/**
 * Parsed records the hot path reads on every data-key request (the system, its configuration, the L1 key),
 * kept in memory so a request costs no storage reads once warm. Correctness rests on one rule: every code
 * path that writes a record calls `changed()` after its write and before it answers (a mutating handler,
 * a background job step, `invalidate` from another node, a seal). `changed()` forgets everything and moves
 * the generation, and a read that began before it does not put its (possibly old) result back — so a
 * request that starts after a revoke has returned always sees the REVOKED state.
 */
const MAX_ENTRIES = 50_000;

export class RecordCache {
  private readonly entries = new Map<string, unknown>();
  private gen = 0;

  /** The cached value of `key`, else `load()`'s (cached unless a change happened meanwhile). */
  async get<T>(key: string, load: () => Promise<T | undefined>): Promise<T | undefined> {
    if (this.entries.has(key)) return this.entries.get(key) as T;
    const started = this.gen;
    const value = await load();
    if (value !== undefined && started === this.gen) {
      if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
      this.entries.set(key, value);
    }
    return value;
  }

  changed(): void {
    this.gen++;
    this.entries.clear();
  }
}
