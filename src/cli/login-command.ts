/**
 * `arca login`: authenticate and keep the token in the token file for later commands. The token method
 * verifies the token with lookup-self before storing it, so a typo is never saved.
 */
import { isRecord, type Secret, type SecretAuth } from "./client.js";
import { envFirst, expectArgs, parseCommand, withHelp, EXIT_OK, UsageError, type CommandContext } from "./context.js";
import type { CliIo } from "./io.js";
import { parsePairs } from "./kv-pairs.js";
import { outputSecret } from "./output.js";
import { authTable } from "./token-command.js";
import { tokenFilePath, writeTokenFile } from "./token-file.js";

const USAGE = `Usage: arca login [-method=token] [-path=MOUNT] [-no-store] [-no-print] [TOKEN | key=value...]

  -method=token (default): TOKEN, or prompted for (read from stdin when it is not a terminal; "-" reads
  stdin). The token is checked with auth/token/lookup-self and stored in ~/.arca-token (mode 0600) or
  ARCA_TOKEN_FILE.
  -method=userpass|ldap: username=NAME [password=...] (prompted when omitted).
  -method=approle: role_id=... secret_id=...
  Any other method: the pairs are posted to auth/<path>/login.
`;

function strings(v: unknown): string[] | undefined {
  return Array.isArray(v) ? v.map(String) : undefined;
}

/** lookup-self data shaped as the auth block vault shows after a token login. */
export function authFromLookup(token: string, data: Record<string, unknown>): SecretAuth {
  const meta = isRecord(data.meta) ? Object.fromEntries(Object.entries(data.meta).map(([k, v]) => [k, String(v)])) : undefined;
  return {
    client_token: token,
    accessor: typeof data.accessor === "string" ? data.accessor : "",
    policies: strings(data.policies) ?? [],
    token_policies: strings(data.policies) ?? [],
    identity_policies: strings(data.identity_policies) ?? [],
    metadata: meta,
    lease_duration: typeof data.ttl === "number" ? data.ttl : 0,
    renewable: data.renewable === true,
  };
}

async function tokenLogin(ctx: CommandContext): Promise<Secret> {
  expectArgs(ctx, 0, 1);
  let token = ctx.args[0];
  if (token === "-") token = (await ctx.io.readStdin()).split(/\r?\n/, 1)[0];
  else if (token === undefined) token = await ctx.io.readSecretLine("Token (will be hidden): ");
  token = token.trim();
  if (token === "") throw new UsageError("no token given");
  const res = await ctx.client().request("GET", "auth/token/lookup-self", { token });
  const body = isRecord(res.body) ? (res.body as Secret) : {};
  return { ...body, data: null, auth: authFromLookup(token, body.data ?? {}) };
}

async function credentialLogin(ctx: CommandContext, method: string): Promise<Secret> {
  const mount = (ctx.flag("path") ?? method).replace(/^\/+|\/+$/g, "");
  const data = await parsePairs(ctx.args, ctx.io);
  let path = `auth/${mount}/login`;
  if (method === "userpass" || method === "ldap") {
    const username = data.username;
    if (typeof username !== "string" || username === "") throw new UsageError("username=NAME is required");
    delete data.username;
    if (data.password === undefined) data.password = (await ctx.io.readSecretLine("Password (will be hidden): ")).trim();
    path = `${path}/${username}`;
  }
  const secret = await ctx.client().write(path, data, "POST");
  if (!secret?.auth?.client_token) throw new Error(`no token returned by ${path}`);
  return secret;
}

export function loginCommand(argv: string[], io: CliIo): Promise<number> {
  return withHelp(USAGE, argv, io, async () => {
    const ctx = parseCommand(argv, io, { bool: ["no-store", "no-print"], value: ["method", "path", "field"] });
    const method = ctx.flag("method") ?? "token";
    const secret = method === "token" ? await tokenLogin(ctx) : await credentialLogin(ctx, method);
    const token = secret.auth?.client_token ?? "";
    const store = !ctx.bool("no-store");
    if (store) writeTokenFile(tokenFilePath(io), token);
    if (store && envFirst(io.env, ["ARCA_TOKEN", "VAULT_TOKEN", "BAO_TOKEN"])) {
      io.stderr("WARNING! A token is set in the environment (ARCA_TOKEN, VAULT_TOKEN or BAO_TOKEN); it takes precedence over the stored token.\n");
    }
    if (ctx.bool("no-print")) return EXIT_OK;
    if (ctx.flag("field") !== undefined || ctx.format === "json") return outputSecret(ctx, secret);
    io.stdout(
      store
        ? 'Success! You are now authenticated. The token information displayed below\nis already stored in the token file. You do NOT need to run "arca login"\nagain. Future Arca requests will automatically use this token.\n\n'
        : "Success! You are now authenticated. The token information displayed below\nis NOT stored; set ARCA_TOKEN or pass it to later commands yourself.\n\n",
    );
    io.stdout(authTable(secret));
    return EXIT_OK;
  });
}
