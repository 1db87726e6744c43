/**
 * A namespace's batch tokens on this node: the key they are sealed with (`batch-key` in the token store,
 * created on first setup) and the entries met here, by id. A batch token has no stored entry, yet the
 * pipeline later finds its caller by entry id (TokenStore.lookupById), so opened entries are remembered;
 * validity (expiry, parent) is checked again on every use by the store.
 */
import { randomBytes } from "node:crypto";
import { ArcaError } from "../../common/errors.js";
import type { KeyValueStore } from "../../storage/storage.js";
import { BATCH_TOKEN_PREFIX, MAX_BATCH_TOKEN_LENGTH, openBatch, sealBatch } from "./batch-token.js";
import type { TokenEntry } from "./token-entry.js";

const KEY_PATH = "batch-key";

export class BatchTokenKeeper {
  private key: Buffer | undefined;
  private readonly byId = new Map<string, TokenEntry>();

  /**
   * @param namespaceId bound into every sealed token: it never opens in another namespace.
   * @param suffix ".<namespace id>" in a namespace ("" in the root), after the sealed body.
   * @param memoLimit bound on remembered entries (cleared when reached).
   */
  constructor(
    private readonly namespaceId: string,
    private readonly suffix: string,
    private readonly memoLimit: number,
  ) {}

  /** Loads (or creates) the key. Called after unseal. */
  async setup(store: KeyValueStore): Promise<void> {
    let key = await store.get(KEY_PATH);
    if (!key) {
      key = randomBytes(32);
      await store.put(KEY_PATH, key);
    }
    this.key = key;
    this.byId.clear();
  }

  teardown(): void {
    this.key?.fill(0);
    this.key = undefined;
    this.byId.clear();
  }

  /** The token carrying `entry` sealed; sets `entry.id` to `hash(token)`. */
  issue(entry: TokenEntry, hash: (token: string) => string): string {
    const token = BATCH_TOKEN_PREFIX + sealBatch(this.sealKey(), this.namespaceId, entry) + this.suffix;
    if (token.length > MAX_BATCH_TOKEN_LENGTH) throw new ArcaError("invalid_request", "batch token too large: too many policies or too much metadata");
    entry.id = hash(token);
    return token;
  }

  /**
   * The entry inside a batch token of this namespace, or undefined when it is forged, tampered with or from
   * another namespace (wrong suffix, or sealed under another namespace's key and id). No validity check.
   */
  open(token: string, hash: (token: string) => string): TokenEntry | undefined {
    const key = this.sealKey();
    if (token.length > MAX_BATCH_TOKEN_LENGTH) return undefined;
    const body = token.slice(BATCH_TOKEN_PREFIX.length, token.length - this.suffix.length);
    if (!token.endsWith(this.suffix) || body.includes(".")) return undefined;
    return openBatch(key, this.namespaceId, body, hash(token));
  }

  remembered(id: string): TokenEntry | undefined {
    return this.byId.get(id);
  }

  remember(entry: TokenEntry): void {
    if (this.byId.size >= this.memoLimit) this.byId.clear();
    this.byId.set(entry.id, entry);
  }

  forget(id: string): void {
    this.byId.delete(id);
  }

  private sealKey(): Buffer {
    if (!this.key) throw new ArcaError("sealed", "Vault is sealed");
    return this.key;
  }
}
