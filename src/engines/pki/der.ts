/**
 * A small DER writer and reader. @peculiar/x509's generators build every structure through asn1js
 * objects (~2 ms per leaf certificate, measured), which caps issuance near 450/s; the issuance hot path
 * therefore encodes TBSCertificate / TBSCertList / OCSP ResponseData directly with these functions.
 * Parsing of untrusted input (CSRs, certificates, PEM bundles) still goes through @peculiar/x509 where the
 * structure is rich; this reader is for the few fixed structures we produce or must slice (raw TBS bytes).
 */
import { ArcaError } from "../../common/errors.js";

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

function lengthBytes(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x81, n]);
  if (n < 0x10000) return Buffer.from([0x82, n >> 8, n & 0xff]);
  if (n < 0x1000000) return Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  throw new RangeError("DER value too long");
}

export function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = content.length === 1 ? content[0] : Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), lengthBytes(body.length), body]);
}

export const seq = (...items: Buffer[]): Buffer => tlv(TAG.SEQUENCE, ...items);
export const set = (...items: Buffer[]): Buffer => tlv(TAG.SET, ...items);
export const octets = (b: Buffer): Buffer => tlv(TAG.OCTET_STRING, b);
export const nullValue = (): Buffer => Buffer.from([0x05, 0x00]);
export const bool = (v: boolean): Buffer => Buffer.from([0x01, 0x01, v ? 0xff : 0x00]);
export const bitString = (b: Buffer, unused = 0): Buffer => tlv(TAG.BIT_STRING, Buffer.from([unused]), b);
export const utf8 = (s: string): Buffer => tlv(TAG.UTF8_STRING, Buffer.from(s, "utf8"));
export const printable = (s: string): Buffer => tlv(TAG.PRINTABLE_STRING, Buffer.from(s, "latin1"));
export const ia5 = (s: string): Buffer => tlv(TAG.IA5_STRING, Buffer.from(s, "latin1"));
/** Context-specific, constructed: [n] EXPLICIT. */
export const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 | n, inner);
/** Context-specific, primitive: [n] IMPLICIT over primitive content. */
export const implicit = (n: number, content: Buffer): Buffer => tlv(0x80 | n, content);

/** A non-negative INTEGER from unsigned big-endian bytes (minimal encoding). */
export function uintBytes(unsigned: Buffer): Buffer {
  let i = 0;
  while (i < unsigned.length - 1 && unsigned[i] === 0) i++;
  let v = unsigned.subarray(i);
  if (v.length === 0) v = Buffer.from([0]);
  if (v[0] & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return tlv(TAG.INTEGER, v);
}

export function int(n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError("only non-negative safe integers");
  const bytes: number[] = [];
  let v = n;
  do {
    bytes.unshift(v % 256);
    v = Math.floor(v / 256);
  } while (v > 0);
  return uintBytes(Buffer.from(bytes));
}

export function enumerated(n: number): Buffer {
  return tlv(TAG.ENUMERATED, Buffer.from([n]));
}

const oidCache = new Map<string, Buffer>();

export function oid(dotted: string): Buffer {
  const hit = oidCache.get(dotted);
  if (hit) return hit;
  const parts = dotted.split(".").map(Number);
  const out: number[] = [parts[0] * 40 + parts[1]];
  for (const p of parts.slice(2)) {
    const stack: number[] = [p & 0x7f];
    let v = Math.floor(p / 128);
    while (v > 0) {
      stack.unshift((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    out.push(...stack);
  }
  const enc = tlv(TAG.OID, Buffer.from(out));
  oidCache.set(dotted, enc);
  return enc;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, "0");

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; always UTC, whole seconds. */
export function time(d: Date): Buffer {
  const y = d.getUTCFullYear();
  const rest = `${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`;
  if (y >= 1950 && y < 2050) return tlv(TAG.UTC_TIME, Buffer.from(`${pad(y % 100)}${rest}`, "latin1"));
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(`${pad(y, 4)}${rest}`, "latin1"));
}

export function generalizedTime(d: Date): Buffer {
  const s = `${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`;
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(s, "latin1"));
}

// ---------------------------------------------------------------------------------------------------
// Reader

export interface Node {
  tag: number;
  /** Offset of the tag byte in the buffer. */
  start: number;
  /** Offset of the content. */
  contentStart: number;
  /** Offset just past the content. */
  end: number;
  buf: Buffer;
}

/**
 * Malformed DER. Everything this reader parses comes from a caller (CSRs, certificates, bundles, OCSP
 * requests), and parts are read lazily (an extension when a role looks at it), so a parse failure is a
 * 400 wherever it surfaces, never an internal error.
 */
export class DerError extends ArcaError {
  constructor(message: string) {
    super("invalid_request", message);
    this.name = "DerError";
  }
}

export function read(buf: Buffer, offset = 0): Node {
  if (offset + 2 > buf.length) throw new DerError("truncated DER");
  const tag = buf[offset];
  if ((tag & 0x1f) === 0x1f) throw new DerError("high tag numbers are not supported");
  let len = buf[offset + 1];
  let p = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new DerError("unsupported DER length");
    if (p + n > buf.length) throw new DerError("truncated DER");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i];
    p += n;
  }
  if (p + len > buf.length) throw new DerError("truncated DER");
  return { tag, start: offset, contentStart: p, end: p + len, buf };
}

/** Parses a whole buffer as exactly one element. */
export function readAll(buf: Buffer): Node {
  const n = read(buf, 0);
  if (n.end !== buf.length) throw new DerError("trailing data after DER value");
  return n;
}

export function children(n: Node): Node[] {
  const out: Node[] = [];
  for (let p = n.contentStart; p < n.end; ) {
    const c = read(n.buf, p);
    if (c.end > n.end) throw new DerError("DER child overruns its parent");
    out.push(c);
    p = c.end;
  }
  return out;
}

export const raw = (n: Node): Buffer => n.buf.subarray(n.start, n.end);
export const content = (n: Node): Buffer => n.buf.subarray(n.contentStart, n.end);

export function expect(n: Node | undefined, tag: number, what: string): Node {
  if (!n || n.tag !== tag) throw new DerError(`malformed ${what}`);
  return n;
}

export function readOid(n: Node): string {
  const b = content(expect(n, TAG.OID, "OID"));
  if (b.length === 0) throw new DerError("empty OID");
  const parts: number[] = [];
  let v = 0;
  for (let i = 0; i < b.length; i++) {
    v = v * 128 + (b[i] & 0x7f);
    if (!(b[i] & 0x80)) {
      if (parts.length === 0) {
        const first = v < 80 ? Math.floor(v / 40) : 2;
        parts.push(first, v - first * 40);
      } else parts.push(v);
      v = 0;
    }
  }
  return parts.join(".");
}

/** Unsigned big-endian bytes of a (non-negative) INTEGER, without the sign-padding zero. */
export function readUint(n: Node): Buffer {
  const b = content(expect(n, TAG.INTEGER, "INTEGER"));
  return b.length > 1 && b[0] === 0 ? b.subarray(1) : b;
}
