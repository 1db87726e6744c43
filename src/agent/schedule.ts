// When to renew a certificate and how long to wait after a failure.
//
// Renewal is at `renew_before` ahead of expiry, or at 2/3 of the lifetime by default (cert-manager's and
// Vault Agent's rule), moved earlier by a random jitter of up to 10% of the lifetime so that many agents
// started together do not renew together. Never later: a late renewal is an outage.

export interface Validity {
  notBefore: Date;
  notAfter: Date;
  /** When the agent received it. CAs backdate notBefore (OpenBao by 30 s) against clock skew; counted from
   * notBefore, a short certificate's "2/3 of the lifetime" would already be behind us on arrival. */
  issuedAt?: Date;
}

const JITTER_FRACTION = 0.1;

/** Epoch ms at which to renew. `random` is in [0, 1). */
export function renewalTime(v: Validity, renewBeforeSeconds: number | undefined, random: () => number = Math.random): number {
  const start = Math.max(v.notBefore.getTime(), v.issuedAt?.getTime() ?? 0);
  const end = v.notAfter.getTime();
  const lifetime = Math.max(0, end - start);
  // A renew_before as long as the lifetime would renew in a loop: fall back to the default then.
  const before = renewBeforeSeconds !== undefined && renewBeforeSeconds * 1000 < lifetime ? renewBeforeSeconds * 1000 : lifetime / 3;
  const at = end - before;
  return Math.max(start, at - random() * JITTER_FRACTION * lifetime);
}

export interface Backoff {
  /** First delay after a failure (ms). */
  baseMs: number;
  /** Cap (ms). */
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { baseMs: 1_000, maxMs: 5 * 60_000 };

/** Delay after the `failures`-th consecutive failure (1-based): exponential, capped, with "equal jitter". */
export function backoffDelay(failures: number, b: Backoff, random: () => number = Math.random): number {
  const exp = Math.min(b.maxMs, b.baseMs * 2 ** Math.max(0, Math.min(30, failures - 1)));
  return exp / 2 + random() * (exp / 2);
}
