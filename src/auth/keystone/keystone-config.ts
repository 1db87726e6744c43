/**
 * `auth/<mount>/config`: where Keystone is, how this method proves itself to it, how long validations are
 * cached, the rule for projects without an explicit mapping, and the token_* settings of every login.
 *
 * Stored at `config`; the service password and admin token are never returned by a read. Writing needs
 * sudo on the path and a token of the root namespace: keystone_url makes the server call out, which is
 * the operator's decision, not a tenant's.
 */
import { ArcaError } from "../../common/errors.js";
import { definePath, type HandlerContext, type PathSpec } from "../../core/framework/path.js";
import type { Fields } from "../../core/framework/fields.js";
import { ROOT_NAMESPACE } from "../../core/framework/request.js";
import { getJson, putJson } from "../../core/view.js";
import type { KeyValueStore } from "../../storage/storage.js";
import { TOKEN_FIELDS, defaultTokenParams, parseTokenFields, tokenData, type TokenParams } from "../token-fields.js";
import type { ServiceCredentials } from "./keystone-client.js";

export const CONFIG_KEY = "config";
const DEFAULT_CACHE_TTL_S = 60;
const DEFAULT_TIMEOUT_S = 10;

export interface KeystoneConfig extends TokenParams {
  keystoneUrl: string;
  credentials: ServiceCredentials;
  caCert: string;
  /** Seconds a successful validation is reused (0: ask Keystone every time). */
  cacheTtl: number;
  requestTimeout: number;
  /** Namespace for projects without a `projects/:id` entry: "" refuses them; {{project_id}} / {{project_name}} are substituted. */
  defaultNamespace: string;
}

export function readConfig(storage: KeyValueStore): Promise<KeystoneConfig | undefined> {
  return getJson<KeystoneConfig>(storage, CONFIG_KEY);
}

const CONFIG_FIELDS = {
  keystone_url: { type: "string", description: "The Keystone v3 identity endpoint, e.g. https://keystone.example:5000/v3." },
  service_username: { type: "string", description: "User this method authenticates as to validate tokens (needs the admin or service role)." },
  service_password: { type: "string", description: "That user's password; never returned." },
  service_user_domain: { type: "string", description: "The service user's domain name (default Default)." },
  service_project_name: { type: "string", description: "Project the service token is scoped to." },
  service_project_domain: { type: "string", description: "That project's domain name (default Default)." },
  admin_token: { type: "string", description: "Instead of a service user: a token sent as is to validate tokens; never returned." },
  ca_cert: { type: "string", description: "PEM CA bundle for an https keystone_url (replaces the system trust store)." },
  cache_ttl: { type: "duration", description: "How long a successful validation is reused (default 60s; 0 disables)." },
  request_timeout: { type: "duration", description: "Per-request timeout talking to Keystone (default 10s)." },
  default_namespace: { type: "string", description: "Namespace for projects with no projects/ entry; may use {{project_id}} and {{project_name}}. Empty: such projects are refused." },
  ...TOKEN_FIELDS,
} as const satisfies Fields;

type ConfigCtx = HandlerContext<typeof CONFIG_FIELDS>;

const badRequest = (msg: string): ArcaError => new ArcaError("invalid_request", msg);

function checkUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw badRequest("keystone_url is not a URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw badRequest("keystone_url must be http or https");
  if (url.username || url.password || url.search || url.hash) throw badRequest("keystone_url must not carry credentials, a query or a fragment");
  return url.toString().replace(/\/+$/, "");
}

function credentialsFrom(ctx: ConfigCtx, old: ServiceCredentials | undefined): ServiceCredentials {
  const f = ctx.fields;
  if (f.admin_token !== undefined && f.admin_token !== "") {
    if (f.service_username !== undefined || f.service_password !== undefined) throw badRequest("set either admin_token or service_username/service_password, not both");
    return { kind: "token", token: f.admin_token };
  }
  const prev = old?.kind === "password" ? old : undefined;
  const username = f.service_username ?? prev?.username ?? "";
  const password = f.service_password ?? prev?.password ?? "";
  const projectName = f.service_project_name ?? prev?.projectName ?? "";
  if (username === "" && password === "" && old?.kind === "token") return old;
  if (username === "" || password === "" || projectName === "") {
    throw badRequest("service credentials are needed: service_username, service_password and service_project_name (or admin_token)");
  }
  return {
    kind: "password",
    username,
    password,
    projectName,
    userDomain: f.service_user_domain ?? prev?.userDomain ?? "Default",
    projectDomain: f.service_project_domain ?? prev?.projectDomain ?? "Default",
  };
}

/** `reset`: the validations and client built from the old config are dropped. */
async function writeConfig(reset: () => void, ctx: ConfigCtx): Promise<undefined | { warnings: string[] }> {
  if (ctx.req.caller?.namespace.id !== ROOT_NAMESPACE.id) {
    throw new ArcaError("permission_denied", "the keystone config makes the server call out: a token of the root namespace is needed");
  }
  const old = await readConfig(ctx.storage);
  const url = ctx.fields.keystone_url ?? old?.keystoneUrl;
  if (url === undefined || url === "") throw badRequest("missing keystone_url");
  const config: KeystoneConfig = {
    ...(old ?? defaultTokenParams()),
    keystoneUrl: checkUrl(url),
    credentials: credentialsFrom(ctx, old?.credentials),
    caCert: ctx.fields.ca_cert ?? old?.caCert ?? "",
    cacheTtl: ctx.fields.cache_ttl ?? old?.cacheTtl ?? DEFAULT_CACHE_TTL_S,
    requestTimeout: ctx.fields.request_timeout ?? old?.requestTimeout ?? DEFAULT_TIMEOUT_S,
    defaultNamespace: ctx.fields.default_namespace ?? old?.defaultNamespace ?? "",
  };
  if (config.requestTimeout <= 0) throw badRequest("request_timeout must be positive");
  if (config.cacheTtl < 0) throw badRequest("cache_ttl cannot be negative");
  const warnings = parseTokenFields(config, { get: (n) => (ctx.fields as Record<string, unknown>)[n], has: (n) => n in TOKEN_FIELDS && ctx.has(n as keyof typeof TOKEN_FIELDS) }, []);
  await putJson(ctx.storage, CONFIG_KEY, config);
  reset();
  return warnings.length > 0 ? { warnings } : undefined;
}

function renderConfig(c: KeystoneConfig): Record<string, unknown> {
  const creds = c.credentials;
  return {
    keystone_url: c.keystoneUrl,
    service_username: creds.kind === "password" ? creds.username : "",
    service_user_domain: creds.kind === "password" ? creds.userDomain : "",
    service_project_name: creds.kind === "password" ? creds.projectName : "",
    service_project_domain: creds.kind === "password" ? creds.projectDomain : "",
    service_password_set: creds.kind === "password",
    admin_token_set: creds.kind === "token",
    ca_cert: c.caCert,
    cache_ttl: c.cacheTtl,
    request_timeout: c.requestTimeout,
    default_namespace: c.defaultNamespace,
    ...tokenData(c),
  };
}

export function configPaths(reset: () => void): PathSpec<Fields>[] {
  return [
    definePath({
      pattern: "config",
      fields: CONFIG_FIELDS,
      existenceCheck: async (ctx) => (await readConfig(ctx.storage)) !== undefined,
      operations: {
        read: async (ctx) => {
          const c = await readConfig(ctx.storage);
          return c ? { data: renderConfig(c) } : undefined;
        },
        create: (ctx) => writeConfig(reset, ctx),
        update: (ctx) => writeConfig(reset, ctx),
      },
      synopsis: "Configure the Keystone this method validates tokens against.",
    }),
  ];
}
