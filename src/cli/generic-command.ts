/** `arca read|write|list|delete PATH`: raw access to any API path, as `vault read` etc. */
import { expectArgs, parseCommand, withHelp, EXIT_API, EXIT_OK, UsageError } from "./context.js";
import { keysList, prettyJson, warningsText } from "./format.js";
import type { CliIo } from "./io.js";
import { parsePairs } from "./kv-pairs.js";
import { outputSecret } from "./output.js";

/** Pairs as query parameters: lists repeat the key, anything else structured goes as JSON text. */
function toQuery(data: Record<string, unknown>): Record<string, string | string[]> {
  const q: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(data)) {
    q[k] = Array.isArray(v) ? v.map((x) => (typeof x === "string" ? x : JSON.stringify(x))) : typeof v === "string" ? v : JSON.stringify(v);
  }
  return q;
}

function cleanPath(path: string): string {
  const p = path.replace(/^\/+/, "");
  if (p === "") throw new UsageError("a path is required");
  return p;
}

const READ_USAGE = `Usage: arca read [-field=NAME] [-format=json] PATH [key=value...]

  Reads PATH; key=value pairs become query parameters.
`;

export function readCommand(argv: string[], io: CliIo): Promise<number> {
  return withHelp(READ_USAGE, argv, io, async () => {
    const ctx = parseCommand(argv, io, { value: ["field"] });
    expectArgs(ctx, 1, Infinity);
    const path = cleanPath(ctx.args[0]);
    const query = toQuery(await parsePairs(ctx.args.slice(1), io));
    const secret = await ctx.client().read(path, query);
    if (!secret) {
      io.stderr(`No value found at ${path}\n`);
      return EXIT_API;
    }
    return outputSecret(ctx, secret);
  });
}

const WRITE_USAGE = `Usage: arca write [-f] [-field=NAME] [-format=json] PATH [key=value... | - | @file.json]

  Writes data to PATH. key=@file reads a value from a file, key=- from stdin; "-" alone reads a JSON
  object from stdin. -f (-force) writes with no data.
`;

export function writeCommand(argv: string[], io: CliIo): Promise<number> {
  return withHelp(WRITE_USAGE, argv, io, async () => {
    const ctx = parseCommand(argv, io, { bool: ["f", "force"], value: ["field"] });
    expectArgs(ctx, 1, Infinity);
    const path = cleanPath(ctx.args[0]);
    const data = await parsePairs(ctx.args.slice(1), io);
    if (Object.keys(data).length === 0 && !ctx.bool("f") && !ctx.bool("force")) {
      throw new UsageError("must supply data or use -force");
    }
    const secret = await ctx.client().write(path, data);
    if (secret && (secret.data || secret.auth || secret.wrap_info)) return outputSecret(ctx, secret);
    if (ctx.format === "json") io.stdout(prettyJson(secret ?? null));
    else io.stdout(`Success! Data written to: ${path}\n${warningsText(secret?.warnings)}`);
    return EXIT_OK;
  });
}

const LIST_USAGE = `Usage: arca list [-format=json] PATH

  Lists the keys under PATH (GET PATH?list=true).
`;

export function listCommand(argv: string[], io: CliIo): Promise<number> {
  return withHelp(LIST_USAGE, argv, io, async () => {
    const ctx = parseCommand(argv, io);
    expectArgs(ctx, 1);
    const path = cleanPath(ctx.args[0]);
    const secret = await ctx.client().list(path);
    const keys = secret?.data?.keys;
    if (!secret || !Array.isArray(keys)) {
      io.stderr(`No value found at ${path.endsWith("/") ? path : `${path}/`}\n`);
      return EXIT_API;
    }
    io.stdout(ctx.format === "json" ? prettyJson(secret) : keysList(keys.map(String)) + warningsText(secret.warnings));
    return EXIT_OK;
  });
}

const DELETE_USAGE = `Usage: arca delete PATH [key=value...]

  Deletes PATH; key=value pairs become query parameters.
`;

export function deleteCommand(argv: string[], io: CliIo): Promise<number> {
  return withHelp(DELETE_USAGE, argv, io, async () => {
    const ctx = parseCommand(argv, io);
    expectArgs(ctx, 1, Infinity);
    const path = cleanPath(ctx.args[0]);
    const query = toQuery(await parsePairs(ctx.args.slice(1), io));
    const secret = await ctx.client().delete(path, query);
    if (ctx.format === "json") io.stdout(prettyJson(secret ?? null));
    else io.stdout(`Success! Data deleted (if it existed) at: ${path}\n${warningsText(secret?.warnings)}`);
    return EXIT_OK;
  });
}
