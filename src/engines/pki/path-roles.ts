/**
 * `roles/:name` (GET, POST = replace, PATCH = merge, DELETE) and `roles/` LIST. Unknown key types or key
 * sizes are refused when the role is written, not when it is first used.
 */
import { validateCidrList } from "../../core/cidr.js";
import { invalidRequest, notFound } from "../../common/errors.js";
import type { FieldSpec, Fields } from "../../core/framework/fields.js";
import { definePath, type PathSpec } from "../../core/framework/path.js";
import { keyAlgorithmFor } from "./ca-keys.js";
import { getRecord, K, putRecord } from "./pki-store.js";
import { defaultRole, parsePolicyIdentifiers, ROLE_FIELDS, type Role } from "./role.js";

const DURATIONS = new Set<keyof Role>(["ttl", "maxTtl", "notBeforeDuration"]);

function fieldSpecFor(field: keyof Role): FieldSpec {
  if (DURATIONS.has(field)) return { type: "duration" };
  // A list of OIDs or JSON policy objects: parsed by parsePolicyIdentifiers (a comma split would break JSON).
  if (field === "policyIdentifiers") return { type: "any" };
  const v = defaultRole()[field];
  if (typeof v === "boolean") return { type: "bool" };
  if (typeof v === "number") return { type: "int" };
  if (Array.isArray(v)) return { type: "strings" };
  return { type: "string" };
}

const ROLE_FIELD_SPECS: Fields = Object.fromEntries(ROLE_FIELDS.map(([wire, field]) => [wire, fieldSpecFor(field)]));

function validateRole(r: Role): void {
  if (r.keyType !== "any") keyAlgorithmFor(r.keyType, r.keyBits);
  if (r.maxTtl > 0 && r.ttl > r.maxTtl) throw invalidRequest(`ttl (${r.ttl}s) cannot be larger than max_ttl (${r.maxTtl}s)`);
  if (r.signatureBits !== 0 && ![256, 384, 512].includes(r.signatureBits)) throw invalidRequest(`unsupported signature_bits ${r.signatureBits}`);
  if (!validateCidrList(r.allowedIpSansCidr)) throw invalidRequest(`allowed_ip_sans_cidr: every entry must be a CIDR block (got [${r.allowedIpSansCidr.join(",")}])`);
  for (const v of r.cnValidations) {
    if (!["email", "hostname", "disabled"].includes(v)) throw invalidRequest(`cn_validations: unknown value "${v.slice(0, 32)}" (email, hostname, disabled)`);
  }
  if (r.cnValidations.includes("disabled") && r.cnValidations.length > 1) throw invalidRequest('cn_validations: "disabled" cannot be combined with other validations');
}

export function roleView(r: Role): Record<string, unknown> {
  return Object.fromEntries(ROLE_FIELDS.map(([wire, field]) => [wire, r[field]]));
}

export function rolePaths(): PathSpec[] {
  return [
    definePath({
      pattern: "roles/:name",
      fields: { name: { type: "string", required: true }, ...ROLE_FIELD_SPECS },
      existenceCheck: async ({ params, storage }) => (await storage.get(K.role(params.name))) !== undefined,
      operations: {
        read: async ({ params, storage }) => {
          const r = await getRecord<Partial<Role>>(storage, K.role(params.name));
          if (!r) return undefined;
          return { data: roleView({ ...defaultRole(), ...r }) };
        },
        // One transaction per read-modify-write of the role.
        create: { transaction: true, handler: async (ctx) => writeRole(ctx, false) },
        update: { transaction: true, handler: async (ctx) => writeRole(ctx, false) },
        patch: { transaction: true, handler: async (ctx) => writeRole(ctx, true) },
        delete: async ({ params, storage }) => {
          await storage.delete(K.role(params.name));
          return undefined;
        },
      },
      synopsis: "Manage the roles that can be created with this backend.",
    }),
    definePath({
      pattern: "roles",
      operations: {
        list: async ({ storage }) => {
          const keys = await storage.list("roles/");
          if (keys.length === 0) return undefined;
          return { data: { keys } };
        },
      },
      synopsis: "List the existing roles in this backend.",
    }),
  ];
}

/** Runs inside the operation's declared transaction (`ctx.storage` is the transaction). */
async function writeRole(
  ctx: { params: Record<string, string>; fields: Record<string, unknown>; has(n: string): boolean; storage: import("../../storage/storage.js").KeyValueStore },
  patch: boolean,
): Promise<undefined | { data: Record<string, unknown> }> {
  const name = ctx.params.name;
  if (!/^[\w.-]+$/.test(name)) throw invalidRequest(`invalid role name "${name}"`);
  const existing = await getRecord<Partial<Role>>(ctx.storage, K.role(name));
  if (patch && !existing) throw notFound(`role ${name} does not exist`);
  const r: Role = { ...defaultRole(), ...(patch ? existing : {}) };
  const rec = r as unknown as Record<string, unknown>;
  for (const [wire, field] of ROLE_FIELDS) if (ctx.has(wire)) rec[field] = field === "policyIdentifiers" ? parsePolicyIdentifiers(ctx.fields[wire]) : ctx.fields[wire];
  // OpenBao: an empty cn_validations means the default set.
  if (r.cnValidations.length === 0) r.cnValidations = ["email", "hostname"];
  if (r.issuerRef === "") r.issuerRef = "default";
  validateRole(r);
  await putRecord(ctx.storage, K.role(name), r);
  return { data: roleView(r) };
}
