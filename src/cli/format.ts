/**
 * Output formatting in the shape the bao/vault CLI prints, so scripts and eyes used to it keep working:
 * aligned columns with a dashed underline, Go `%v` rendering of values, `n/a` for empty cells.
 */
import { isRecord, type Secret } from "./client.js";

export type OutputFormat = "table" | "json";

export const OUTPUT_FORMATS: readonly OutputFormat[] = ["table", "json"];

/** Go's `fmt.Sprintf("%v", v)` for JSON-decoded values: `[a b]`, `map[k:v]`, `<nil>`. */
export function formatValue(v: unknown): string {
  if (v === null || v === undefined) return "<nil>";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  if (Array.isArray(v)) return `[${v.map(formatValue).join(" ")}]`;
  if (isRecord(v)) {
    return `map[${Object.keys(v)
      .sort()
      .map((k) => `${k}:${formatValue(v[k])}`)
      .join(" ")}]`;
  }
  return JSON.stringify(v) ?? "";
}

/** Go's `%q` on a string slice, which the CLI uses for policy lists: `["default" "root"]`. */
export function formatQuotedList(list: readonly string[] | null | undefined): string {
  return `[${(list ?? []).map((s) => JSON.stringify(s)).join(" ")}]`;
}

/** Seconds as Go's time.Duration string with the zero tails vault trims: 3600 → "1h", 90 → "1m30s". */
export function humanDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return String(seconds);
  let rest = Math.trunc(Math.abs(seconds));
  if (rest === 0) return "0s";
  const h = Math.floor(rest / 3600);
  rest -= h * 3600;
  const m = Math.floor(rest / 60);
  const s = rest - m * 60;
  let out = h > 0 ? `${h}h${m}m${s}s` : m > 0 ? `${m}m${s}s` : `${s}s`;
  if (out.endsWith("m0s")) out = out.slice(0, -2);
  if (out.endsWith("h0m")) out = out.slice(0, -2);
  return (seconds < 0 ? "-" : "") + out;
}

/**
 * Makes text safe to show on a terminal: C0 controls (but newline and tab), DEL and C1 controls are shown
 * as `\xNN` / `\uNNNN`. Secret names and values come from the server and other users; printed raw, an
 * ESC or CSI sequence could retitle the window, move the cursor or hide and rewrite what is on screen.
 */
export function escapeTerminalControls(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => {
    const code = c.charCodeAt(0);
    if (code === 0x0d) return "\\r";
    return code <= 0x7f ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

const GLUE = "    ";

/**
 * Aligned columns; the last column is not padded. With `header`, a dashed underline follows it, one dash
 * per header character. Empty cells print as `n/a`.
 */
export function columns(rows: readonly (readonly string[])[], header?: readonly string[]): string {
  const all: string[][] = [];
  if (header) {
    all.push([...header]);
    all.push(header.map((h) => "-".repeat(h.length)));
  }
  for (const r of rows) all.push(r.map((c) => (c === "" ? "n/a" : c)));
  if (all.length === 0) return "";
  const width: number[] = [];
  for (const r of all) r.forEach((c, i) => (width[i] = Math.max(width[i] ?? 0, [...c].length)));
  return all
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c + " ".repeat(width[i] - [...c].length) + GLUE)).join(""))
    .join("\n")
    .concat("\n");
}

/** The "Key  Value" table. */
export function keyValueTable(rows: readonly (readonly [string, string])[]): string {
  return columns(rows, ["Key", "Value"]);
}

/** vault shows TTL-like fields (`ttl`, `*_ttl`, `period`, `*_period`, `*_timeout`) as durations. */
export function looksLikeDuration(key: string): boolean {
  return key === "period" || key.endsWith("_period") || key === "ttl" || key.endsWith("_ttl") || key.endsWith("_timeout");
}

function cell(key: string, value: unknown): string {
  if (looksLikeDuration(key)) {
    if (typeof value === "number") return humanDuration(value);
    if (typeof value === "string" && /^-?\d+$/.test(value)) return humanDuration(Number(value));
  }
  return formatValue(value);
}

export function dataRows(data: Record<string, unknown> | null | undefined): [string, string][] {
  if (!data) return [];
  return Object.keys(data)
    .sort()
    .map((k) => [k, cell(k, data[k])]);
}

/** Rows for an `auth` block, as `vault login` and `token create` show them. */
export function authRows(auth: NonNullable<Secret["auth"]>): [string, string][] {
  const rows: [string, string][] = [
    ["token", auth.client_token ?? ""],
    ["token_accessor", auth.accessor ?? ""],
    ["token_duration", auth.lease_duration ? humanDuration(auth.lease_duration) : "∞"],
    ["token_renewable", String(auth.renewable ?? false)],
    ["token_policies", formatQuotedList(auth.token_policies ?? auth.policies)],
    ["identity_policies", formatQuotedList(auth.identity_policies)],
    ["policies", formatQuotedList(auth.policies)],
  ];
  for (const k of Object.keys(auth.metadata ?? {}).sort()) rows.push([`token_meta_${k}`, auth.metadata?.[k] ?? ""]);
  return rows;
}

/** vault's OutputSecret in table form: lease header, auth block, wrap info, then the data keys. */
export function secretTable(secret: Secret): string {
  const rows: [string, string][] = [];
  const lease = secret.lease_duration ?? 0;
  if (lease > 0) {
    if (secret.lease_id) {
      rows.push(["lease_id", secret.lease_id], ["lease_duration", humanDuration(lease)], ["lease_renewable", String(secret.renewable ?? false)]);
    } else {
      rows.push(["refresh_interval", humanDuration(lease)]);
    }
  }
  if (secret.auth) rows.push(...authRows(secret.auth));
  if (secret.wrap_info) {
    const w = secret.wrap_info;
    rows.push(
      ["wrapping_token:", formatValue(w.token)],
      ["wrapping_accessor:", formatValue(w.accessor)],
      ["wrapping_token_ttl:", typeof w.ttl === "number" ? humanDuration(w.ttl) : formatValue(w.ttl)],
      ["wrapping_token_creation_time:", formatValue(w.creation_time)],
      ["wrapping_token_creation_path:", formatValue(w.creation_path)],
    );
  }
  rows.push(...dataRows(secret.data));
  return (rows.length > 0 ? keyValueTable(rows) : "") + warningsText(secret.warnings);
}

export function warningsText(warnings: readonly string[] | null | undefined): string {
  if (!warnings || warnings.length === 0) return "";
  return `\nWARNING! The following warnings were returned from Arca:\n\n${warnings.map((w) => `  * ${w}\n`).join("")}`;
}

/** `Keys` then a dashed line then one key per line, as `vault list` prints. */
export function keysList(keys: readonly string[]): string {
  return `Keys\n----\n${keys.map((k) => `${k}\n`).join("")}`;
}

export function prettyJson(value: unknown): string {
  return `${JSON.stringify(value ?? null, null, 2)}\n`;
}

/** `== Title ==` as vault's padEqualSigns: `=` runs of (width - title - 2) / 2, at least two each side. */
export function banner(title: string, width: number): string {
  const side = Math.floor(Math.max(width - (title.length + 2), 4) / 2);
  return `${"=".repeat(side)} ${title} ${"=".repeat(side)}\n`;
}

/** The banner above a key/value table, sized from its longest key (vault's getHeaderForMap). */
export function mapBanner(title: string, data: Record<string, unknown>): string {
  const maxKey = Math.max(0, ...Object.keys(data).map((k) => k.length));
  return banner(title, maxKey + 4 + 5);
}

/** `== Secret Path ==` then the path and a blank line. */
export function pathBanner(title: string, path: string): string {
  return `${banner(title, path.length)}${path}\n\n`;
}

/**
 * `-field`: the value alone so shells can capture it. Strings print raw, anything else as `%v`; a newline
 * only on a terminal (as vault does), so `$(arca kv get -field=x …)` gets the exact bytes.
 */
export function rawField(value: unknown, stdoutIsTty: boolean): string {
  const text = typeof value === "string" ? value : formatValue(value);
  return stdoutIsTty ? `${text}\n` : text;
}
