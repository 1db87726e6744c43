/** Printing a response the way the user asked: `-field` raw, `-format=json` the envelope, else a table. */
import type { Secret } from "./client.js";
import { EXIT_API, EXIT_OK, type CommandContext } from "./context.js";
import { humanDuration, prettyJson, rawField, secretTable } from "./format.js";

/** A named value of a response, looked up as vault's -field does: data first, then auth and lease fields. */
export function secretField(secret: Secret, field: string): { found: boolean; value?: unknown } {
  const data = secret.data ?? {};
  if (Object.hasOwn(data, field)) return { found: true, value: data[field] };
  const auth = secret.auth;
  const extra: Record<string, unknown> = {};
  if (auth) {
    Object.assign(extra, {
      token: auth.client_token,
      token_accessor: auth.accessor,
      token_duration: auth.lease_duration ? humanDuration(auth.lease_duration) : "∞",
      token_renewable: auth.renewable,
      token_policies: auth.token_policies ?? auth.policies,
      identity_policies: auth.identity_policies ?? [],
      policies: auth.policies,
    });
    for (const [k, v] of Object.entries(auth.metadata ?? {})) extra[`token_meta_${k}`] = v;
  }
  if (secret.lease_id) Object.assign(extra, { lease_id: secret.lease_id, lease_duration: secret.lease_duration, lease_renewable: secret.renewable });
  else if (secret.lease_duration) extra.refresh_interval = humanDuration(secret.lease_duration);
  if (secret.wrap_info) {
    const w = secret.wrap_info;
    Object.assign(extra, { wrapping_token: w.token, wrapping_accessor: w.accessor, wrapping_token_ttl: w.ttl, wrapping_token_creation_time: w.creation_time, wrapping_token_creation_path: w.creation_path });
  }
  if (Object.hasOwn(extra, field) && extra[field] !== undefined) return { found: true, value: extra[field] };
  return { found: false };
}

/** Prints one field raw; a missing field is an error on stderr. */
export function printField(ctx: CommandContext, value: { found: boolean; value?: unknown }, field: string): number {
  if (!value.found) {
    ctx.io.stderr(`Error: field "${field}" not present in secret\n`);
    return EXIT_API;
  }
  ctx.io.stdout(rawField(value.value, ctx.io.stdoutIsTty));
  return EXIT_OK;
}

/** `-field` if given, else the envelope as JSON or vault's secret table. */
export function outputSecret(ctx: CommandContext, secret: Secret, table: () => string = () => secretTable(secret)): number {
  const field = ctx.flag("field");
  if (field !== undefined) return printField(ctx, secretField(secret, field), field);
  ctx.io.stdout(ctx.format === "json" ? prettyJson(secret) : table());
  return EXIT_OK;
}
