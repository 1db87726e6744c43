/**
 * Prometheus metrics (prom-client): request counts and latency by mount and operation, seal state,
 * token count, HSM call latency and token state, and the process's own metrics. One registry per server, so several
 * servers in one process (tests) do not share counters.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Core } from "../core/core.js";
import { setHsmCallObserver } from "../hsm/call-observer.js";
import { metricsSummary, type MetricsSummary } from "./metrics-summary.js";

/** The declared HSM tokens, probed at each scrape (HsmRegistry). */
export interface HsmTokenProbe {
  probeAll(): Promise<Array<{ name: string; up: boolean }>>;
}

export interface RequestObservation {
  mount: string;
  operation: string;
  status: number;
  seconds: number;
}

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<"mount" | "operation" | "status">;
  private readonly latency: Histogram<"mount" | "operation">;
  private readonly startedAt = Date.now();

  constructor(core: Core, hsms?: HsmTokenProbe) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "arca_" });
    this.requests = new Counter({ name: "arca_requests_total", help: "API requests by mount, operation and HTTP status", labelNames: ["mount", "operation", "status"], registers });
    this.latency = new Histogram({
      name: "arca_request_duration_seconds",
      help: "API request latency by mount and operation",
      labelNames: ["mount", "operation"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    new Gauge({
      name: "arca_sealed",
      help: "1 while the server is sealed",
      registers,
      collect() {
        this.set(core.sealed ? 1 : 0);
      },
    });
    let tokensCounted = { at: 0, value: 0 };
    new Gauge({
      name: "arca_tokens",
      help: "Live service tokens (counted at most once a minute)",
      registers,
      async collect() {
        if (core.sealed) return;
        if (Date.now() - tokensCounted.at > 60_000) tokensCounted = { at: Date.now(), value: await core.root.tokens.countTokens() };
        this.set(tokensCounted.value);
      },
    });
    const hsm = new Histogram({
      name: "arca_hsm_call_duration_seconds",
      help: "PKCS#11 call latency by token and outcome",
      labelNames: ["token", "ok"],
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers,
    });
    setHsmCallObserver((token, seconds, ok) => hsm.observe({ token, ok: ok ? "true" : "false" }, seconds));
    if (hsms) {
      new Gauge({
        name: "arca_hsm_token_up",
        help: "1 while the declared HSM token answers (found, logged in, present), 0 while it is away; by hsm declaration name",
        labelNames: ["hsm"],
        registers,
        async collect() {
          for (const t of await hsms.probeAll()) this.set({ hsm: t.name }, t.up ? 1 : 0);
        },
      });
    }
  }

  observe(o: RequestObservation): void {
    // Mount points are operator-chosen and bounded; paths below them are not used as labels.
    const mount = o.mount || "none";
    this.requests.inc({ mount, operation: o.operation, status: String(o.status) });
    this.latency.observe({ mount, operation: o.operation }, o.seconds);
  }

  async prometheusText(): Promise<string> {
    return this.registry.metrics();
  }

  /** go-metrics' summary shape, as OpenBao's sys/metrics answers without format (metrics-summary.ts). */
  async json(): Promise<MetricsSummary> {
    return metricsSummary(await this.registry.getMetricsAsJSON(), new Date(), (Date.now() - this.startedAt) / 1000);
  }
}
