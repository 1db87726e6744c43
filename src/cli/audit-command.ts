/** `arca audit enable|disable|list|verify`: audit devices (sys/audit) and offline log verification. */
import { readFileSync } from "node:fs";
import { dispatch, expectArgs, parseCommand, EXIT_API, EXIT_OK, UsageError } from "./context.js";
import { prettyJson } from "./format.js";
import type { CliIo } from "./io.js";
import { verifyAgainstCheckpoint, verifyChain } from "../core/audit/chain.js";
import { signatureValid, type Checkpoint } from "../core/audit/checkpoints.js";
import { parseStringPairs } from "./kv-pairs.js";

const USAGE = `Usage: arca audit <subcommand> [options] [args]

Subcommands:
  enable  [-path=P] [-description=D] TYPE [key=value...]   Enable a file or socket audit device
  disable PATH                                            Disable an audit device
  list                                                    List audit devices
  verify  [-checkpoint=FILE|api -device=PATH] FILE       Check a file device's log for removed or altered entries;
                                                          with a checkpoint (a saved JSON file, or read from the
                                                          server with sys/audit-checkpoint), also for lines cut
                                                          from its end or start
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
  const ctx = parseCommand(argv, io, { value: ["checkpoint", "device"] });
  expectArgs(ctx, 1);
  // The checkpoint first: the log read after it holds every line it records (reading it is audited too).
  const checkpoint = await loadCheckpoint(ctx);
  let text: string;
  try {
    text = readFileSync(ctx.args[0], "utf8");
  } catch (err) {
    throw new UsageError(`cannot read ${ctx.args[0]}: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
  }
  const result = checkpoint ? verifyAgainstCheckpoint(text, checkpoint) : verifyChain(text);
  const signed = checkpoint?.signature ? (signatureValid(checkpoint) ? `signed by key ${checkpoint.signature.key_fingerprint}` : "SIGNATURE INVALID") : "unsigned";
  if (checkpoint?.signature && !signatureValid(checkpoint)) {
    result.ok = false;
    result.reason = "the checkpoint's signature does not verify";
  }
  if (ctx.format === "json") io.stdout(prettyJson(checkpoint ? { ...result, checkpoint: { seq: checkpoint.seq, signature: signed } } : result));
  else if (result.ok) io.stdout(`OK: ${result.entries} entries, chain intact${checkpoint ? `, matches the checkpoint at seq ${checkpoint.seq} (${signed})` : ""}\n`);
  else io.stdout(`BROKEN${result.brokenLine !== undefined ? ` at line ${result.brokenLine}` : ""}: ${result.reason}\n`);
  // Exit 2 like any other failed check against the server's records.
  return result.ok ? EXIT_OK : EXIT_API;
}

/** -checkpoint=FILE (JSON as sys/audit-checkpoint returns it, or its data) or -checkpoint=api with -device. */
async function loadCheckpoint(ctx: ReturnType<typeof parseCommand>): Promise<Checkpoint | undefined> {
  const source = ctx.flag("checkpoint");
  if (source === undefined) return undefined;
  let raw: unknown;
  if (source === "api") {
    const device = ctx.flag("device");
    if (!device) throw new UsageError("-checkpoint=api needs -device=PATH (the audit device's path)");
    raw = (await ctx.client().read(`sys/audit-checkpoint/${device.replace(/^\/+|\/+$/g, "")}`))?.data;
  } else {
    try {
      raw = JSON.parse(readFileSync(source, "utf8")) as unknown;
    } catch (err) {
      throw new UsageError(`cannot read the checkpoint ${source}: ${err instanceof SyntaxError ? "not JSON" : ((err as NodeJS.ErrnoException).code ?? "error")}`);
    }
  }
  const c = (raw && typeof raw === "object" && "data" in raw ? (raw).data : raw) as Partial<Checkpoint> | undefined;
  if (!c || typeof c.seq !== "number" || typeof c.hash !== "string" || typeof c.first_seq !== "number") {
    throw new UsageError("the checkpoint has no seq, hash and first_seq");
  }
  return c as Checkpoint;
}

export function auditCommand(argv: string[], io: CliIo): Promise<number> {
  return dispatch("audit", { enable, disable, list, verify }, argv, io, USAGE);
}
