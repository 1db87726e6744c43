/**
 * What every client command shares: the global flags (-address, -namespace, -format, TLS), the
 * ARCA_, VAULT_ and BAO_ environment variables, flag validation and the exit codes.
 */
import { parseArgs } from "./args.js";
import { ArcaClient, DEFAULT_ADDRESS, type ClientConfig } from "./client.js";
import { OUTPUT_FORMATS, type OutputFormat } from "./format.js";
import type { CliIo } from "./io.js";
import { readTokenFile, tokenFilePath } from "./token-file.js";

export const EXIT_OK = 0;
/** Vault's convention, which scripts written for vault/bao rely on: 2 = the server answered an error or could not be reached. */
export const EXIT_API = 2;
/** 1 = a local error: bad flags or arguments. (`status` when sealed also exits 2, as vault's does.) */
export const EXIT_USAGE = 1;
/** `status` on a sealed server (vault's contract for scripts). */
export const EXIT_SEALED = 2;

export class UsageError extends Error {}

/** `-h` / `-help`: the command group prints its usage on stdout and exits 0. */
export class HelpRequested extends Error {
  constructor() {
    super("help requested");
  }
}

export interface FlagSpec {
  /** Flags that take no value (`-orphan`), so the next argument stays positional. */
  bool?: readonly string[];
  /** Flags that take a value; all may be repeated and read back through `all()`. */
  value?: readonly string[];
}

const GLOBAL_VALUE = ["address", "namespace", "ns", "format", "ca-cert", "ca-path", "client-cert", "client-key", "tls-server-name"];
const GLOBAL_BOOL = ["tls-skip-verify", "h", "help"];

export interface CommandContext {
  io: CliIo;
  args: string[];
  format: OutputFormat;
  /** The last value of a flag. */
  flag(name: string): string | undefined;
  /** Every value of a repeatable flag. */
  all(name: string): string[];
  bool(name: string): boolean;
  /** Built on first use so argument errors are reported before any configuration error. */
  client(): ArcaClient;
}

/** First non-empty variable among the names, in order. */
export function envFirst(env: CliIo["env"], names: readonly string[]): string | undefined {
  for (const n of names) {
    const v = env[n];
    if (v !== undefined && v !== "") return v;
  }
  return undefined;
}

/** Go's strconv.ParseBool, which vault uses for flags and *_SKIP_VERIFY. */
export function parseBoolStrict(v: string, what: string): boolean {
  if (["1", "t", "T", "true", "TRUE", "True"].includes(v)) return true;
  if (["0", "f", "F", "false", "FALSE", "False"].includes(v)) return false;
  throw new UsageError(`invalid boolean value "${v}" for ${what}`);
}

/** Integer seconds or a simple Go duration (`90s`, `5m`, `1h30m`). */
export function parseDurationSeconds(v: string, what: string): number {
  if (/^\d+$/.test(v)) return Number(v);
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(v);
  if (!m || v === "") throw new UsageError(`invalid duration "${v}" for ${what}`);
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

export function resolveClientConfig(io: CliIo, flag: (name: string) => string | undefined): ClientConfig {
  const env = io.env;
  const skip = flag("tls-skip-verify") ?? envFirst(env, ["ARCA_SKIP_VERIFY", "VAULT_SKIP_VERIFY", "BAO_SKIP_VERIFY"]);
  const timeout = envFirst(env, ["ARCA_CLIENT_TIMEOUT", "VAULT_CLIENT_TIMEOUT", "BAO_CLIENT_TIMEOUT"]);
  return {
    address: flag("address") ?? envFirst(env, ["ARCA_ADDR", "VAULT_ADDR", "BAO_ADDR"]) ?? DEFAULT_ADDRESS,
    token: envFirst(env, ["ARCA_TOKEN", "VAULT_TOKEN", "BAO_TOKEN"]) ?? readTokenFile(tokenFilePath(io)),
    namespace: flag("namespace") ?? flag("ns") ?? envFirst(env, ["ARCA_NAMESPACE", "VAULT_NAMESPACE", "BAO_NAMESPACE"]),
    caCert: flag("ca-cert") ?? envFirst(env, ["ARCA_CACERT", "VAULT_CACERT", "BAO_CACERT"]),
    caPath: flag("ca-path") ?? envFirst(env, ["ARCA_CAPATH", "VAULT_CAPATH", "BAO_CAPATH"]),
    clientCert: flag("client-cert") ?? envFirst(env, ["ARCA_CLIENT_CERT", "VAULT_CLIENT_CERT", "BAO_CLIENT_CERT"]),
    clientKey: flag("client-key") ?? envFirst(env, ["ARCA_CLIENT_KEY", "VAULT_CLIENT_KEY", "BAO_CLIENT_KEY"]),
    tlsServerName: flag("tls-server-name") ?? envFirst(env, ["ARCA_TLS_SERVER_NAME", "VAULT_TLS_SERVER_NAME", "BAO_TLS_SERVER_NAME"]),
    skipVerify: skip !== undefined && parseBoolStrict(skip, "tls-skip-verify"),
    timeoutMs: (timeout ? parseDurationSeconds(timeout, "client timeout") : 60) * 1000,
  };
}

/**
 * Parses a leaf command's arguments against its flags plus the global ones. Unknown flags are usage
 * errors (as with vault), so a typo never silently changes what is written.
 */
export function parseCommand(argv: string[], io: CliIo, spec: FlagSpec = {}): CommandContext {
  const bools = new Set([...GLOBAL_BOOL, ...(spec.bool ?? [])]);
  const known = new Set([...bools, ...GLOBAL_VALUE, ...(spec.value ?? [])]);
  const parsed = parseArgs(argv, bools);
  if (parsed.flags.has("h") || parsed.flags.has("help")) throw new HelpRequested();
  for (const name of parsed.flags.keys()) {
    if (!known.has(name)) throw new UsageError(`flag provided but not defined: -${name}`);
  }
  const flag = (name: string) => parsed.flags.get(name);
  const formatName = flag("format") ?? envFirst(io.env, ["ARCA_FORMAT", "VAULT_FORMAT", "BAO_FORMAT"]) ?? "table";
  const format = OUTPUT_FORMATS.find((f) => f === formatName.toLowerCase());
  if (!format) throw new UsageError(`invalid output format "${formatName}" (use table or json)`);
  let client: ArcaClient | undefined;
  return {
    io,
    args: parsed.positional,
    format,
    flag,
    all: (name) => parsed.multi.get(name) ?? [],
    bool: (name) => {
      const v = flag(name);
      return v !== undefined && parseBoolStrict(v, `-${name}`);
    },
    client: () => (client ??= new ArcaClient(resolveClientConfig(io, flag))),
  };
}

/** Fails unless the positional count is within [min, max]. */
export function expectArgs(ctx: CommandContext, min: number, max: number = min): void {
  const n = ctx.args.length;
  if (n < min) throw new UsageError(`not enough arguments (expected ${min === max ? min : `at least ${min}`}, got ${n})`);
  if (n > max) throw new UsageError(`too many arguments (expected ${min === max ? max : `at most ${max}`}, got ${n})`);
}

export type Subcommand = (argv: string[], io: CliIo) => Promise<number>;

/** Dispatches `arca <group> <sub> …`; a missing or unknown subcommand is a usage error. */
export async function dispatch(group: string, subs: Record<string, Subcommand>, argv: string[], io: CliIo, usage: string): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "-h" || name === "-help" || name === "--help") {
    (name === undefined ? io.stderr : io.stdout)(usage);
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const sub = Object.hasOwn(subs, name) ? subs[name] : undefined;
  if (!sub) throw new UsageError(`unknown subcommand "${group} ${name}"`);
  try {
    return await sub(rest, io);
  } catch (err) {
    if (err instanceof HelpRequested) {
      io.stdout(usage);
      return EXIT_OK;
    }
    throw err;
  }
}

/** Runs a command that has no subcommands, answering `-h` with its usage. */
export async function withHelp(usage: string, argv: string[], io: CliIo, run: Subcommand): Promise<number> {
  try {
    return await run(argv, io);
  } catch (err) {
    if (err instanceof HelpRequested) {
      io.stdout(usage);
      return EXIT_OK;
    }
    throw err;
  }
}
