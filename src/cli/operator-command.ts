/** `arca operator init|unseal|seal` and `arca status`: the unauthenticated seal life cycle. */
import { isRecord } from "./client.js";
import { dispatch, expectArgs, parseCommand, withHelp, EXIT_OK, EXIT_SEALED, UsageError, type CommandContext } from "./context.js";
import { formatValue, keyValueTable, prettyJson } from "./format.js";
import type { CliIo } from "./io.js";
import { snapshotCommand } from "./snapshot-command.js";

const USAGE = `Usage: arca operator <subcommand> [options] [args]

Subcommands:
  init      Initialise a server: -key-shares=5 -key-threshold=3 [-status]
  unseal    Provide one unseal key share: [KEY] [-reset]; prompts (or reads stdin) without KEY
  seal      Seal the server (needs a token with sudo on sys/seal)
  snapshot  Save, restore or inspect a storage snapshot: save|restore|inspect FILE
`;

const STATUS_USAGE = `Usage: arca status [options]

  Prints the seal status. Exit code 0 when unsealed, 2 when sealed, 1 on error.
`;

function num(v: unknown): number {
  return typeof v === "number" ? v : 0;
}

/** Rows of `vault status`, from a seal-status body and (when unsealed) sys/leader. */
export function sealStatusRows(s: Record<string, unknown>, haEnabled?: boolean): [string, string][] {
  const rows: [string, string][] = [];
  const recovery = s.recovery_seal === true;
  rows.push(["Seal Type", formatValue(s.type ?? "")]);
  if (recovery) rows.push(["Recovery Seal Type", "shamir"]);
  rows.push(["Initialized", String(s.initialized === true)], ["Sealed", String(s.sealed === true)]);
  rows.push([recovery ? "Total Recovery Shares" : "Total Shares", String(num(s.n))], ["Threshold", String(num(s.t))]);
  if (s.sealed === true) {
    rows.push(["Unseal Progress", `${num(s.progress)}/${num(s.t)}`], ["Unseal Nonce", typeof s.nonce === "string" ? s.nonce : ""]);
  }
  rows.push(["Version", formatValue(s.version ?? "")]);
  const date = s.commit_date ?? s.build_date;
  if (date !== undefined) rows.push(["Build Date", formatValue(date)]);
  if (s.storage_type !== undefined) rows.push(["Storage Type", formatValue(s.storage_type)]);
  if (s.sealed !== true) {
    rows.push(["Cluster Name", formatValue(s.cluster_name ?? "")], ["Cluster ID", formatValue(s.cluster_id ?? "")]);
    if (haEnabled !== undefined) rows.push(["HA Enabled", String(haEnabled)]);
  }
  return rows;
}

async function printSealStatus(ctx: CommandContext, status: unknown): Promise<number> {
  const s = isRecord(status) ? status : {};
  if (ctx.format === "json") {
    ctx.io.stdout(prettyJson(status));
  } else {
    let ha: boolean | undefined;
    if (s.sealed !== true) {
      // HA state is informational; an older server without sys/leader must not fail `status`.
      const leader = await ctx.client().raw("GET", "sys/leader", { omitNamespace: true }).catch(() => undefined);
      if (leader && leader.status === 200 && isRecord(leader.body)) ha = leader.body.ha_enabled === true;
    }
    ctx.io.stdout(keyValueTable(sealStatusRows(s, ha)));
  }
  return s.sealed === true ? EXIT_SEALED : EXIT_OK;
}

export function statusCommand(argv: string[], io: CliIo): Promise<number> {
  return withHelp(STATUS_USAGE, argv, io, async () => {
    const ctx = parseCommand(argv, io);
    expectArgs(ctx, 0);
    const res = await ctx.client().request("GET", "sys/seal-status", { omitNamespace: true });
    return printSealStatus(ctx, res.body);
  });
}

function intFlag(ctx: CommandContext, name: string, fallback: number): number {
  const v = ctx.flag(name);
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v)) throw new UsageError(`-${name} must be a non-negative integer`);
  return Number(v);
}

async function init(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io, { bool: ["status"], value: ["key-shares", "key-threshold", "recovery-shares", "recovery-threshold"] });
  expectArgs(ctx, 0);
  const client = ctx.client();
  if (ctx.bool("status")) {
    const res = await client.request("GET", "sys/init", { omitNamespace: true });
    const initialized = isRecord(res.body) && res.body.initialized === true;
    io.stdout(initialized ? "Arca is initialized\n" : "Arca is not initialized\n");
    // vault's contract for scripts: 0 initialized, 2 not initialized, 1 error.
    return initialized ? EXIT_OK : 2;
  }
  // As the vault CLI does: ask the seal type first. An auto seal takes recovery shares, and refuses
  // secret_shares; a Shamir seal takes unseal shares.
  const status = await client.request("GET", "sys/seal-status", { omitNamespace: true });
  const autoSeal = isRecord(status.body) && typeof status.body.type === "string" && status.body.type !== "shamir";
  const body: Record<string, number> = autoSeal
    ? { recovery_shares: intFlag(ctx, "recovery-shares", 5), recovery_threshold: intFlag(ctx, "recovery-threshold", 3) }
    : { secret_shares: intFlag(ctx, "key-shares", 5), secret_threshold: intFlag(ctx, "key-threshold", 3) };
  if (!autoSeal && ctx.flag("recovery-shares") !== undefined) body.recovery_shares = intFlag(ctx, "recovery-shares", 0);
  if (!autoSeal && ctx.flag("recovery-threshold") !== undefined) body.recovery_threshold = intFlag(ctx, "recovery-threshold", 0);
  const res = await client.request("PUT", "sys/init", { body, omitNamespace: true });
  if (ctx.format === "json") {
    io.stdout(prettyJson(res.body));
    return EXIT_OK;
  }
  const r = isRecord(res.body) ? res.body : {};
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
  const keys = list(r.keys_base64).length > 0 ? list(r.keys_base64) : list(r.keys);
  const recovery = list(r.recovery_keys_base64).length > 0 ? list(r.recovery_keys_base64) : list(r.recovery_keys);
  const lines: string[] = [];
  keys.forEach((k, i) => lines.push(`Unseal Key ${i + 1}: ${k}`));
  recovery.forEach((k, i) => lines.push(`Recovery Key ${i + 1}: ${k}`));
  lines.push("", `Initial Root Token: ${formatValue(r.root_token ?? "")}`, "");
  if (keys.length > 0) {
    const t = body.secret_threshold;
    lines.push(
      `Arca initialized with ${keys.length} key shares and a key threshold of ${t}. Please securely`,
      "distribute the key shares printed above. When Arca is re-sealed, restarted, or stopped,",
      `you must supply at least ${t} of these keys to unseal it before it can start servicing requests.`,
      "",
      `Arca does not store the generated root key. Without at least ${t} keys to reconstruct`,
      "the root key, Arca will remain permanently sealed!",
      "",
    );
  } else {
    lines.push("Arca initialized with an auto-unseal seal; it unseals itself on start.", "");
  }
  io.stdout(lines.join("\n"));
  return EXIT_OK;
}

async function unseal(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io, { bool: ["reset"] });
  expectArgs(ctx, 0, 1);
  const client = ctx.client();
  let body: Record<string, unknown>;
  if (ctx.bool("reset")) {
    if (ctx.args.length > 0) throw new UsageError("-reset takes no key");
    body = { reset: true };
  } else {
    const key = (ctx.args[0] ?? (await io.readSecretLine("Unseal Key (will be hidden): "))).trim();
    if (key === "") throw new UsageError("no unseal key given");
    body = { key };
  }
  const res = await client.request("PUT", "sys/unseal", { body, omitNamespace: true });
  const code = await printSealStatus(ctx, res.body);
  // A sealed server after a partial unseal is progress, not failure: only `status` uses exit 2 for that.
  return code === EXIT_SEALED ? EXIT_OK : code;
}

async function seal(argv: string[], io: CliIo): Promise<number> {
  const ctx = parseCommand(argv, io);
  expectArgs(ctx, 0);
  await ctx.client().request("PUT", "sys/seal", { omitNamespace: true });
  io.stdout("Success! Arca is sealed.\n");
  return EXIT_OK;
}

export function operatorCommand(argv: string[], io: CliIo): Promise<number> {
  return dispatch("operator", { init, unseal, seal, snapshot: snapshotCommand }, argv, io, USAGE);
}
