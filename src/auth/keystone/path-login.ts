/**
 * `POST auth/<mount>/login {token}`: a Keystone token in, an Arca token out. The Keystone token must be
 * valid (Keystone says so, or said so within cache_ttl), unexpired and project-scoped; its project must
 * map to a namespace (projects/:id, else config default_namespace) and its roles give the policies
 * (roles/:name, plus the config's token_policies). The Arca token never outlives the Keystone token: its
 * explicit max TTL is the Keystone token's remaining lifetime, so no renewal can stretch it either.
 *
 * Every refusal of the token itself is the same 403 "permission denied" whatever the reason (unknown,
 * forged, revoked, expired, unscoped), so the answer does not help guess tokens; the reason goes to the
 * log, without the token. An unmapped project is refused with its own message: the caller has proven who
 * they are, and the operator needs to know what to map.
 */
import { ArcaError, permissionDenied } from "../../common/errors.js";
import { definePath, type PathSpec } from "../../core/framework/path.js";
import type { Fields } from "../../core/framework/fields.js";
import type { Response } from "../../core/framework/request.js";
import type { KeyValueStore } from "../../storage/storage.js";
import { sanitizePolicies } from "../../core/tokens/token-rules.js";
import { issueLoginToken } from "../token-fields.js";
import type { KeystoneToken } from "./keystone-client.js";
import type { KeystoneConfig } from "./keystone-config.js";
import type { KeystoneEnv } from "./keystone-env.js";
import { normaliseNamespace, readProject, readRole } from "./path-mappings.js";

/** Keystone tokens are a few hundred bytes (fernet ~200, JWS ~800); anything far longer is not one. */
const MAX_TOKEN_LENGTH = 8192;

export function loginPaths(env: KeystoneEnv): PathSpec<Fields>[] {
  return [
    definePath({
      pattern: "login",
      fields: { token: { type: "string", description: "The Keystone token (what clients send as X-Auth-Token)." } },
      operations: {
        update: async (ctx) => login(env, ctx.storage, ctx.fields.token ?? "", ctx.req),
      },
      synopsis: "Log in with a Keystone token.",
      description: "Validates the token against Keystone and returns an Arca token in the project's namespace.",
    }),
  ];
}

async function login(env: KeystoneEnv, storage: KeyValueStore, token: string, req: Parameters<typeof issueLoginToken>[0]["req"]): Promise<Response> {
  if (token === "") throw new ArcaError("invalid_request", "missing token");
  if (token.length > MAX_TOKEN_LENGTH || !/^[\x21-\x7e]+$/.test(token)) throw permissionDenied();
  const connected = await env.connect(storage);
  if (!connected) throw new ArcaError("invalid_request", "this keystone mount is not configured: write its config first");
  const { config, client } = connected;

  let validated = env.cache.get(token);
  if (!validated) {
    validated = await client.validate(token);
    if (!validated) return refuse(env, "keystone says the token is not valid");
    env.cache.set(token, validated, config.cacheTtl * 1000);
  }
  const remaining = Math.floor((validated.expiresAt - Date.now()) / 1000);
  if (remaining < 1) return refuse(env, "the token has expired");
  if (!validated.project) return refuse(env, "the token is not scoped to a project");

  const namespace = await namespaceFor(storage, config, validated.project);
  if (namespace === undefined) {
    throw new ArcaError("permission_denied", `keystone project ${validated.project.id.slice(0, 64)} is not mapped to a namespace`);
  }
  const policies = [...config.tokenPolicies];
  for (const role of validated.roles) policies.push(...((await readRole(storage, role))?.policies ?? []));

  const explicitMaxTtl = config.tokenExplicitMaxTtl > 0 ? Math.min(config.tokenExplicitMaxTtl, remaining) : remaining;
  return issueLoginToken({
    view: env.view,
    req,
    params: { ...config, tokenPolicies: sanitizePolicies(policies, false), tokenExplicitMaxTtl: explicitMaxTtl },
    meta: metadata(validated, namespace),
    displayName: validated.userName || validated.userId,
    namespace,
  });
}

function refuse(env: KeystoneEnv, why: string): never {
  env.view.logger.info({ reason: why }, "keystone login refused");
  throw permissionDenied();
}

/** The namespace (relative to the mount's) a project's tokens live in; undefined when it has none. */
async function namespaceFor(storage: KeyValueStore, config: KeystoneConfig, project: { id: string; name: string }): Promise<string | undefined> {
  const mapped = await readProject(storage, project.id);
  if (mapped) return mapped.namespace;
  if (config.defaultNamespace === "") return undefined;
  // A substituted value is one namespace name, never a path: a project called "other-tenant/x" must not
  // reach into another namespace's children.
  const segment = (v: string): string | undefined => (/^[\w.-]{1,128}$/.test(v) ? v : undefined);
  const id = segment(project.id);
  const name = segment(project.name);
  const t = config.defaultNamespace;
  if ((t.includes("{{project_id}}") && id === undefined) || (t.includes("{{project_name}}") && name === undefined)) return undefined;
  return normaliseNamespace(t.replaceAll("{{project_id}}", id ?? "").replaceAll("{{project_name}}", name ?? ""));
}

function metadata(t: KeystoneToken, namespace: string): Record<string, string> {
  return {
    user_id: t.userId,
    user_name: t.userName,
    project_id: t.project?.id ?? "",
    project_name: t.project?.name ?? "",
    roles: [...t.roles].sort().join(","),
    namespace,
  };
}
