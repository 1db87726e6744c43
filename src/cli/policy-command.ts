/** `arca policy write|read|list|delete`: ACL policies (sys/policies/acl). */
import { readFileSync } from "node:fs";
import { dispatch, expectArgs, parseCommand, EXIT_API, EXIT_OK, UsageError } from "./context.js";
import { prettyJson, warningsText } from "./format.js";
import type { CliIo } from "./io.js";

const USAGE = `Usage: arca policy <subcommand> [options] [args]

Subcommands:
  write   NAME FILE|-   Upload a policy (HCL or JSON) from a file or stdin
  read    NAME          Print a policy's text
  list                  List policy names
  delete  NAME          Delete a policy
`;

function policyPath(name: string): string {
  const n = name.trim();
  if (n === "" || n.includes("/")) throw new UsageError(`invalid policy name "${name}"`);
  // Names are stored lower-case (CVE-2025-5999); the server also does this, keep the URL consistent.
  return `sys/policies/acl/${n.toLowerCase()}`;
}

async function write(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io);
  expectArgs(ctx, 2);
  const [name, source] = ctx.args;
  let policy: string;
  if (source === "-") policy = await io.readStdin();
  else {
    try {
      policy = readFileSync(source, "utf8");
    } catch (err) {
      throw new UsageError(`cannot read ${source}: ${(err as Error).message}`);
    }
  }
  const secret = await ctx.client().write(policyPath(name), { policy });
  if (ctx.format === "json") io.stdout(prettyJson(secret ?? null));
  else io.stdout(`Success! Uploaded policy: ${name.toLowerCase()}\n${warningsText(secret?.warnings)}`);
  return EXIT_OK;
}

async function read(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io);
  expectArgs(ctx, 1);
  const name = ctx.args[0];
  const secret = await ctx.client().read(policyPath(name));
  const text = secret?.data?.policy;
  if (!secret || typeof text !== "string") {
    io.stderr(`No policy named: ${name}\n`);
    return EXIT_API;
  }
  io.stdout(ctx.format === "json" ? prettyJson(secret) : text.endsWith("\n") ? text : `${text}\n`);
  return EXIT_OK;
}

async function list(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io);
  expectArgs(ctx, 0);
  const secret = await ctx.client().list("sys/policies/acl");
  const keys = Array.isArray(secret?.data?.keys) ? secret.data.keys.map(String) : [];
  io.stdout(ctx.format === "json" ? prettyJson(secret ?? null) : keys.map((k) => `${k}\n`).join(""));
  return EXIT_OK;
}

async function del(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io);
  expectArgs(ctx, 1);
  const name = ctx.args[0];
  const secret = await ctx.client().delete(policyPath(name));
  if (ctx.format === "json") io.stdout(prettyJson(secret ?? null));
  else io.stdout(`Success! Deleted policy: ${name.toLowerCase()}\n`);
  return EXIT_OK;
}

export function policyCommand(argv: string[], io: CliIo): Promise<number> {
  return dispatch("policy", { write, read, list, delete: del }, argv, io, USAGE);
}
