/**
 * `arca namespace create|lookup|list|patch|delete|lock|unlock|seal|unseal|seal-status` (sys/namespaces),
 * relative to the namespace named by -namespace / ARCA_NAMESPACE / VAULT_NAMESPACE, as bao's.
 */
import { dispatch, expectArgs, parseCommand, EXIT_OK, UsageError } from "./context.js";
import { keysList, keyValueTable, prettyJson, formatValue } from "./format.js";
import type { CliIo } from "./io.js";
import type { Secret } from "./client.js";

const USAGE = `Usage: arca namespace <subcommand> [options] [args]

Subcommands:
  create  PATH   Create a namespace (-custom-metadata=k=v ..., -seal-key-uri=pkcs11:... for a
                 namespace whose keyring the tenant's HSM key wraps)
  lookup  PATH   Show a namespace
  list           List the namespaces below the current one (-recursive for all levels)
  patch   PATH   Change custom metadata (-custom-metadata=k=v, -remove-custom-metadata=k)
  delete  PATH   Delete a namespace with everything in it
  lock    [PATH] Lock the API of the current namespace or of PATH; prints the unlock key
  unlock  [PATH] Unlock it (-unlock-key=KEY; sudo needs none)
  seal    PATH   Seal a sealable namespace
  unseal  PATH   Unseal a sealable namespace with its key in the HSM
  seal-status PATH
`;

function namespacePath(raw: string): string {
  const p = raw.trim().replace(/^\/+|\/+$/g, "");
  if (p === "") throw new UsageError("a namespace path is required");
  return p;
}

function metadataFlags(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf("=");
    if (eq <= 0) throw new UsageError(`invalid -custom-metadata "${v}": use key=value`);
    out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

function printNamespace(io: CliIo, format: string, secret: Secret | undefined): number {
  if (format === "json") io.stdout(prettyJson(secret ?? null));
  else {
    const data = secret?.data ?? {};
    io.stdout(keyValueTable(Object.keys(data).sort().map((k) => [k, formatValue(data[k])] as const)));
  }
  return EXIT_OK;
}

async function create(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io, { value: ["custom-metadata", "seal-key-uri"] });
  expectArgs(ctx, 1);
  const sealKeyUri = ctx.flag("seal-key-uri");
  const body: Record<string, unknown> = { custom_metadata: metadataFlags(ctx.all("custom-metadata")) };
  if (sealKeyUri) body.seal = { type: "pkcs11", key_uri: sealKeyUri };
  return printNamespace(io, ctx.format, await ctx.client().write(`sys/namespaces/${namespacePath(ctx.args[0])}`, body, "POST"));
}

async function lookup(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io);
  expectArgs(ctx, 1);
  const secret = await ctx.client().read(`sys/namespaces/${namespacePath(ctx.args[0])}`);
  if (!secret) throw new UsageError(`namespace not found: ${ctx.args[0]}`);
  return printNamespace(io, ctx.format, secret);
}

async function list(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io, { bool: ["recursive"] });
  expectArgs(ctx, 0);
  const client = ctx.client();
  const secret = ctx.bool("recursive") ? await client.read("sys/namespaces/", { scan: "true" }) : await client.list("sys/namespaces");
  const keys = Array.isArray(secret?.data?.keys) ? secret.data.keys.map(String) : [];
  io.stdout(ctx.format === "json" ? prettyJson(secret ?? null) : keysList(keys));
  return EXIT_OK;
}

async function patch(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io, { value: ["custom-metadata", "remove-custom-metadata"] });
  expectArgs(ctx, 1);
  const changes: Record<string, string | null> = metadataFlags(ctx.all("custom-metadata"));
  for (const k of ctx.all("remove-custom-metadata")) changes[k] = null;
  const secret = await ctx.client().write(`sys/namespaces/${namespacePath(ctx.args[0])}`, { custom_metadata: changes }, "PATCH", "application/merge-patch+json");
  return printNamespace(io, ctx.format, secret);
}

async function del(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io);
  expectArgs(ctx, 1);
  const path = namespacePath(ctx.args[0]);
  const secret = await ctx.client().delete(`sys/namespaces/${path}`);
  if (ctx.format === "json") io.stdout(prettyJson(secret ?? null));
  else io.stdout(secret?.warnings?.length ? `${secret.warnings.join("\n")}\n` : `Success! Namespace deleted at: ${path}/\n`);
  return EXIT_OK;
}

async function lock(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io);
  if (ctx.args.length > 1) throw new UsageError("too many arguments");
  const suffix = ctx.args[0] ? `/${namespacePath(ctx.args[0])}` : "";
  const secret = await ctx.client().write(`sys/namespaces/api-lock/lock${suffix}`, {}, "POST");
  if (ctx.format === "json") io.stdout(prettyJson(secret ?? null));
  else io.stdout(`${formatValue(secret?.data?.unlock_key)}\n`);
  return EXIT_OK;
}

async function unlock(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io, { value: ["unlock-key"] });
  if (ctx.args.length > 1) throw new UsageError("too many arguments");
  const suffix = ctx.args[0] ? `/${namespacePath(ctx.args[0])}` : "";
  const key = ctx.flag("unlock-key");
  await ctx.client().write(`sys/namespaces/api-lock/unlock${suffix}`, key ? { unlock_key: key } : {}, "POST");
  io.stdout("Success! Namespace unlocked\n");
  return EXIT_OK;
}

async function seal(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io);
  expectArgs(ctx, 1);
  const path = namespacePath(ctx.args[0]);
  await ctx.client().write(`sys/namespaces/${path}/seal`, {});
  io.stdout(`Success! Namespace sealed: ${path}/\n`);
  return EXIT_OK;
}

async function unseal(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io);
  expectArgs(ctx, 1);
  return printNamespace(io, ctx.format, await ctx.client().write(`sys/namespaces/${namespacePath(ctx.args[0])}/unseal`, {}));
}

async function sealStatus(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io);
  expectArgs(ctx, 1);
  return printNamespace(io, ctx.format, await ctx.client().read(`sys/namespaces/${namespacePath(ctx.args[0])}/seal-status`));
}

export function namespaceCommand(argv: string[], io: CliIo): Promise<number> {
  return dispatch("namespace", { create, lookup, list, patch, delete: del, lock, unlock, seal, unseal, "seal-status": sealStatus }, argv, io, USAGE);
}
