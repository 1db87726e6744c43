/**
 * OpenAPI 3 documents generated from declared paths: the same declarations that route and validate
 * requests describe them, so the document cannot drift from the code.
 */
import type { CompiledPath } from "./path.js";
import type { FieldSpec } from "./fields.js";
import type { Operation } from "./request.js";

const SCHEMA: Record<FieldSpec["type"], Record<string, unknown>> = {
  string: { type: "string" },
  int: { type: "integer" },
  bool: { type: "boolean" },
  duration: { type: "string", format: "duration" },
  strings: { type: "array", items: { type: "string" } },
  map: { type: "object", additionalProperties: { type: "string" } },
  object: { type: "object" },
  any: {},
};

const METHOD: Record<Operation, string> = {
  read: "get",
  list: "get",
  scan: "get",
  create: "post",
  update: "post",
  patch: "patch",
  delete: "delete",
};

export function openApiPathTemplate(mountPoint: string, p: CompiledPath): string {
  const segs = p.segments.map((s) => (s.kind === "literal" ? s.value : `{${s.value}}`));
  return `/${mountPoint}${segs.join("/")}`;
}

export function openApiPathItem(p: CompiledPath): Record<string, unknown> {
  const fields = p.spec.fields ?? {};
  const params = new Set(p.segments.filter((s) => s.kind !== "literal").map((s) => s.value));
  const item: Record<string, unknown> = {
    summary: p.spec.synopsis ?? "",
    description: p.spec.description ?? "",
    parameters: [...params].map((name) => ({
      name,
      in: "path",
      required: true,
      description: fields[name]?.description ?? "",
      schema: { type: "string" },
    })),
  };
  const bodyProps: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(fields)) {
    if (params.has(name) || spec.deprecated) continue;
    bodyProps[name] = { ...SCHEMA[spec.type], description: spec.description ?? "", ...(spec.default !== undefined ? { default: spec.default } : {}) };
  }
  for (const [op, spec] of p.operations) {
    const method = METHOD[op];
    if (item[method] && op !== "list") continue;
    const operation: Record<string, unknown> = {
      summary: spec.summary ?? p.spec.synopsis ?? "",
      operationId: `${op}-${p.spec.pattern.replace(/[^a-zA-Z0-9]+/g, "-")}`,
      responses: { "200": { description: "OK" }, "204": { description: "empty body" } },
    };
    if (op === "list") {
      operation.parameters = [{ name: "list", in: "query", required: true, schema: { type: "string", enum: ["true"] } }];
    }
    if ((method === "post" || method === "patch") && Object.keys(bodyProps).length > 0) {
      operation.requestBody = {
        content: { [op === "patch" ? "application/merge-patch+json" : "application/json"]: { schema: { type: "object", properties: bodyProps } } },
      };
    }
    item[method] = operation;
  }
  return item;
}

export function helpMarkdown(p: CompiledPath): string {
  const lines = [`## ${p.spec.pattern}`, "", p.spec.synopsis ?? "", "", p.spec.description ?? ""];
  const fields = Object.entries(p.spec.fields ?? {}).filter(([, f]) => !f.deprecated);
  if (fields.length > 0) {
    lines.push("", "### Parameters", "");
    for (const [name, f] of fields) lines.push(`- \`${name}\` (${f.type}${f.required ? ", required" : ""}): ${f.description ?? ""}`);
  }
  return lines.join("\n").trim() + "\n";
}
