/** sys/audit (enable, disable, list audit devices) and sys/audit-hash. */
import { ArcaError } from "../../common/errors.js";
import { definePath, type PathSpec } from "../framework/path.js";
import type { Core } from "../core.js";
import type { AuditTableEntry } from "../audit/audit-broker.js";

function render(e: AuditTableEntry): Record<string, unknown> {
  return { type: e.type, description: e.description, options: e.options, local: e.local, path: e.path };
}

function devicePath(raw: string): string {
  const p = raw.replace(/^\/+/, "").replace(/\/?$/, "/");
  if (p === "/" || p.split("/").some((s) => s === "." || s === "..")) throw new ArcaError("invalid_request", "invalid audit path");
  return p;
}

export function auditPaths(core: Core): PathSpec[] {
  return [
    definePath({
      pattern: "audit",
      synopsis: "List the enabled audit devices.",
      operations: { read: async () => ({ data: Object.fromEntries(core.audit.list().map((e) => [e.path, render(e)])) }) },
    }),
    definePath({
      pattern: "audit/:path+",
      fields: {
        path: { type: "string", required: true },
        type: { type: "string", description: "file or socket" },
        description: { type: "string", default: "" },
        options: { type: "map", description: "file: file_path, mode, hmac_accessor; socket: address, socket_type, write_timeout" },
        local: { type: "bool", default: false },
      },
      synopsis: "Enable or disable an audit device.",
      operations: {
        update: async ({ fields }) => {
          if (!fields.type) throw new ArcaError("invalid_request", "type is required");
          await core.audit.enable({ path: devicePath(fields.path), type: fields.type, description: fields.description, options: fields.options ?? {}, local: fields.local });
          return undefined;
        },
        delete: async ({ fields }) => {
          await core.audit.disable(devicePath(fields.path));
          return undefined;
        },
      },
    }),
    definePath({
      pattern: "audit-checkpoint/:path+",
      fields: { path: { type: "string", required: true } },
      synopsis: "The device's chain head as recorded in the barrier (signed by the HSM when there is one), for arca audit verify -checkpoint.",
      operations: {
        read: async ({ fields }) => {
          const c = await core.audit.checkpoint(devicePath(fields.path));
          if (!c) throw new ArcaError("not_found", "no checkpoint recorded for this device yet");
          return { data: { ...c } };
        },
      },
    }),
    definePath({
      pattern: "audit-hash/:path+",
      fields: { path: { type: "string", required: true }, input: { type: "string", required: true } },
      synopsis: "The HMAC an audit device writes for a given input.",
      operations: { update: async ({ fields }) => ({ data: { hash: core.audit.hash(devicePath(fields.path), fields.input) } }) },
    }),
  ];
}
