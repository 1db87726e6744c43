/**
 * `arca operator snapshot save|restore|inspect`: storage snapshots (sys/storage/snapshot). A snapshot
 * holds only ciphertext and seal metadata, but it is the whole server's data: files are written 0600,
 * and a download is verified before it replaces anything.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { decodeSnapshot, summarizeSnapshot } from "../storage/snapshot-format.js";
import { dispatch, expectArgs, parseCommand, EXIT_OK, UsageError } from "./context.js";
import { keyValueTable, prettyJson, formatValue } from "./format.js";
import type { CliIo } from "./io.js";

const USAGE = `Usage: arca operator snapshot <subcommand> FILE

Subcommands:
  save FILE      Save a snapshot of the server's encrypted storage (needs sudo on sys/storage/snapshot)
  restore FILE   Restore a snapshot into an uninitialised server; then unseal it with the original keys
  inspect FILE   Verify a snapshot file and show what it holds (never values)
`;

function readSnapshotFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

async function save(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io);
  expectArgs(ctx, 1);
  const file = ctx.args[0];
  const bytes = await ctx.client().download("sys/storage/snapshot", { omitNamespace: true });
  // A connection cut midway leaves a file that does not verify: refuse it rather than keep a bad backup.
  const summary = summarizeSnapshot(decodeSnapshot(bytes));
  const tmp = `${file}.partial`;
  writeFileSync(tmp, bytes, { mode: 0o600 });
  try {
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  io.stdout(`Snapshot saved to ${file} (${String(summary.entries)} entries, sha256 ${String(summary.sha256)}).\n`);
  return EXIT_OK;
}

async function restore(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io);
  expectArgs(ctx, 1);
  const bytes = readSnapshotFile(ctx.args[0]);
  const res = await ctx.client().request("POST", "sys/storage/snapshot", { bytes, omitNamespace: true });
  const body = (res.body ?? {}) as Record<string, unknown>;
  if (ctx.format === "json") io.stdout(prettyJson(body));
  else {
    const next = body.sealed === true ? " Unseal it with the unseal (or recovery) keys of the server the snapshot came from." : "";
    io.stdout(`Success! Restored ${formatValue(body.restored_entries)} entries.${next}\n`);
  }
  return EXIT_OK;
}

async function inspect(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io);
  expectArgs(ctx, 1);
  const summary = summarizeSnapshot(decodeSnapshot(readSnapshotFile(ctx.args[0])));
  if (ctx.format === "json") io.stdout(prettyJson(summary));
  else {
    const { areas, ...rest } = summary;
    const rows: [string, string][] = Object.entries(rest).map(([k, v]) => [k, formatValue(v)]);
    for (const [area, n] of Object.entries(areas as Record<string, number>)) rows.push([`entries in ${area}`, String(n)]);
    io.stdout(keyValueTable(rows));
  }
  return EXIT_OK;
}

export function snapshotCommand(argv: string[], io: CliIo): Promise<number> {
  return dispatch("operator snapshot", { save, restore, inspect }, argv, io, USAGE);
}
