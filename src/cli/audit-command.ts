/** `arca audit enable|disable|list|verify`: audit devices (sys/audit) and offline log verification. */
import { readFileSync } from "node:fs";
import { dispatch, expectArgs, parseCommand, EXIT_API, EXIT_OK, UsageError } from "./context.js";
import { prettyJson } from "./format.js";
import type { CliIo } from "./io.js";
import { verifyChain } from "../core/audit/chain.js";
import { parseStringPairs } from "./kv-pairs.js";

const USAGE = `Usage: arca audit <subcommand> [options] [args]

Subcommands:
  enable  [-path=P] [-description=D] TYPE [key=value...]   Enable a file or socket audit device
  disable PATH                                            Disable an audit device
  list                                                    List audit devices
  verify  FILE                                            Check a file device's log for removed or altered entries
`;

async function enable(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io);
  if (ctx.args.length < 1) throw new UsageError("audit enable needs a TYPE");
  const [type, ...pairs] = ctx.args;
  const options = parseStringPairs(pairs, "option");
  const path = (ctx.flag("path") ?? type).replace(/^\/+|\/+$/g, "");
  await ctx.client().write(`sys/audit/${path}`, { type, description: ctx.flag("description") ?? "", options });
  io.stdout(`Success! Enabled the ${type} audit device at: ${path}/\n`);
  return EXIT_OK;
}

async function disable(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io);
  expectArgs(ctx, 1);
  const path = ctx.args[0].replace(/^\/+|\/+$/g, "");
  await ctx.client().delete(`sys/audit/${path}`);
  io.stdout(`Success! Disabled audit device (if it was enabled) at: ${path}/\n`);
  return EXIT_OK;
}

async function list(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io);
  expectArgs(ctx, 0);
  const secret = await ctx.client().read("sys/audit");
  const devices = (secret?.data ?? {}) as Record<string, { type?: string; description?: string }>;
  if (ctx.format === "json") io.stdout(prettyJson(secret ?? null));
  else if (Object.keys(devices).length === 0) io.stdout("No audit devices are enabled.\n");
  else {
    const rows = Object.entries(devices).map(([p, d]) => [p, d.type ?? "", d.description ?? ""]);
    const w = [Math.max(4, ...rows.map((r) => r[0].length)), Math.max(4, ...rows.map((r) => r[1].length))];
    io.stdout(`${"Path".padEnd(w[0])}    ${"Type".padEnd(w[1])}    Description\n`);
    for (const r of rows) io.stdout(`${r[0].padEnd(w[0])}    ${r[1].padEnd(w[1])}    ${r[2]}\n`);
  }
  return EXIT_OK;
}

async function verify(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io);
  expectArgs(ctx, 1);
  let text: string;
  try {
    text = readFileSync(ctx.args[0], "utf8");
  } catch (err) {
    throw new UsageError(`cannot read ${ctx.args[0]}: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
  }
  const result = verifyChain(text);
  if (ctx.format === "json") io.stdout(prettyJson(result));
  else if (result.ok) io.stdout(`OK: ${result.entries} entries, chain intact\n`);
  else io.stdout(`BROKEN at line ${result.brokenLine}: ${result.reason}\n`);
  // Exit 2 like any other failed check against the server's records.
  return result.ok ? EXIT_OK : EXIT_API;
}

export function auditCommand(argv: string[], io: CliIo): Promise<number> {
  return dispatch("audit", { enable, disable, list, verify }, argv, io, USAGE);
}
