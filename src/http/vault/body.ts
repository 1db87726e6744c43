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

export function parseBody(raw: Buffer): Record<string, unknown> {
  if (raw.length === 0) return {};
  const text = raw.toString("utf8").trim();
  if (text === "") return {};
  if (text.startsWith("{") || text.startsWith("[")) {
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
