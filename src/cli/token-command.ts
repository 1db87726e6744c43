/** `arca token create|lookup|renew|revoke|capabilities`: the token store (auth/token/*). */
import type { Secret } from "./client.js";
import { dispatch, expectArgs, parseCommand, EXIT_API, EXIT_OK, UsageError, type CommandContext } from "./context.js";
import { authRows, keyValueTable, dataRows, prettyJson, warningsText } from "./format.js";
import type { CliIo } from "./io.js";
import { parseStringPairs } from "./kv-pairs.js";
import { outputSecret } from "./output.js";

const USAGE = `Usage: arca token <subcommand> [options] [args]

Subcommands:
  create        -policy=P (repeatable) -ttl -explicit-max-ttl -num-uses -orphan -display-name
                -metadata=k=v (repeatable) -period -renewable=false -role -type -no-default-policy
  lookup        [-accessor] [TOKEN|ACCESSOR]   (no argument: the current token)
  renew         [-increment=DURATION] [-accessor] [TOKEN|ACCESSOR]
  revoke        [-accessor] [-self] [-mode=orphan] [TOKEN|ACCESSOR]
  capabilities  PATH   (capabilities of the current token on PATH)
`;

/** The auth block as a table (`token create`, `renew`, `login`), with any warnings. */
export function authTable(secret: Secret): string {
  return keyValueTable(secret.auth ? authRows(secret.auth) : dataRows(secret.data)) + warningsText(secret.warnings);
}

function optInt(ctx: CommandContext, name: string): number | undefined {
  const v = ctx.flag(name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`-${name} must be a non-negative integer`);
  return Number(v);
}

async function create(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io, {
    bool: ["orphan", "renewable", "no-default-policy"],
    value: ["policy", "ttl", "explicit-max-ttl", "num-uses", "use-limit", "display-name", "metadata", "period", "role", "type", "id", "field", "entity-alias"],
  });
  expectArgs(ctx, 0);
  const body: Record<string, unknown> = {};
  const policies = ctx.all("policy").flatMap((p) => p.split(",")).map((p) => p.trim()).filter((p) => p !== "");
  if (policies.length > 0) body.policies = policies;
  const str = (flag: string, field: string) => {
    const v = ctx.flag(flag);
    if (v !== undefined) body[field] = v;
  };
  str("ttl", "ttl");
  str("explicit-max-ttl", "explicit_max_ttl");
  str("display-name", "display_name");
  str("period", "period");
  str("type", "type");
  str("id", "id");
  str("entity-alias", "entity_alias");
  const uses = optInt(ctx, "num-uses") ?? optInt(ctx, "use-limit");
  if (uses !== undefined) body.num_uses = uses;
  const meta = parseStringPairs(ctx.all("metadata"), "-metadata");
  if (Object.keys(meta).length > 0) body.meta = meta;
  if (ctx.flag("renewable") !== undefined) body.renewable = ctx.bool("renewable");
  if (ctx.bool("orphan")) body.no_parent = true;
  if (ctx.bool("no-default-policy")) body.no_default_policy = true;
  const role = ctx.flag("role");
  const path = role ? `auth/token/create/${role}` : "auth/token/create";
  const secret = (await ctx.client().write(path, body, "POST")) ?? {};
  return outputSecret(ctx, secret, () => authTable(secret));
}

async function lookup(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io, { bool: ["accessor"], value: ["field"] });
  expectArgs(ctx, ctx.bool("accessor") ? 1 : 0, 1);
  const client = ctx.client();
  const arg = ctx.args[0];
  let secret: Secret | undefined;
  if (ctx.bool("accessor")) secret = await client.write("auth/token/lookup-accessor", { accessor: arg }, "POST");
  else if (arg !== undefined) secret = await client.write("auth/token/lookup", { token: arg }, "POST");
  else secret = await client.read("auth/token/lookup-self");
  if (!secret) {
    io.stderr("Error: no token information returned\n");
    return EXIT_API;
  }
  return outputSecret(ctx, secret);
}

async function renew(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io, { bool: ["accessor"], value: ["increment", "i", "field"] });
  expectArgs(ctx, ctx.bool("accessor") ? 1 : 0, 1);
  const increment = ctx.flag("increment") ?? ctx.flag("i");
  const body: Record<string, unknown> = increment !== undefined ? { increment } : {};
  const arg = ctx.args[0];
  let path = "auth/token/renew-self";
  if (ctx.bool("accessor")) {
    path = "auth/token/renew-accessor";
    body.accessor = arg;
  } else if (arg !== undefined) {
    path = "auth/token/renew";
    body.token = arg;
  }
  const secret = (await ctx.client().write(path, body, "POST")) ?? {};
  return outputSecret(ctx, secret, () => authTable(secret));
}

async function revoke(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io, { bool: ["accessor", "self"], value: ["mode"] });
  const self = ctx.bool("self");
  const mode = ctx.flag("mode") ?? "";
  if (!["", "orphan"].includes(mode)) throw new UsageError(`invalid -mode "${mode}" (use orphan)`);
  if (self) {
    if (ctx.bool("accessor") || mode !== "") throw new UsageError("-self cannot be combined with -accessor or -mode");
    expectArgs(ctx, 0);
  } else {
    expectArgs(ctx, 1);
  }
  const client = ctx.client();
  const arg = ctx.args[0];
  let secret: Secret | undefined;
  if (self) secret = await client.write("auth/token/revoke-self", {}, "POST");
  else if (ctx.bool("accessor")) {
    if (mode !== "") throw new UsageError("-mode cannot be combined with -accessor");
    secret = await client.write("auth/token/revoke-accessor", { accessor: arg }, "POST");
  } else secret = await client.write(mode === "orphan" ? "auth/token/revoke-orphan" : "auth/token/revoke", { token: arg }, "POST");
  if (ctx.format === "json") io.stdout(prettyJson(secret ?? null));
  else io.stdout(`Success! Revoked token (if it existed)\n${warningsText(secret?.warnings)}`);
  return EXIT_OK;
}

async function capabilities(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io);
  expectArgs(ctx, 1);
  const path = ctx.args[0].replace(/^\/+/, "");
  const secret = (await ctx.client().write("sys/capabilities-self", { paths: [path] }, "POST")) ?? {};
  if (ctx.format === "json") {
    io.stdout(prettyJson(secret));
    return EXIT_OK;
  }
  const caps = secret.data?.[path] ?? secret.data?.capabilities;
  io.stdout(`${Array.isArray(caps) ? caps.map(String).join(", ") : "deny"}\n`);
  return EXIT_OK;
}

export function tokenCommand(argv: string[], io: CliIo): Promise<number> {
  return dispatch("token", { create, lookup, renew, revoke, capabilities }, argv, io, USAGE);
}
