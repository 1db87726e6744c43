/**
 * Trusted certificates (`certs`, `certs/:name`), as OpenBao's builtin/credential/cert: each entry holds a
 * PEM certificate (a CA whose issued certificates may log in, or a leaf pinned exactly), the constraints
 * a client certificate must also meet, and the token settings of the logins it allows.
 */
import { ArcaError, notFound, unsupportedPath } from "../../common/errors.js";
import { definePath, type HandlerContext, type PathSpec } from "../../core/framework/path.js";
import type { Fields } from "../../core/framework/fields.js";
import type { Response } from "../../core/framework/request.js";
import { getJson, putJson } from "../../core/view.js";
import type { KeyValueStore } from "../../storage/storage.js";
import { LEGACY_TOKEN_FIELDS, TOKEN_FIELDS, defaultTokenParams, parseTokenFields, tokenData, type TokenParams } from "../token-fields.js";
import { pemCertificates } from "./client-cert.js";
import type { CertConstraints } from "./constraints.js";

const badRequest = (msg: string): ArcaError => new ArcaError("invalid_request", msg);

/** OpenBao's framework.GenericNameRegex. */
const NAME = /^\w(?:[\w.-]*\w)?$/;

export interface CertEntry extends TokenParams, CertConstraints {
  /** PEM, as written. */
  certificate: string;
  displayName: string;
}

export function isCertName(name: string): boolean {
  return NAME.test(name) && name.length <= 512;
}

export function certKey(name: string): string {
  if (!isCertName(name)) throw unsupportedPath();
  return `cert/${name.toLowerCase()}`;
}

export function readCert(storage: KeyValueStore, name: string): Promise<CertEntry | undefined> {
  return getJson<CertEntry>(storage, certKey(name));
}

const CONSTRAINT_FIELDS = {
  allowed_names: { type: "strings", description: "A list of names (globs) matched against the common name, DNS and email SANs." },
  allowed_common_names: { type: "strings", description: "A list of globs the certificate's common name must match." },
  allowed_dns_sans: { type: "strings", description: "A list of globs one of the DNS SANs must match." },
  allowed_email_sans: { type: "strings", description: "A list of globs one of the email SANs must match." },
  allowed_uri_sans: { type: "strings", description: "A list of globs one of the URI SANs must match." },
  allowed_organizational_units: { type: "strings", description: "A list of globs one of the subject's OUs must match." },
  required_extensions: { type: "strings", description: "A list of 'oid:value-glob' extensions the certificate must carry." },
} as const satisfies Fields;

const CONSTRAINT_KEYS: readonly [keyof typeof CONSTRAINT_FIELDS, keyof CertConstraints][] = [
  ["allowed_names", "allowedNames"],
  ["allowed_common_names", "allowedCommonNames"],
  ["allowed_dns_sans", "allowedDnsSans"],
  ["allowed_email_sans", "allowedEmailSans"],
  ["allowed_uri_sans", "allowedUriSans"],
  ["allowed_organizational_units", "allowedOrganizationalUnits"],
  ["required_extensions", "requiredExtensions"],
];

const CERT_FIELDS = {
  name: { type: "string", required: true, description: "The name of the certificate." },
  certificate: { type: "string", description: "The public certificate (PEM) that should be trusted: a CA, or the client's own certificate." },
  display_name: { type: "string", description: "The display name of tokens issued with this certificate (default: the name)." },
  ...CONSTRAINT_FIELDS,
  ...TOKEN_FIELDS,
  ...LEGACY_TOKEN_FIELDS,
} as const satisfies Fields;

type CertCtx = HandlerContext<typeof CERT_FIELDS>;

async function writeCert(ctx: CertCtx): Promise<Response | undefined> {
  const name = ctx.fields.name;
  const key = certKey(name);
  const existing = await getJson<CertEntry>(ctx.storage, key);
  const entry: CertEntry = existing ?? {
    ...defaultTokenParams(),
    certificate: "",
    displayName: "",
    ...(Object.fromEntries(CONSTRAINT_KEYS.map(([, k]) => [k, []])) as unknown as CertConstraints),
  };
  if (ctx.fields.certificate !== undefined) {
    try {
      pemCertificates(ctx.fields.certificate);
    } catch {
      throw badRequest("failed to parse certificate: the certificate field must hold one or more PEM certificates");
    }
    entry.certificate = ctx.fields.certificate;
  }
  if (entry.certificate === "") throw badRequest("missing certificate");
  if (ctx.fields.display_name !== undefined) entry.displayName = ctx.fields.display_name;
  if (entry.displayName === "") entry.displayName = name;
  for (const [field, prop] of CONSTRAINT_KEYS) {
    const v = ctx.fields[field];
    if (v !== undefined) entry[prop] = v;
  }
  if (entry.requiredExtensions.some((r) => !r.includes(":"))) throw badRequest("required_extensions entries must be 'oid:value'");
  const warnings = parseTokenFields(
    entry,
    { get: (n) => (ctx.fields as Record<string, unknown>)[n], has: (n) => ctx.has(n) },
    ["policies", "ttl", "max_ttl", "period", "bound_cidrs"],
  );
  await putJson(ctx.storage, key, entry);
  return warnings.length > 0 ? { warnings } : undefined;
}

function certData(entry: CertEntry): Record<string, unknown> {
  const data: Record<string, unknown> = { certificate: entry.certificate, display_name: entry.displayName };
  for (const [field, prop] of CONSTRAINT_KEYS) data[field] = entry[prop];
  Object.assign(data, tokenData(entry));
  // Backwards-compatible keys, only when the deprecated field was written (as OpenBao's pathCertRead).
  if (entry.ttl > 0) data.ttl = entry.ttl;
  if (entry.maxTtl > 0) data.max_ttl = entry.maxTtl;
  if (entry.period > 0) data.period = entry.period;
  if (entry.policies.length > 0) data.policies = entry.policies;
  if (entry.boundCidrs.length > 0) data.bound_cidrs = entry.boundCidrs;
  return data;
}

export async function listCertNames(storage: KeyValueStore): Promise<string[]> {
  const out: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await storage.list("cert/", { after, limit: 1000 });
    out.push(...page);
    if (page.length < 1000) return out;
    after = page[page.length - 1];
  }
}

export function certPaths(): PathSpec<Fields>[] {
  return [
    definePath({
      pattern: "certs",
      operations: { list: async (ctx) => ({ data: { keys: await listCertNames(ctx.storage) } }) },
      synopsis: "Manage trusted certificates used for authentication.",
    }),
    definePath({
      pattern: "certs/:name",
      fields: CERT_FIELDS,
      existenceCheck: async (ctx) => (await readCert(ctx.storage, ctx.params.name)) !== undefined,
      operations: {
        read: async (ctx) => {
          const entry = await readCert(ctx.storage, ctx.params.name);
          if (!entry) throw notFound();
          return { data: certData(entry) };
        },
        create: writeCert,
        update: writeCert,
        delete: async (ctx) => {
          await ctx.storage.delete(certKey(ctx.params.name));
          return undefined;
        },
      },
      synopsis: "Manage trusted certificates used for authentication.",
      description: "This endpoint allows you to create, read, update, and delete trusted certificates that are allowed to authenticate.",
    }),
  ];
}
