/**
 * sys/seal, sys/step-down and sys/metrics: endpoints that take a token, so they are declared paths like
 * every other and the pipeline checks, audits and counts them (token → ACL → audit → handler → audit).
 * Seal and step-down need sudo, as OpenBao's sealInitCommon/StepDown require root privileges.
 */
import { ArcaError } from "../../common/errors.js";
import { definePath, type PathSpec } from "../framework/path.js";
import type { Core } from "../core.js";

const PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

export function sealPaths(core: Core): PathSpec[] {
  return [
    definePath({
      pattern: "seal",
      sudo: true,
      synopsis: "Seal the server: it forgets its root key and answers nothing but sys status until unsealed.",
      operations: {
        // Sealing tears the audit devices down: it runs once this request's response is on record.
        update: async () => ({ afterAudit: () => core.sealNow() }),
      },
    }),
    definePath({
      pattern: "step-down",
      sudo: true,
      // Without HA the only node stays active, as OpenBao's StepDown on a node without HA does nothing.
      synopsis: "Give up the active role: the node holding background work releases it to another (no-op without HA).",
      operations: {
        update: async () => {
          await core.ha?.stepDown();
          return undefined;
        },
      },
    }),
    definePath({
      pattern: "metrics",
      fields: { format: { type: "string", default: "", description: "'prometheus' for the Prometheus text format; JSON otherwise." } },
      synopsis: "The server's metrics (JSON, or Prometheus text with format=prometheus).",
      operations: {
        read: async ({ fields }) => {
          const metrics = core.metrics;
          if (!metrics) throw new ArcaError("not_found", "metrics are not enabled");
          // Raw answers, not the envelope: monitoring scrapes the bare document, as from OpenBao.
          if (fields.format === "prometheus") return { raw: { status: 200, contentType: PROMETHEUS_TEXT, body: await metrics.prometheusText() } };
          return { raw: { status: 200, contentType: "application/json", body: JSON.stringify(await metrics.json()) } };
        },
      },
    }),
  ];
}
