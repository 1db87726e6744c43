/**
 * Request bodies: read with a size limit, parsed as JSON (or form-urlencoded, as OpenBao accepts when
 * the body does not start with `{` or `[`). Anything malformed is a 400, anything too big a 413.
 */
import type { IncomingMessage } from "node:http";
import { ArcaError } from "../../common/errors.js";

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(new ArcaError("payload_too_large", "request body too large"));
  // With a declared length within the limit (Node's parser holds the body to that length) the body is
  // read with plain stream events: an async iterator over the request cost a few percent of a small
  // request's CPU. Without one (chunked), the limit is enforced while iterating.
  if (declared !== undefined && Number(declared) <= limit) return readDeclared(req, limit);
  return readStreamed(req, limit);
}

async function readStreamed(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new ArcaError("payload_too_large", "request body too large");
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}

function readDeclared(req: IncomingMessage, limit: number): Promise<Buffer> {
  // Nothing left to read (an iterator would end at once, with no chunk).
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (): void => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      // Not expected (the parser enforces the declared length); refused all the same.
      if (size > limit) {
        done();
        reject(new ArcaError("payload_too_large", "request body too large"));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      done();
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    };
    const onError = (err: Error): void => {
      done();
      reject(err);
    };
    // Closed with neither an end nor an error: the body was cut short.
    const onClose = (): void => {
      done();
      reject(Object.assign(new Error("Premature close"), { code: "ERR_STREAM_PREMATURE_CLOSE" }));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
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
