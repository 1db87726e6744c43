/**
 * sys/metrics without `format`: OpenBao answers with go-metrics' in-memory summary (`Timestamp`, `Gauges`,
 * `Points`, `Counters`, `Samples`), and dashboards and scripts written against it read those keys. This turns
 * prom-client's registry snapshot into that shape; the Prometheus text (format=prometheus) is unchanged.
 *
 * What differs, and why: go-metrics aggregates over a 10 s interval, prom-client keeps totals since the
 * server started, so Counters and Samples here cover the server's life (Rate is per second over it).
 * Histograms keep buckets, not values: Min and Max are the bounds of the lowest and highest non-empty
 * bucket, and Stddev is not known (0). Metric names are the Prometheus ones, so both formats agree.
 */

/** prom-client's `getMetricsAsJSON()` entries, as far as this reads them. */
export interface PromMetric {
  name: string;
  /** "counter", "gauge", "histogram" or "summary" at run time (prom-client's typings say a numeric enum). */
  type: unknown;
  values: Array<{ value: number; labels: Record<string, string | number | undefined>; metricName?: string }>;
}

export interface GaugeValue {
  Name: string;
  Value: number;
  Labels: Record<string, string>;
}

export interface SampledValue {
  Name: string;
  Count: number;
  Rate: number;
  Sum: number;
  Min: number;
  Max: number;
  Mean: number;
  Stddev: number;
  Labels: Record<string, string>;
}

export interface MetricsSummary {
  Timestamp: string;
  Gauges: GaugeValue[];
  Points: Array<{ Name: string; Points: number[] }>;
  Counters: SampledValue[];
  Samples: SampledValue[];
}

/** Go's `time.Time.String()` of a UTC time rounded to the second: "2026-12-07 00:51:31 +0000 UTC". */
export function goTimestamp(at: Date): string {
  const iso = new Date(Math.round(at.getTime() / 1000) * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} +0000 UTC`;
}

function displayLabels(labels: Record<string, string | number | undefined>, drop?: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) if (k !== drop && v !== undefined) out[k] = String(v);
  return out;
}

function labelKey(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
}

function counterValue(name: string, value: number, labels: Record<string, string>, uptimeSeconds: number): SampledValue {
  // A Prometheus counter is a running total; each increment is taken as one event of its mean size.
  return { Name: name, Count: value, Rate: uptimeSeconds > 0 ? value / uptimeSeconds : 0, Sum: value, Min: value > 0 ? 1 : 0, Max: value > 0 ? 1 : 0, Mean: value > 0 ? 1 : 0, Stddev: 0, Labels: labels };
}

interface HistogramSeries {
  labels: Record<string, string>;
  count: number;
  sum: number;
  buckets: Array<{ le: number; cumulative: number }>;
}

function histogramSamples(m: PromMetric, uptimeSeconds: number): SampledValue[] {
  const series = new Map<string, HistogramSeries>();
  const seriesOf = (labels: Record<string, string>): HistogramSeries => {
    const key = labelKey(labels);
    let s = series.get(key);
    if (!s) series.set(key, (s = { labels, count: 0, sum: 0, buckets: [] }));
    return s;
  };
  for (const v of m.values) {
    const name = v.metricName ?? m.name;
    if (name.endsWith("_bucket")) {
      const le = v.labels.le === "+Inf" ? Infinity : Number(v.labels.le);
      seriesOf(displayLabels(v.labels, "le")).buckets.push({ le, cumulative: v.value });
    } else if (name.endsWith("_sum")) seriesOf(displayLabels(v.labels)).sum = v.value;
    else if (name.endsWith("_count")) seriesOf(displayLabels(v.labels)).count = v.value;
  }
  const out: SampledValue[] = [];
  for (const s of series.values()) {
    const finite = s.buckets.filter((b) => Number.isFinite(b.le)).sort((a, b) => a.le - b.le);
    const top = finite.at(-1)?.le ?? 0;
    // Lowest non-empty bucket: the smallest value is at least the bound below it.
    const firstHit = finite.findIndex((b) => b.cumulative > 0);
    const min = s.count === 0 ? 0 : firstHit === -1 ? top : firstHit === 0 ? 0 : finite[firstHit - 1].le;
    // First bucket holding every observation: the largest value is at most its bound.
    const max = s.count === 0 ? 0 : (finite.find((b) => b.cumulative >= s.count)?.le ?? top);
    out.push({
      Name: m.name,
      Count: s.count,
      Rate: uptimeSeconds > 0 ? s.sum / uptimeSeconds : 0,
      Sum: s.sum,
      Min: min,
      Max: max,
      Mean: s.count > 0 ? s.sum / s.count : 0,
      Stddev: 0,
      Labels: s.labels,
    });
  }
  return out;
}

/** The go-metrics summary of a prom-client snapshot taken at `at`, `uptimeSeconds` after the server started. */
export function metricsSummary(metrics: PromMetric[], at: Date, uptimeSeconds: number): MetricsSummary {
  const summary: MetricsSummary = { Timestamp: goTimestamp(at), Gauges: [], Points: [], Counters: [], Samples: [] };
  for (const m of metrics) {
    if (m.type === "gauge") {
      for (const v of m.values) summary.Gauges.push({ Name: m.name, Value: v.value, Labels: displayLabels(v.labels) });
    } else if (m.type === "counter") {
      for (const v of m.values) summary.Counters.push(counterValue(m.name, v.value, displayLabels(v.labels), uptimeSeconds));
    } else if (m.type === "histogram" || m.type === "summary") {
      summary.Samples.push(...histogramSamples(m, uptimeSeconds));
    }
  }
  const byName = (a: { Name: string }, b: { Name: string }): number => a.Name.localeCompare(b.Name);
  summary.Gauges.sort(byName);
  summary.Counters.sort(byName);
  summary.Samples.sort(byName);
  return summary;
}
