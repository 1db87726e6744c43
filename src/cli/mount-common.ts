/**
 * What `secrets` and `auth` share: enable/disable/list/tune over sys/mounts and sys/auth differ only in
 * the table they address and the words they print.
 */
import { isRecord } from "./client.js";
import { expectArgs, parseCommand, EXIT_OK, UsageError, type CommandContext } from "./context.js";
import { columns, formatValue, humanDuration, prettyJson, warningsText } from "./format.js";
import type { CliIo } from "./io.js";
import { parseStringPairs } from "./kv-pairs.js";

export interface MountTable {
  /** `sys/mounts` or `sys/auth`. */
  sysPath: string;
  /** Success wording: "secrets engine" / "auth method". */
  noun: string;
}

/** Mount paths always end in one `/` and never start with one. */
export function normalizeMountPath(path: string): string {
  const p = path.trim().replace(/^\/+|\/+$/g, "");
  if (p === "") throw new UsageError("a mount path is required");
  return `${p}/`;
}

/** The API path for a mount: no trailing `/`, since writes to paths ending in `/` are rejected. */
function sysMountPath(t: MountTable, mountPath: string): string {
  return `${t.sysPath}/${mountPath.replace(/\/+$/, "")}`;
}

function tuneConfig(ctx: CommandContext): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  const set = (flag: string, field: string) => {
    const v = ctx.flag(flag);
    if (v !== undefined) config[field] = v;
  };
  set("default-lease-ttl", "default_lease_ttl");
  set("max-lease-ttl", "max_lease_ttl");
  set("listing-visibility", "listing_visibility");
  const multi = (flag: string, field: string) => {
    const all = ctx.all(flag);
    if (all.length > 0) config[field] = all;
  };
  multi("audit-non-hmac-request-keys", "audit_non_hmac_request_keys");
  multi("audit-non-hmac-response-keys", "audit_non_hmac_response_keys");
  multi("passthrough-request-headers", "passthrough_request_headers");
  multi("allowed-response-headers", "allowed_response_headers");
  return config;
}

const CONFIG_FLAGS = [
  "default-lease-ttl",
  "max-lease-ttl",
  "listing-visibility",
  "audit-non-hmac-request-keys",
  "audit-non-hmac-response-keys",
  "passthrough-request-headers",
  "allowed-response-headers",
];

function options(ctx: CommandContext): Record<string, string> {
  const opts = parseStringPairs(ctx.all("options"), "-options");
  const version = ctx.flag("version");
  if (version !== undefined) {
    if (!/^\d+$/.test(version)) throw new UsageError("-version must be an integer");
    opts.version = version;
  }
  return opts;
}

export async function enableMount(t: MountTable, argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io, { bool: ["local", "seal-wrap"], value: ["path", "description", "version", "options", ...CONFIG_FLAGS] });
  expectArgs(ctx, 1);
  let type = ctx.args[0].trim();
  const opts = options(ctx);
  const path = normalizeMountPath(ctx.flag("path") ?? type);
  // vault accepts the alias "kv-v2"; send what every server understands.
  if (type === "kv-v2") {
    type = "kv";
    opts.version ??= "2";
  }
  const body: Record<string, unknown> = { type, config: tuneConfig(ctx) };
  const description = ctx.flag("description");
  if (description !== undefined) body.description = description;
  if (Object.keys(opts).length > 0) body.options = opts;
  if (ctx.bool("local")) body.local = true;
  if (ctx.bool("seal-wrap")) body.seal_wrap = true;
  const secret = await ctx.client().write(sysMountPath(t, path), body, "POST");
  if (ctx.format === "json") io.stdout(prettyJson(secret ?? null));
  else {
    const what = t.sysPath === "sys/auth" ? `Enabled ${type} auth method` : `Enabled the ${type} secrets engine`;
    io.stdout(`Success! ${what} at: ${path}\n${warningsText(secret?.warnings)}`);
  }
  return EXIT_OK;
}

export async function disableMount(t: MountTable, argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io);
  expectArgs(ctx, 1);
  const path = normalizeMountPath(ctx.args[0]);
  const secret = await ctx.client().delete(sysMountPath(t, path));
  if (ctx.format === "json") io.stdout(prettyJson(secret ?? null));
  else io.stdout(`Success! Disabled the ${t.noun} (if it existed) at: ${path}\n`);
  return EXIT_OK;
}

export async function tuneMount(t: MountTable, argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io, { value: ["description", "version", "options", ...CONFIG_FLAGS] });
  expectArgs(ctx, 1);
  const path = normalizeMountPath(ctx.args[0]);
  const body = tuneConfig(ctx);
  const description = ctx.flag("description");
  if (description !== undefined) body.description = description;
  const opts = options(ctx);
  if (Object.keys(opts).length > 0) body.options = opts;
  if (Object.keys(body).length === 0) throw new UsageError("nothing to tune: give at least one flag");
  const secret = await ctx.client().write(`${sysMountPath(t, path)}/tune`, body, "POST");
  if (ctx.format === "json") io.stdout(prettyJson(secret ?? null));
  else io.stdout(`Success! Tuned the ${t.noun} at: ${path}\n${warningsText(secret?.warnings)}`);
  return EXIT_OK;
}

function ttl(v: unknown): string {
  return typeof v === "number" && v > 0 ? humanDuration(v) : "system";
}

/** `Path  Type  Accessor  Description` (or the detailed columns) sorted by path. */
export function mountsTable(mounts: Record<string, unknown>, detailed: boolean): string {
  const rows: string[][] = [];
  for (const path of Object.keys(mounts).sort()) {
    const m = mounts[path];
    if (!isRecord(m) || typeof m.type !== "string") continue;
    const config = isRecord(m.config) ? m.config : {};
    const str = (v: unknown) => (v === undefined || v === null ? "" : formatValue(v));
    if (!detailed) rows.push([path, m.type, str(m.accessor), str(m.description)]);
    else {
      rows.push([
        path,
        m.type,
        str(m.accessor),
        ttl(config.default_lease_ttl),
        ttl(config.max_lease_ttl),
        String(m.local === true),
        String(m.seal_wrap === true),
        isRecord(m.options) ? formatValue(m.options) : "map[]",
        str(m.description),
        str(m.uuid),
      ]);
    }
  }
  const header = detailed
    ? ["Path", "Type", "Accessor", "Default TTL", "Max TTL", "Local", "Seal Wrap", "Options", "Description", "UUID"]
    : ["Path", "Type", "Accessor", "Description"];
  return columns(rows, header);
}

export async function listMounts(t: MountTable, argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io, { bool: ["detailed"] });
  expectArgs(ctx, 0);
  const res = await ctx.client().request("GET", t.sysPath);
  if (ctx.format === "json") {
    io.stdout(prettyJson(res.body));
    return EXIT_OK;
  }
  const body = isRecord(res.body) ? res.body : {};
  // sys/mounts and sys/auth copy data to the top level too (the "sys injector"); prefer `data`.
  const mounts = isRecord(body.data) ? body.data : body;
  io.stdout(mountsTable(mounts, ctx.bool("detailed")));
  return EXIT_OK;
}
