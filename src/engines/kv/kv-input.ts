/**
 * Request validation and the pure data transformations of the KV engine (merge patch, subkeys). Every
 * rejection is an ArcaError with OpenBao's message where OpenBao has one, so a malformed request can never
 * surface as a TypeError (500).
 */
import { ArcaError, invalidRequest } from "../../common/errors.js";
import { setOwn } from "../../core/own-keys.js";

/** Longest secret path accepted, in UTF-8 bytes. */
export const MAX_PATH_BYTES = 1024;
/** Largest secret payload accepted, as serialised JSON. */
export const MAX_DATA_BYTES = 512 * 1024;

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export { setOwn };

/**
 * Validates a secret path (no "", "." or ".." segments, no NUL, at most 1024 bytes). LIST paths may end in
 * one "/"; other operations may not (OpenBao refuses writes to such paths; a read could never match).
 */
export function validatePath(path: string, opts: { list?: boolean } = {}): string {
  let p = path;
  if (opts.list && p.endsWith("/")) p = p.slice(0, -1);
  if (p === "") return p;
  if (Buffer.byteLength(p, "utf8") > MAX_PATH_BYTES) throw invalidRequest(`path is too long: at most ${MAX_PATH_BYTES} bytes`);
  if (p.includes("\0")) throw invalidRequest("path must not contain NUL characters");
  for (const seg of p.split("/")) {
    if (seg === "") throw invalidRequest(opts.list || !path.endsWith("/") ? "path must not contain empty segments" : "path must not end in \"/\"");
    if (seg === "." || seg === "..") throw invalidRequest(`path must not contain "${seg}" segments`);
  }
  return p;
}

/** The storage prefix to list for a (validated) LIST path: "" for the root, else "<path>/". */
export function listPrefix(path: string): string {
  const p = validatePath(path, { list: true });
  return p === "" ? "" : `${p}/`;
}

/**
 * Secret data: must be a JSON object no larger than 512 KiB serialised. Returns the serialisation so that
 * it is computed once and stored as is.
 */
export function serialiseData(raw: unknown): Buffer {
  if (!isPlainObject(raw)) throw invalidRequest(`error converting input for field "data": expected a JSON object`);
  const buf = Buffer.from(JSON.stringify(raw), "utf8");
  if (buf.length > MAX_DATA_BYTES) {
    throw new ArcaError("payload_too_large", `secret data is too large: ${buf.length} bytes, at most ${MAX_DATA_BYTES}`);
  }
  return buf;
}

/** OpenBao's TypeCommaIntSlice: [1, "2"], "1,2" or a single number. */
export function parseVersions(raw: unknown): number[] {
  const fail = (): ArcaError => invalidRequest(`error converting input for field "versions": expected a list of integers`);
  if (raw === undefined || raw === null) return [];
  let items: unknown[];
  if (Array.isArray(raw)) items = raw;
  else if (typeof raw === "string") items = raw.trim() === "" ? [] : raw.split(",");
  else items = [raw];
  return items.map((item) => {
    if (typeof item === "number") {
      if (!Number.isSafeInteger(item)) throw fail();
      return item;
    }
    if (typeof item === "string" && /^\s*[-+]?\d+\s*$/.test(item)) {
      const n = Number(item.trim());
      if (!Number.isSafeInteger(n)) throw fail();
      return n;
    }
    throw fail();
  });
}

/**
 * The `cas` option decoded as Go's mapstructure.WeakDecode into an int does: numbers (truncated), numeric
 * strings ("" = 0), booleans (1/0) and null (0).
 */
export function parseCas(raw: unknown): number {
  const fail = (): ArcaError => invalidRequest("error parsing check-and-set parameter");
  if (raw === null) return 0;
  if (typeof raw === "boolean") return raw ? 1 : 0;
  if (typeof raw === "number") {
    if (!Number.isFinite(raw)) throw fail();
    return Math.trunc(raw);
  }
  if (typeof raw === "string") {
    const s = raw.trim();
    if (s === "") return 0;
    if (!/^[-+]?\d+$/.test(s)) throw fail();
    return Number(s);
  }
  throw fail();
}

const CUSTOM_METADATA_PREFIX = "custom_metadata validation failed";
const MAX_CUSTOM_METADATA_KEYS = 64;
const MAX_CUSTOM_METADATA_KEY_BYTES = 128;
const MAX_CUSTOM_METADATA_VALUE_BYTES = 512;

/**
 * custom_metadata as a string map (values weakly converted). With `keepNulls` (PATCH), null values are
 * kept: in a merge patch they mean "remove this key".
 */
export function parseCustomMetadata(raw: unknown, keepNulls: boolean): Record<string, string | null> {
  let obj = raw;
  if (typeof raw === "string") {
    try {
      obj = raw === "" ? {} : JSON.parse(raw);
    } catch {
      obj = undefined;
    }
  }
  if (!isPlainObject(obj)) throw invalidRequest(`${CUSTOM_METADATA_PREFIX}: expected a map of strings`);
  const out: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(obj)) {
    let s: string | null;
    if (typeof v === "string") s = v;
    else if (typeof v === "number") s = String(v);
    else if (typeof v === "boolean") s = v ? "1" : "0"; // what Go's weak decoding produces
    else if (v === null) s = keepNulls ? null : "";
    else throw invalidRequest(`${CUSTOM_METADATA_PREFIX}: value for key ${goQuote(k)} must be a string`);
    setOwn(out, k, s);
  }
  return out;
}

// Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space only.
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]*$/u;

function goQuote(s: string): string {
  return JSON.stringify(s);
}

/** Vault's limits (≤64 keys, keys 1..128 bytes, values 1..512 bytes, printable), with OpenBao's messages. */
export function validateCustomMetadata(cm: Record<string, string>): void {
  const keys = Object.keys(cm);
  const errs: string[] = [];
  if (keys.length > MAX_CUSTOM_METADATA_KEYS) {
    errs.push(`${CUSTOM_METADATA_PREFIX}: payload must contain at most ${MAX_CUSTOM_METADATA_KEYS} keys, provided ${keys.length}`);
  } else {
    for (const key of keys) {
      const value = cm[key];
      const keyLen = Buffer.byteLength(key, "utf8");
      if (keyLen === 0 || keyLen > MAX_CUSTOM_METADATA_KEY_BYTES) {
        errs.push(`${CUSTOM_METADATA_PREFIX}: length of key ${goQuote(key)} is ${keyLen} but must be 0 < len(key) <= ${MAX_CUSTOM_METADATA_KEY_BYTES}`);
      }
      const valueLen = Buffer.byteLength(value, "utf8");
      if (valueLen === 0 || valueLen > MAX_CUSTOM_METADATA_VALUE_BYTES) {
        errs.push(
          `${CUSTOM_METADATA_PREFIX}: length of value for key ${goQuote(key)} is ${valueLen} but must be 0 < len(value) <= ${MAX_CUSTOM_METADATA_VALUE_BYTES}`,
        );
      }
      if (!PRINTABLE.test(key)) errs.push(`${CUSTOM_METADATA_PREFIX}: key ${goQuote(key)} (${key}) contains unprintable characters`);
      if (!PRINTABLE.test(value)) errs.push(`${CUSTOM_METADATA_PREFIX}: value for key ${goQuote(key)} contains unprintable characters`);
    }
  }
  if (errs.length === 0) return;
  // OpenBao returns go-multierror's rendering verbatim; clients that show errors[0] show this text.
  const n = errs.length;
  throw invalidRequest(`${n} ${n === 1 ? "error" : "errors"} occurred:\n${errs.map((e) => `\t* ${e}`).join("\n")}\n\n`);
}

/** JSON Merge Patch (RFC 7386): objects merge recursively, null removes a key, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch;
  const out: Record<string, unknown> = {};
  if (isPlainObject(target)) for (const [k, v] of Object.entries(target)) setOwn(out, k, v);
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else setOwn(out, k, mergePatch(Object.hasOwn(out, k) ? out[k] : undefined, v));
  }
  return out;
}

/**
 * The shape of a secret without its values: leaves (non-objects and empty objects) become null, and so
 * does every object deeper than `maxDepth` (0 = no limit). Mirrors OpenBao's removeValues.
 */
export function subkeys(data: Record<string, unknown>, maxDepth: number): Record<string, unknown> {
  const walk = (obj: Record<string, unknown>, depth: number): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) {
      const next = depth + 1;
      const descend = isPlainObject(v) && Object.keys(v).length > 0 && (maxDepth === 0 || next <= maxDepth);
      setOwn(out, k, descend ? walk(v, next) : null);
    }
    return out;
  };
  return walk(data, 1);
}
