/**
 * Challenge validation, off the request path: a challenge response only marks the challenge processing and
 * starts a job here; the job validates (http-01, dns-01, tls-alpn-01), retries with back-off while the
 * client's setup may still be settling, and records valid or invalid (with the problem) on the challenge
 * and its authorization. Every attempt is bounded by a timeout, so a slow target holds only its own job.
 */
import type { KeyValueStore } from "../../../storage/storage.js";
import { loadAcmeConfig, type AcmeConfig } from "./acme-config.js";
import { AK, getAcme, putAcme, type AccountRecord, type AuthzRecord, type ChallengeType } from "./acme-store.js";
import { AcmeProblem, problem } from "./problem.js";
import { AddressPolicy } from "./validation/address-policy.js";
import { checkDns01 } from "./validation/dns01.js";
import { checkHttp01 } from "./validation/http01.js";
import { dnsResolver, type AcmeResolver } from "./validation/resolver.js";
import { checkTlsAlpn01 } from "./validation/tls-alpn01.js";

export interface ValidatorOptions {
  /** Resolution for a configuration (tests substitute a fixed table); default: DNS through dns_resolver. */
  resolver?: (config: AcmeConfig) => AcmeResolver;
  /** Bound on one attempt (resolution, connection, answer). */
  attemptTimeoutMs?: number;
  /** Waits before the 2nd, 3rd, … attempt; the number of attempts is one more than its length. */
  retryDelaysMs?: number[];
}

const DEFAULTS = { attemptTimeoutMs: 10_000, retryDelaysMs: [2_000, 5_000, 10_000] };

export class AcmeValidator {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  private closed = false;
  private readonly attemptTimeoutMs: number;
  private readonly retryDelaysMs: number[];

  constructor(private readonly opts: ValidatorOptions = {}) {
    this.attemptTimeoutMs = opts.attemptTimeoutMs ?? DEFAULTS.attemptTimeoutMs;
    this.retryDelaysMs = opts.retryDelaysMs ?? DEFAULTS.retryDelaysMs;
  }

  /** Starts validating the challenge (already marked processing by the caller). */
  start(storage: KeyValueStore, authzId: string, type: ChallengeType): void {
    this.schedule(storage, authzId, type, 0, 0);
  }

  /** Resolves once no validation job is pending (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.timers.size > 0 || this.running.size > 0) {
      await Promise.allSettled([...this.running]);
      if (this.timers.size > 0) await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Unmount or seal: pending jobs are dropped (their challenges stay processing, as after a crash). */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.running]);
  }

  private schedule(storage: KeyValueStore, authzId: string, type: ChallengeType, attempt: number, delayMs: number): void {
    if (this.closed) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      const job = this.attempt(storage, authzId, type, attempt).catch(() => undefined);
      this.running.add(job);
      void job.finally(() => this.running.delete(job));
    }, delayMs);
    this.timers.add(t);
  }

  private async attempt(storage: KeyValueStore, authzId: string, type: ChallengeType, attempt: number): Promise<void> {
    const authz = await getAcme<AuthzRecord>(storage, AK.authz(authzId));
    const ch = authz?.challenges.find((c) => c.type === type);
    if (!authz || !ch || ch.status !== "processing") return;
    const account = await getAcme<AccountRecord>(storage, AK.account(authz.accountId));
    if (!account) return this.finish(storage, authzId, type, problem("unauthorized", "the account no longer exists"));
    const config = await loadAcmeConfig(storage);
    const keyAuthorization = `${ch.token}.${account.thumbprint}`;
    try {
      await withTimeout(this.check(type, authz, ch.token, keyAuthorization, config), this.attemptTimeoutMs);
      await this.finish(storage, authzId, type, undefined);
    } catch (err) {
      const p = err instanceof AcmeProblem ? err : problem("serverInternal", "validation failed unexpectedly");
      if (attempt < this.retryDelaysMs.length) {
        await this.record(storage, authzId, type, attempt + 1);
        this.schedule(storage, authzId, type, attempt + 1, this.retryDelaysMs[attempt]);
      } else {
        await this.finish(storage, authzId, type, p);
      }
    }
  }

  private check(type: ChallengeType, authz: AuthzRecord, token: string, keyAuthorization: string, config: AcmeConfig): Promise<void> {
    const resolver = this.opts.resolver?.(config) ?? dnsResolver(config.dnsResolver, this.attemptTimeoutMs);
    const policy = new AddressPolicy(config.allowedValidationNetworks);
    const common = { id: authz.identifier, keyAuthorization, resolver, policy, timeoutMs: this.attemptTimeoutMs };
    switch (type) {
      case "http-01":
        return checkHttp01({ ...common, token, port: config.http01Port });
      case "dns-01":
        return checkDns01(authz.identifier, keyAuthorization, resolver);
      case "tls-alpn-01":
        return checkTlsAlpn01({ ...common, port: config.tlsAlpn01Port });
    }
  }

  private async record(storage: KeyValueStore, authzId: string, type: ChallengeType, attempts: number): Promise<void> {
    await storage.transaction(async (txn) => {
      const a = await getAcme<AuthzRecord>(txn, AK.authz(authzId));
      const c = a?.challenges.find((x) => x.type === type);
      if (!a || !c) return;
      c.attempts = attempts;
      await putAcme(txn, AK.authz(authzId), a);
    });
  }

  /** Challenge and authorization move together: valid, or invalid with the problem. */
  private async finish(storage: KeyValueStore, authzId: string, type: ChallengeType, failure: AcmeProblem | undefined): Promise<void> {
    await storage.transaction(async (txn) => {
      const a = await getAcme<AuthzRecord>(txn, AK.authz(authzId));
      const c = a?.challenges.find((x) => x.type === type);
      if (!a || !c || c.status !== "processing") return;
      if (failure) {
        c.status = "invalid";
        c.error = failure.toJson();
        a.status = "invalid";
      } else {
        c.status = "valid";
        c.validated = Date.now();
        a.status = a.status === "pending" ? "valid" : a.status;
      }
      await putAcme(txn, AK.authz(authzId), a);
    });
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(problem("connection", `validation timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
