/**
 * Input handling shared by the transit endpoints: strict base64, the `vault:vN:` envelope, batch_input
 * (bounded, per-item errors) and the batch status code rules (partial_failure_response_code).
 */
import { ArcaError, invalidRequest, isArcaError } from "../../common/errors.js";
import { coerceField } from "../../core/framework/fields.js";
import type { Response } from "../../core/framework/request.js";

/** Upper bound on batch_input: a batch runs inside one request, so it bounds the request's CPU and memory. */
export const MAX_BATCH_ITEMS = 10_000;
/** Items run between yields to the event loop (a few ms of work at most, even for RSA signing). */
const BATCH_YIELD_EVERY = 8;

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;
const B64URL = /^[A-Za-z0-9_-]*$/;

/** Padded standard base64: alphabet characters, at most two "=" at the end, a multiple of four in all. */
export function isStdBase64(s: string): boolean {
  return s.length % 4 === 0 && B64.test(s);
}

/**
 * Standard base64 with padding, as Go's StdEncoding decodes it (newlines ignored). Buffer.from(s, "base64")
 * silently skips garbage, which would turn a corrupted input into a different plaintext instead of a 400.
 */
export function decodeBase64(field: string, value: unknown): Buffer {
  if (typeof value !== "string") throw invalidRequest(`failed to base64-decode ${field}: expected a string`);
  const s = value.includes("\n") || value.includes("\r") ? value.replace(/[\r\n]/g, "") : value;
  const out = Buffer.from(s, "base64");
  // Fast path (every plaintext goes through here): canonical base64 is what re-encoding gives back, and is
  // valid by construction. Otherwise check it: Go also accepts non-zero padding bits, which Buffer ignores too.
  if (out.toString("base64") === s || isStdBase64(s)) return out;
  throw invalidRequest(`failed to base64-decode ${field}`);
}

export function decodeBase64Url(field: string, value: string): Buffer {
  if (!B64URL.test(value) || value.length % 4 === 1) throw invalidRequest(`failed to base64url-decode ${field}`);
  return Buffer.from(value, "base64url");
}

/** Optional base64 field: undefined/"" → undefined. */
export function optionalBase64(field: string, value: unknown): Buffer | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  return decodeBase64(field, value);
}

export interface Envelope {
  version: number;
  body: string;
}

/** Splits `vault:v<N>:<body>`; `what` names the value in errors ("ciphertext", "signature", "hmac"). */
export function parseEnvelope(what: string, value: unknown): Envelope {
  if (typeof value !== "string" || value === "") throw invalidRequest(`missing ${what}`);
  if (!value.startsWith("vault:v")) throw invalidRequest(`invalid ${what}: no prefix`);
  const colon = value.indexOf(":", 7);
  if (colon === -1) throw invalidRequest(`invalid ${what}: wrong number of fields`);
  const digits = value.slice(7, colon);
  if (!/^[0-9]{1,9}$/.test(digits)) throw invalidRequest(`invalid ${what}: version number could not be decoded`);
  return { version: Number(digits), body: value.slice(colon + 1) };
}

export function formatEnvelope(version: number, body: string): string {
  return `vault:v${version}:${body}`;
}

export type BatchItem = Record<string, unknown>;

/** Validates `batch_input`: undefined when absent, else a bounded, non-empty list of objects. */
export function parseBatch(raw: unknown): BatchItem[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  let list: unknown = raw;
  if (typeof raw === "string") {
    try {
      list = JSON.parse(raw);
    } catch {
      throw invalidRequest("failed to parse batch input: not a JSON list");
    }
  }
  if (!Array.isArray(list)) throw invalidRequest("failed to parse batch input: expected a list of objects");
  if (list.length === 0) throw invalidRequest("missing batch input to process");
  if (list.length > MAX_BATCH_ITEMS) {
    throw new ArcaError("payload_too_large", `batch_input has ${list.length} items; at most ${MAX_BATCH_ITEMS} are allowed per request`);
  }
  for (const item of list) {
    if (typeof item !== "object" || item === null || Array.isArray(item)) throw invalidRequest("failed to parse batch input: expected a list of objects");
  }
  return list as BatchItem[];
}

/** A string item field ("" when absent), with the framework's lenient coercion. */
export function itemString(item: BatchItem, name: string): string {
  const v = item[name];
  if (v === undefined || v === null) return "";
  return coerceField(name, { type: "string" }, v) as string;
}

export function itemInt(item: BatchItem, name: string): number | undefined {
  const v = item[name];
  if (v === undefined || v === null || v === "") return undefined;
  return coerceField(name, { type: "int" }, v) as number;
}

export interface BatchOutcome<T> {
  results: Array<T & { error?: string; reference: string }>;
  userError: boolean;
  internalError: boolean;
  success: boolean;
}

/**
 * Runs `fn` over every item. A client error (ArcaError 4xx) becomes that item's `error`; anything else is an
 * internal failure reported without detail, as the core does for whole requests.
 */
export async function runBatch<T extends object>(items: BatchItem[], fn: (item: BatchItem, index: number) => Promise<T>, empty: () => T): Promise<BatchOutcome<T>> {
  const out: BatchOutcome<T> = { results: [], userError: false, internalError: false, success: false };
  for (let i = 0; i < items.length; i++) {
    // Software-key items are synchronous work behind an await, which yields to microtasks only: without
    // this a 10,000-item RSA batch would hold the event loop (every tenant's requests) for seconds.
    if (i > 0 && i % BATCH_YIELD_EVERY === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const reference = itemString(items[i], "reference");
    try {
      out.results.push({ ...(await fn(items[i], i)), reference });
      out.success = true;
    } catch (err) {
      if (isArcaError(err) && err.status < 500) {
        out.userError = true;
        out.results.push({ ...empty(), error: err.message, reference });
      } else {
        out.internalError = true;
        out.results.push({ ...empty(), error: "internal error", reference });
      }
    }
  }
  return out;
}

/**
 * OpenBao's status rule for batches: all fine → 200; otherwise 400 for client errors (500 if only internal),
 * replaced by `partial_failure_response_code` when at least one item succeeded.
 */
export function batchResponse<T extends object>(outcome: BatchOutcome<T>, partialCode: number | undefined): Response {
  const resp: Response = { data: { batch_results: outcome.results } };
  if (!outcome.userError && !outcome.internalError) return resp;
  let code = outcome.userError ? 400 : 500;
  if (partialCode !== undefined && outcome.success) {
    if (partialCode < 1 || partialCode > 599) resp.warnings = [`invalid HTTP response code override from partial_failure_response_code, reverting to ${code}`];
    else code = partialCode;
  }
  resp.status = code;
  return resp;
}
