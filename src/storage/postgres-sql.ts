/** SQL naming shared by the PostgreSQL backend and its migrations. */
import { createHash } from "node:crypto";
import { ArcaError } from "../common/errors.js";

/** Table names are interpolated into SQL, so only plain identifiers are accepted. */
export function isPlainTableName(name: string): boolean {
  // 54, not PostgreSQL's 63: the companion tables add "_schema" and "_changes".
  return /^[A-Za-z_][A-Za-z0-9_]{0,53}$/.test(name);
}

export function quoteTable(name: string, field = "table"): string {
  if (!isPlainTableName(name)) {
    throw new ArcaError("invalid_request", `${field} must be a plain identifier (letters, digits, _; at most 54)`);
  }
  return `"${name}"`;
}

/** A 63-bit advisory lock key derived from the table and a purpose, stable across servers. */
export function advisoryKey(table: string, purpose: string): string {
  return createHash("sha256").update(`arca:${table}:${purpose}`).digest().readBigInt64BE(0).toString();
}
