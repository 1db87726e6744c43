/**
 * `arca kv …`: the KV engine with version detection. Like bao, the mount point and KV version come from
 * `sys/internal/ui/mounts/<path>`, so `kv get secret/foo` works for v1 and v2 mounts alike.
 */
import { ApiError, isRecord, type Secret } from "./client.js";
import { dispatch, expectArgs, parseCommand, EXIT_API, EXIT_OK, UsageError, type CommandContext } from "./context.js";
import { dataRows, keyValueTable, keysList, mapBanner, pathBanner, prettyJson, warningsText } from "./format.js";
import type { CliIo } from "./io.js";
import { parsePairs, parseStringPairs } from "./kv-pairs.js";
import { outputSecret, printField } from "./output.js";

const USAGE = `Usage: arca kv <subcommand> [options] [args]

  Paths are either MOUNT/PATH (kv get secret/foo) or -mount=MOUNT PATH (kv get -mount=secret foo).

Subcommands:
  put       [-cas=N] PATH key=value... | key=@file | key=- | -     Write a secret (replaces the data)
  get       [-version=N] [-field=NAME] PATH                        Read a secret
  patch     [-cas=N] PATH key=value...                             Merge keys into the latest version (v2)
  delete    [-versions=1,2] PATH                                   Soft-delete (v2) or delete (v1)
  undelete  -versions=1,2 PATH                                     Restore soft-deleted versions (v2)
  destroy   -versions=1,2 PATH                                     Permanently remove versions (v2)
  list      PATH                                                   List keys
  metadata  get|put|delete PATH                                    Versions and settings (v2)
            put: -max-versions -cas-required -delete-version-after -custom-metadata=k=v
`;

export interface KvTarget {
  /** Mount point with a trailing `/`, or "" when the server could not say (treated as v1). */
  mount: string;
  version: 1 | 2;
  /** Path below the mount, no leading `/`. */
  rel: string;
}

/** `<mount><prefix>/<rel>` for v2, `<mount><rel>` for v1. */
export function kvPath(t: KvTarget, prefix: "data" | "metadata" | "delete" | "undelete" | "destroy"): string {
  return t.version === 2 ? `${t.mount}${prefix}/${t.rel}` : `${t.mount}${t.rel}`;
}

/** Interprets a sys/internal/ui/mounts answer for the requested path (undefined body: not known). */
export function kvTargetFrom(pathArg: string, mountFlag: string | undefined, body: unknown): KvTarget {
  const clean = pathArg.replace(/^\/+/, "");
  const data = isRecord(body) && isRecord(body.data) ? body.data : undefined;
  const options = data && isRecord(data.options) ? data.options : {};
  const version = options.version === "2" || options.version === 2 ? 2 : 1;
  const flagMount = mountFlag !== undefined ? `${mountFlag.replace(/^\/+|\/+$/g, "")}/` : undefined;
  let mount = typeof data?.path === "string" ? data.path.replace(/^\/+/, "") : "";
  if (mount !== "" && !mount.endsWith("/")) mount += "/";
  // With -mount the flag names the mount, as in vault; the probe only supplies the version.
  if (flagMount !== undefined) return { mount: flagMount, version, rel: clean };
  if (mount === "") return { mount: "", version: 1, rel: clean };
  const withSlash = clean.endsWith("/") || clean === "" ? clean : `${clean}/`;
  const rel = withSlash.startsWith(mount) ? clean.slice(Math.min(mount.length, clean.length)) : clean;
  return { mount, version, rel };
}

async function resolve(ctx: CommandContext, pathArg: string | undefined): Promise<KvTarget> {
  if (pathArg === undefined) throw new UsageError("a path is required");
  const mountFlag = ctx.flag("mount");
  const probe = mountFlag !== undefined ? mountFlag.replace(/^\/+|\/+$/g, "") : pathArg.replace(/^\/+/, "");
  if (probe === "") throw new UsageError("a path is required");
  const client = ctx.client();
  const res = await client.raw("GET", `sys/internal/ui/mounts/${probe}`);
  // A server without the endpoint answers 404: treat the path as KV v1, as the vault CLI does.
  if (res.status === 404) return kvTargetFrom(pathArg, mountFlag, undefined);
  if (res.status >= 400) {
    const errors = isRecord(res.body) && Array.isArray(res.body.errors) ? res.body.errors.map(String) : [];
    throw new ApiError(res.status, "GET", client.url(`sys/internal/ui/mounts/${probe}`).toString(), errors, res.body);
  }
  return kvTargetFrom(pathArg, mountFlag, res.body);
}

function requireV2(t: KvTarget, sub: string): void {
  if (t.version !== 2) throw new UsageError(`kv ${sub} is only supported on KV version 2 mounts`);
}

function parseVersions(ctx: CommandContext, required: boolean): number[] {
  const raw = ctx.all("versions").flatMap((v) => v.split(",")).map((v) => v.trim()).filter((v) => v !== "");
  if (required && raw.length === 0) throw new UsageError("no versions provided, use the -versions flag");
  return raw.map((v) => {
    if (!/^\d+$/.test(v)) throw new UsageError(`invalid version "${v}"`);
    return Number(v);
  });
}

function casOption(ctx: CommandContext): Record<string, number> | undefined {
  const cas = ctx.flag("cas");
  if (cas === undefined) return undefined;
  if (!/^-?\d+$/.test(cas)) throw new UsageError("-cas must be an integer");
  // vault sends no cas for -1 (its "not set" default).
  return Number(cas) >= 0 ? { cas: Number(cas) } : undefined;
}

/** put/patch output on v2: the path banner then the version metadata. */
function writeResultTable(fullPath: string, secret: Secret): string {
  const meta = secret.data ?? {};
  return `${pathBanner("Secret Path", fullPath)}${mapBanner("Metadata", meta)}${keyValueTable(dataRows(meta))}${warningsText(secret.warnings)}`;
}

async function put(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io, { value: ["mount", "cas", "field"] });
  expectArgs(ctx, 1, Infinity);
  const data = await parsePairs(ctx.args.slice(1), io);
  if (Object.keys(data).length === 0) throw new UsageError("must supply data (key=value, key=@file, or - for JSON on stdin)");
  const t = await resolve(ctx, ctx.args[0]);
  const path = kvPath(t, "data");
  if (t.version === 1) {
    if (ctx.flag("cas") !== undefined) throw new UsageError("-cas is only supported on KV version 2 mounts");
    const secret = await ctx.client().write(path, data);
    if (ctx.format === "json") io.stdout(prettyJson(secret ?? null));
    else io.stdout(`Success! Data written to: ${path}\n${warningsText(secret?.warnings)}`);
    return EXIT_OK;
  }
  const options = casOption(ctx);
  const secret = (await ctx.client().write(path, options ? { data, options } : { data })) ?? {};
  return outputSecret(ctx, secret, () => writeResultTable(path, secret));
}

async function patch(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io, { value: ["mount", "cas", "field"] });
  expectArgs(ctx, 1, Infinity);
  const data = await parsePairs(ctx.args.slice(1), io);
  if (Object.keys(data).length === 0) throw new UsageError("must supply data");
  const t = await resolve(ctx, ctx.args[0]);
  requireV2(t, "patch");
  const path = kvPath(t, "data");
  const options = casOption(ctx);
  const secret = (await ctx.client().write(path, options ? { data, options } : { data }, "PATCH", "application/merge-patch+json")) ?? {};
  return outputSecret(ctx, secret, () => writeResultTable(path, secret));
}

async function get(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io, { value: ["mount", "version", "field"] });
  expectArgs(ctx, 1);
  const t = await resolve(ctx, ctx.args[0]);
  const path = kvPath(t, "data");
  const version = ctx.flag("version");
  if (version !== undefined && !/^\d+$/.test(version)) throw new UsageError("-version must be a non-negative integer");
  if (version !== undefined) requireV2(t, "get -version");
  const secret = await ctx.client().read(path, version !== undefined ? { version } : undefined);
  if (!secret) {
    io.stderr(`No value found at ${path}\n`);
    return EXIT_API;
  }
  if (t.version === 1) return outputSecret(ctx, secret);
  const inner = isRecord(secret.data?.data) ? secret.data.data : undefined;
  const meta = isRecord(secret.data?.metadata) ? secret.data.metadata : undefined;
  const field = ctx.flag("field");
  if (field !== undefined) {
    return printField(ctx, inner && Object.hasOwn(inner, field) ? { found: true, value: inner[field] } : { found: false }, field);
  }
  if (ctx.format === "json") {
    io.stdout(prettyJson(secret));
    return EXIT_OK;
  }
  let out = pathBanner("Secret Path", path);
  if (meta) out += `${mapBanner("Metadata", meta)}${keyValueTable(dataRows(meta))}`;
  // A deleted or destroyed version answers metadata without data: show the metadata only.
  if (inner) out += `\n${mapBanner("Data", inner)}${keyValueTable(dataRows(inner))}`;
  io.stdout(out + warningsText(secret.warnings));
  return EXIT_OK;
}

async function del(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io, { value: ["mount", "versions"] });
  expectArgs(ctx, 1);
  const versions = parseVersions(ctx, false);
  const t = await resolve(ctx, ctx.args[0]);
  let path: string;
  let secret: Secret | undefined;
  if (t.version === 2 && versions.length > 0) {
    path = kvPath(t, "delete");
    secret = await ctx.client().write(path, { versions }, "POST");
  } else {
    if (versions.length > 0) throw new UsageError("-versions is only supported on KV version 2 mounts");
    path = kvPath(t, "data");
    secret = await ctx.client().delete(path);
  }
  if (ctx.format === "json") io.stdout(prettyJson(secret ?? null));
  else io.stdout(`Success! Data deleted (if it existed) at: ${path}\n`);
  return EXIT_OK;
}

function versionsCommand(sub: "undelete" | "destroy", method: string) {
  return async (argv: string[], io: CliIo): Promise<number> => {
    const ctx = parseCommand(argv, io, { value: ["mount", "versions"] });
    expectArgs(ctx, 1);
    const versions = parseVersions(ctx, true);
    const t = await resolve(ctx, ctx.args[0]);
    requireV2(t, sub);
    const path = kvPath(t, sub);
    const secret = await ctx.client().write(path, { versions }, method);
    if (ctx.format === "json") io.stdout(prettyJson(secret ?? null));
    else io.stdout(`Success! Data written to: ${path}\n`);
    return EXIT_OK;
  };
}

async function list(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io, { value: ["mount"] });
  expectArgs(ctx, ctx.flag("mount") !== undefined ? 0 : 1, 1);
  const t = await resolve(ctx, ctx.args[0] ?? "");
  const path = kvPath(t, "metadata");
  const secret = await ctx.client().list(path);
  const keys = secret?.data?.keys;
  if (!secret || !Array.isArray(keys)) {
    io.stderr(`No value found at ${path.endsWith("/") ? path : `${path}/`}\n`);
    return EXIT_API;
  }
  io.stdout(ctx.format === "json" ? prettyJson(secret) : keysList(keys.map(String)) + warningsText(secret.warnings));
  return EXIT_OK;
}

async function metadataGet(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io, { value: ["mount", "field"] });
  expectArgs(ctx, 1);
  const t = await resolve(ctx, ctx.args[0]);
  requireV2(t, "metadata get");
  const path = kvPath(t, "metadata");
  const secret = await ctx.client().read(path);
  if (!secret) {
    io.stderr(`No value found at ${path}\n`);
    return EXIT_API;
  }
  if (ctx.flag("field") !== undefined || ctx.format === "json") return outputSecret(ctx, secret);
  const meta = { ...(secret.data ?? {}) };
  const versions = isRecord(meta.versions) ? meta.versions : {};
  delete meta.versions;
  let out = `${pathBanner("Metadata Path", path)}${mapBanner("Metadata", meta)}${keyValueTable(dataRows(meta))}`;
  for (const v of Object.keys(versions).sort((a, b) => Number(a) - Number(b))) {
    const info = versions[v];
    if (!isRecord(info)) continue;
    out += `\n${mapBanner(`Version ${v}`, info)}${keyValueTable(dataRows(info))}`;
  }
  io.stdout(out + warningsText(secret.warnings));
  return EXIT_OK;
}

async function metadataPut(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io, {
    bool: ["cas-required"],
    value: ["mount", "max-versions", "delete-version-after", "custom-metadata"],
  });
  expectArgs(ctx, 1);
  const body: Record<string, unknown> = {};
  const max = ctx.flag("max-versions");
  if (max !== undefined) {
    if (!/^\d+$/.test(max)) throw new UsageError("-max-versions must be a non-negative integer");
    body.max_versions = Number(max);
  }
  if (ctx.flag("cas-required") !== undefined) body.cas_required = ctx.bool("cas-required");
  const after = ctx.flag("delete-version-after");
  if (after !== undefined) body.delete_version_after = after;
  const custom = ctx.all("custom-metadata");
  if (custom.length > 0) body.custom_metadata = parseStringPairs(custom, "-custom-metadata");
  const t = await resolve(ctx, ctx.args[0]);
  requireV2(t, "metadata put");
  const path = kvPath(t, "metadata");
  const secret = await ctx.client().write(path, body, "POST");
  if (ctx.format === "json") io.stdout(prettyJson(secret ?? null));
  else io.stdout(`Success! Data written to: ${path}\n${warningsText(secret?.warnings)}`);
  return EXIT_OK;
}

async function metadataDelete(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io, { value: ["mount"] });
  expectArgs(ctx, 1);
  const t = await resolve(ctx, ctx.args[0]);
  requireV2(t, "metadata delete");
  const path = kvPath(t, "metadata");
  const secret = await ctx.client().delete(path);
  if (ctx.format === "json") io.stdout(prettyJson(secret ?? null));
  else io.stdout(`Success! Data deleted (if it existed) at: ${path}\n`);
  return EXIT_OK;
}

function metadata(argv: string[], io: CliIo): Promise<number> {
  return dispatch("kv metadata", { get: metadataGet, put: metadataPut, delete: metadataDelete }, argv, io, USAGE);
}

export function kvCommand(argv: string[], io: CliIo): Promise<number> {
  return dispatch(
    "kv",
    { put, get, patch, delete: del, undelete: versionsCommand("undelete", "POST"), destroy: versionsCommand("destroy", "PUT"), list, metadata },
    argv,
    io,
    USAGE,
  );
}
