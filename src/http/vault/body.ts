/**
 * Request bodies: read with a size limit, parsed as JSON (or form-urlencoded, as OpenBao accepts when
 * the body does not start with `{` or `[`). Anything malformed is a 400, anything too big a 413.
 */
import type { IncomingMessage } from "node:http";
import { ArcaError } from "../../core/errors.js";

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) throw new ArcaError("payload_too_large", "request body too large");
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new ArcaError("payload_too_large", "request body too large");
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}

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

export function parseBody(raw: Buffer): Record<string, unknown> {
  if (raw.length === 0) return {};
  const text = raw.toString("utf8").trim();
  if (text === "") return {};
  if (text.startsWith("{") || text.startsWith("[")) {
    if (jsonDepth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
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
  const out: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(text)) out[k] = v;
  return out;
}
