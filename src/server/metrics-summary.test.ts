import { describe, expect, it } from "vitest";
import { goTimestamp, metricsSummary, type PromMetric } from "./metrics-summary.js";

describe("go-metrics summary of a prom-client snapshot", () => {
  it("writes Go's time.Time.String() of the second", () => {
    expect(goTimestamp(new Date("2026-12-07T00:51:31.400Z"))).toBe("2026-12-07 00:51:31 +0000 UTC");
  });

  it("turns gauges, counters and histogram series into Gauges, Counters and Samples", () => {
    const snapshot: PromMetric[] = [
      { name: "g", type: "gauge", values: [{ value: 3, labels: { hsm: "a" } }] },
      { name: "c", type: "counter", values: [{ value: 10, labels: { mount: "secret/" } }] },
      {
        name: "h",
        type: "histogram",
        values: [
          { value: 0, labels: { le: 0.1, op: "read" }, metricName: "h_bucket" },
          { value: 2, labels: { le: 0.5, op: "read" }, metricName: "h_bucket" },
          { value: 3, labels: { le: 1, op: "read" }, metricName: "h_bucket" },
          { value: 3, labels: { le: "+Inf", op: "read" }, metricName: "h_bucket" },
          { value: 1.5, labels: { op: "read" }, metricName: "h_sum" },
          { value: 3, labels: { op: "read" }, metricName: "h_count" },
        ],
      },
    ];
    const s = metricsSummary(snapshot, new Date("2026-12-07T00:00:00Z"), 5);
    expect(s.Gauges).toEqual([{ Name: "g", Value: 3, Labels: { hsm: "a" } }]);
    expect(s.Counters).toEqual([{ Name: "c", Count: 10, Rate: 2, Sum: 10, Min: 1, Max: 1, Mean: 1, Stddev: 0, Labels: { mount: "secret/" } }]);
    expect(s.Samples).toEqual([{ Name: "h", Count: 3, Rate: 0.3, Sum: 1.5, Min: 0.1, Max: 1, Mean: 0.5, Stddev: 0, Labels: { op: "read" } }]);
    expect(s.Points).toEqual([]);
  });
});
