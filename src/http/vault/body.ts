/**
 * Request bodies as OpenBao parses them: JSON (or form-urlencoded, when the body does not start with `{`
 * or `[`). Anything malformed is a 400. (Reading within the size limit is shared: ../read-body.ts.)
 */
import { ArcaError } from "../../common/errors.js";

/**
 * OpenBao's default `max_json_depth` (sdk/helper/jsonutil CustomMaxJSONDepth). V8 parses deeper input
 * fine, but everything downstream that walks it (JSON.stringify in the KV engine, audit, the response
 * encoder) recurses and would die with a RangeError, i.e. a 500, after the request was half-handled.
 */
export const MAX_JSON_DEPTH = 500;

/** Nesting depth of a JSON text, by a linear scan that skips string contents (no recursion, no parse). */
export function jsonDepth(text: string, stopAbove = Infinity): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) {
        max = depth;
        if (max > stopAbove) return max;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/** True when `text` holds at most `limit` `{` and `[` characters in all. */
function openersAtMost(text: string, limit: number): boolean {
  let n = 0;
  for (let i = text.indexOf("{"); i !== -1; i = text.indexOf("{", i + 1)) if (++n > limit) return false;
  for (let i = text.indexOf("["); i !== -1; i = text.indexOf("[", i + 1)) if (++n > limit) return false;
  return true;
}

export function parseBody(raw: Buffer): Record<string, unknown> {
  if (raw.length === 0) return {};
  const text = raw.toString("utf8").trim();
  if (text === "") return {};
  if (text.startsWith("{") || text.startsWith("[")) {
    // The depth is at most the number of `{` and `[` (strings included): when that is within the limit,
    // which a fast substring count tells, the character-by-character scan is not needed.
    if (!openersAtMost(text, MAX_JSON_DEPTH) && jsonDepth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
      throw new ArcaError("invalid_request", "failed to parse JSON input: JSON input exceeds allowed nesting depth");
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new ArcaError("invalid_request", "failed to parse JSON input: invalid JSON");
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new ArcaError("invalid_request", "failed to parse JSON input: the body must be a JSON object");
    }
    return value as Record<string, unknown>;
  }
  // fromEntries (not assignment) so that a "__proto__" field stays an ordinary key; the last value wins.
  return Object.fromEntries(new URLSearchParams(text));
}
