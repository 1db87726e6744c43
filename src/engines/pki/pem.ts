/**
 * PEM: writing, and the project's one PEM reader.
 *
 * The reader is a hand-written scanner, linear in the input: the regex it replaces
 * (`-----BEGIN (L)-----([\s\S]*?)-----END \1-----`) rescanned the rest of the text from every BEGIN
 * without a matching END, so 510 KB of `-----BEGIN A-----` froze the server for 6.6 s. Here the END
 * markers are collected in one pass and each BEGIN takes the nearest following END of its label through
 * a per-label cursor that only moves forward. Inputs are also bounded: a certificate or CSR field is
 * small, a bundle larger but still limited (callers pass the bound that fits the field).
 *
 * Semantics are the old regex's: blocks in order, a BEGIN without a matching END is skipped, text
 * between blocks is ignored, whitespace inside a body is dropped, the body must be base64.
 */
import { invalidRequest } from "../../common/errors.js";

export interface PemBlock {
  label: string;
  der: Buffer;
}

/** A certificate, CSR or key field: real ones are a few KiB (an RSA-16384 certificate is under 5 KiB). */
export const MAX_PEM_FIELD_BYTES = 64 * 1024;
/** A bundle (a chain, a CA with its key, a CRL): a few hundred certificates' worth. */
export const MAX_PEM_BUNDLE_BYTES = 1024 * 1024;
/** No real label (CERTIFICATE, EC PRIVATE KEY, …) is anywhere near this long. */
const MAX_LABEL = 64;

const BEGIN = "-----BEGIN ";
const END = "-----END ";
const DASHES = "-----";

export function pem(derBytes: Buffer, label: string): string {
  const b64 = derBytes.toString("base64");
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----`;
}

/**
 * The PEM blocks in `text`. `what` names the field in errors; `maxBytes` bounds the input (a field by
 * default; pass MAX_PEM_BUNDLE_BYTES for bundles).
 */
export function pemBlocks(text: string, what = "PEM input", maxBytes = MAX_PEM_FIELD_BYTES): PemBlock[] {
  if (text.length > maxBytes) throw invalidRequest(`${what} is ${text.length} bytes; the limit is ${maxBytes}`);
  const ends = endMarkers(text);
  const cursor = new Map<string, number>();
  const out: PemBlock[] = [];
  let from = 0;
  for (;;) {
    const begin = text.indexOf(BEGIN, from);
    if (begin === -1) break;
    const marker = labelAt(text, begin + BEGIN.length);
    if (!marker) {
      from = begin + 1;
      continue;
    }
    const bodyStart = marker.end;
    const positions = ends.get(marker.label);
    let k = cursor.get(marker.label) ?? 0;
    while (positions && k < positions.length && positions[k].start < bodyStart) k++;
    cursor.set(marker.label, k);
    const end = positions?.[k];
    if (!end) {
      from = begin + 1;
      continue;
    }
    out.push({ label: marker.label, der: decodeBody(text.slice(bodyStart, end.start), marker.label) });
    from = end.end;
  }
  return out;
}

interface Marker {
  start: number;
  end: number;
}

/** Every `-----END <label>-----`, by label, in order. */
function endMarkers(text: string): Map<string, Marker[]> {
  const out = new Map<string, Marker[]>();
  let from = 0;
  for (;;) {
    const at = text.indexOf(END, from);
    if (at === -1) return out;
    const marker = labelAt(text, at + END.length);
    if (marker) {
      let list = out.get(marker.label);
      if (!list) out.set(marker.label, (list = []));
      list.push({ start: at, end: marker.end });
    }
    from = at + 1;
  }
}

/** A label of [A-Z0-9 ] starting at `i` and closed by `-----`; `end` is the index after the dashes. */
function labelAt(text: string, i: number): { label: string; end: number } | undefined {
  let j = i;
  while (j < text.length && j - i <= MAX_LABEL && isLabelChar(text.charCodeAt(j))) j++;
  if (j === i || j - i > MAX_LABEL || !text.startsWith(DASHES, j)) return undefined;
  return { label: text.slice(i, j), end: j + DASHES.length };
}

function isLabelChar(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x20;
}

function decodeBody(raw: string, label: string): Buffer {
  const body = raw.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw invalidRequest(`malformed PEM block "${label}"`);
  return Buffer.from(body, "base64");
}
