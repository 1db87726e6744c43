// Where the daemon's shares come from. The Unsealer only sees this interface, so its state machine is
// tested with an in-memory source; the real one keeps only ciphertext in memory and asks the HSM for
// the plaintext at the moment a share is posted.
import type { ShareConfig } from "./config.js";
import { openSealedShare, readSealedShareFile, type SealedShare, type ShareKeys } from "./sealed-share.js";

export interface ShareSource {
  /** How many shares the daemon holds (posted in this order). */
  readonly count: number;
  /** The plaintext of share `index`, in a fresh buffer the caller must zero after use. */
  reveal(index: number): Promise<Buffer>;
}

export class HsmShareSource implements ShareSource {
  private constructor(
    private readonly km: ShareKeys,
    private readonly entries: ReadonlyArray<{ config: ShareConfig; sealed: SealedShare }>,
  ) {}

  /** Reads every sealed share file (ciphertext only) and checks each was sealed under its configured key. */
  static async load(km: ShareKeys, shares: readonly ShareConfig[]): Promise<HsmShareSource> {
    const entries = [];
    for (const config of shares) entries.push({ config, sealed: await readSealedShareFile(config.file) });
    return new HsmShareSource(km, entries);
  }

  get count(): number {
    return this.entries.length;
  }

  reveal(index: number): Promise<Buffer> {
    const e = this.entries[index];
    if (!e) return Promise.reject(new RangeError(`no share #${index}`));
    return openSealedShare(this.km, e.sealed, e.config);
  }

  /**
   * Start-up self-test: opens every share once in the HSM and wipes it, so a wrong PIN, a missing key or
   * a tampered file stops the daemon at start rather than at the first sealed server.
   */
  async selfTest(): Promise<void> {
    for (let i = 0; i < this.entries.length; i++) (await this.reveal(i)).fill(0);
  }
}
