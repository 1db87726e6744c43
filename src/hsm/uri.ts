// RFC 7512 PKCS#11 URIs: `pkcs11:token=T;object=O;id=%01%02;type=private?module-path=/x.so&pin-source=file:/p`.
//
// Parsing is strict where the RFC is (attribute grammar, duplicates, pin-value with pin-source, `type` values,
// numeric slot-id, library-version) and keeps vendor-specific attributes it does not know (RFC 7512 §2.3)
// in `vendor`/`vendorQuery` so they survive a round trip; the key resolver treats a URI with unknown
// path attributes as matching nothing, like other consumers do. Formatting never emits pin-value unless
// the caller asks for it, so a formatted URI is safe to log by default.
import { KeyReferenceError } from "./key-errors.js";

export type Pkcs11ObjectType = "public" | "private" | "cert" | "secret-key" | "data";

export interface LibraryVersion {
  major: number;
  minor: number;
}

export interface Pkcs11Uri {
  // path attributes: token
  token?: string;
  manufacturer?: string;
  serial?: string;
  model?: string;
  // library
  libraryManufacturer?: string;
  libraryDescription?: string;
  libraryVersion?: LibraryVersion;
  // slot
  slotManufacturer?: string;
  slotDescription?: string;
  slotId?: number;
  // object
  object?: string;
  /** CKA_ID: binary. */
  id?: Buffer;
  type?: Pkcs11ObjectType;
  // query attributes
  pinValue?: string;
  pinSource?: string;
  moduleName?: string;
  modulePath?: string;
  /** Vendor-specific path attributes (kept for round trips; a resolver should refuse them). */
  vendor?: Record<string, string>;
  /** Vendor-specific query attributes. */
  vendorQuery?: Record<string, string>;
}

/** A malformed PKCS#11 URI (the seam's KeyReferenceError: its message never echoes values). */
export class Pkcs11UriError extends KeyReferenceError {}

type StringKey =
  | "token"
  | "manufacturer"
  | "serial"
  | "model"
  | "libraryManufacturer"
  | "libraryDescription"
  | "slotManufacturer"
  | "slotDescription"
  | "object";

// Order used by format(): token first, then object identity, then slot/library (a stable canonical form).
const PATH_STRINGS: ReadonlyArray<readonly [string, StringKey]> = [
  ["token", "token"],
  ["manufacturer", "manufacturer"],
  ["serial", "serial"],
  ["model", "model"],
  ["object", "object"],
  ["library-manufacturer", "libraryManufacturer"],
  ["library-description", "libraryDescription"],
  ["slot-manufacturer", "slotManufacturer"],
  ["slot-description", "slotDescription"],
];
const PATH_STRING_MAP = new Map<string, StringKey>(PATH_STRINGS);
const OBJECT_TYPES: ReadonlySet<string> = new Set(["public", "private", "cert", "secret-key", "data"]);

const UNRESERVED = "A-Za-z0-9\\-._~";
const RES_AVAIL = ":\\[\\]@!$'()*+,=";
// RFC 7512 §2.3: path values may also hold "&"; query values may also hold "/", "?", "|" (and "&" must be encoded).
const PATH_VALUE = new RegExp(`^(?:[${UNRESERVED}${RES_AVAIL}&]|%[0-9A-Fa-f]{2})*$`);
const QUERY_VALUE = new RegExp(`^(?:[${UNRESERVED}${RES_AVAIL}/?|]|%[0-9A-Fa-f]{2})*$`);
const ATTR_NAME = /^[A-Za-z0-9_-]+$/;
const PATH_SAFE = new RegExp(`[${UNRESERVED}${RES_AVAIL}&]`);
const QUERY_SAFE = new RegExp(`[${UNRESERVED}${RES_AVAIL}/?|]`);

function fail(message: string): never {
  // Messages quote attribute names only, never values: a malformed URI may still carry a PIN.
  throw new Pkcs11UriError(message);
}

function decodeBytes(raw: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (raw[i] === "%") {
      out.push(parseInt(raw.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      out.push(c);
    }
  }
  return Buffer.from(out);
}

function decodeText(raw: string, attr: string): string {
  const bytes = decodeBytes(raw);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    fail(`PKCS#11 URI attribute "${attr}" is not valid UTF-8`);
  }
}

function encode(value: string | Buffer, safe: RegExp): string {
  const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : value;
  let out = "";
  for (const b of bytes) {
    const ch = String.fromCharCode(b);
    out += b < 0x80 && safe.test(ch) ? ch : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** Every byte as %XX: the RFC's own examples encode `id` this way, and it never mis-parses. */
function encodeAll(bytes: Buffer): string {
  let out = "";
  for (const b of bytes) out += `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  return out;
}

function splitAttr(part: string, where: string): [string, string] {
  const eq = part.indexOf("=");
  if (eq <= 0) fail(`PKCS#11 URI ${where} attribute without "name=": ${JSON.stringify(part.slice(0, Math.max(eq, 0)) || "(empty)")}`);
  const name = part.slice(0, eq);
  if (!ATTR_NAME.test(name)) fail(`PKCS#11 URI ${where} attribute name is malformed`);
  return [name, part.slice(eq + 1)];
}

/** Parses an RFC 7512 URI. Throws Pkcs11UriError on anything malformed; the message never echoes values. */
export function parsePkcs11Uri(input: string): Pkcs11Uri {
  return parseWithScheme(input, "pkcs11");
}

/** Same grammar under another scheme (the software key manager names its keys `software:object=…;id=…`). */
export function parseWithScheme(input: string, scheme: string): Pkcs11Uri {
  const prefix = `${scheme}:`;
  if (typeof input !== "string" || input.slice(0, prefix.length).toLowerCase() !== prefix) {
    fail(`not a ${scheme}: URI`);
  }
  const rest = input.slice(prefix.length);
  if (rest.includes("#")) fail("PKCS#11 URI must not have a fragment");
  const q = rest.indexOf("?");
  const path = q < 0 ? rest : rest.slice(0, q);
  const query = q < 0 ? "" : rest.slice(q + 1);
  const uri: Pkcs11Uri = {};
  const seen = new Set<string>();

  if (path !== "") {
    for (const part of path.split(";")) {
      const [name, raw] = splitAttr(part, "path");
      if (seen.has(name)) fail(`PKCS#11 URI attribute "${name}" appears more than once`);
      seen.add(name);
      if (!PATH_VALUE.test(raw)) fail(`PKCS#11 URI attribute "${name}" has characters that must be percent-encoded`);
      const key = PATH_STRING_MAP.get(name);
      if (key) {
        uri[key] = decodeText(raw, name);
      } else if (name === "id") {
        uri.id = decodeBytes(raw);
      } else if (name === "type") {
        const t = decodeText(raw, name);
        // "secret" is accepted as a shorthand seen in configs; the RFC value is "secret-key" and that is what we emit.
        const v = t === "secret" ? "secret-key" : t;
        if (!OBJECT_TYPES.has(v)) fail(`PKCS#11 URI "type" must be public, private, cert, secret-key or data`);
        uri.type = v as Pkcs11ObjectType;
      } else if (name === "slot-id") {
        const t = decodeText(raw, name);
        if (!/^[0-9]{1,20}$/.test(t) || !Number.isSafeInteger(Number(t))) fail(`PKCS#11 URI "slot-id" must be a decimal number`);
        uri.slotId = Number(t);
      } else if (name === "library-version") {
        const m = /^([0-9]{1,5})(?:\.([0-9]{1,5}))?$/.exec(decodeText(raw, name));
        if (!m) fail(`PKCS#11 URI "library-version" must be M or M.N`);
        uri.libraryVersion = { major: Number(m[1]), minor: m[2] === undefined ? 0 : Number(m[2]) };
      } else if (isKnownQueryName(name)) {
        fail(`PKCS#11 URI attribute "${name}" belongs in the query (after "?")`);
      } else {
        (uri.vendor ??= {})[name] = decodeText(raw, name);
      }
    }
  }

  if (query !== "") {
    for (const part of query.split("&")) {
      const [name, raw] = splitAttr(part, "query");
      if (seen.has(name)) fail(`PKCS#11 URI attribute "${name}" appears more than once`);
      seen.add(name);
      if (!QUERY_VALUE.test(raw)) fail(`PKCS#11 URI attribute "${name}" has characters that must be percent-encoded`);
      const value = decodeText(raw, name);
      switch (name) {
        case "pin-value":
          uri.pinValue = value;
          break;
        case "pin-source":
          uri.pinSource = value;
          break;
        case "module-name":
          uri.moduleName = value;
          break;
        case "module-path":
          uri.modulePath = value;
          break;
        default:
          if (PATH_STRING_MAP.has(name) || ["id", "type", "slot-id", "library-version"].includes(name)) {
            fail(`PKCS#11 URI attribute "${name}" belongs in the path (before "?")`);
          }
          (uri.vendorQuery ??= {})[name] = value;
      }
    }
  }
  if (uri.pinValue !== undefined && uri.pinSource !== undefined) {
    fail(`PKCS#11 URI must not carry both "pin-value" and "pin-source"`);
  }
  return uri;
}

function isKnownQueryName(name: string): boolean {
  return name === "pin-value" || name === "pin-source" || name === "module-name" || name === "module-path";
}

export interface FormatOptions {
  /** Emit pin-value. Off by default so formatted URIs are safe to log and store. */
  includePinValue?: boolean;
  /** Emit pin-value as "REDACTED" when the URI has one (for logs that should show a PIN was given). */
  redact?: boolean;
  /** Scheme to emit (default "pkcs11"). */
  scheme?: string;
}

/** Formats a URI in a canonical attribute order. pin-value is dropped unless `includePinValue`. */
export function formatPkcs11Uri(uri: Pkcs11Uri, opts: FormatOptions = {}): string {
  if (uri.pinValue !== undefined && uri.pinSource !== undefined) {
    fail(`PKCS#11 URI must not carry both "pin-value" and "pin-source"`);
  }
  const path: string[] = [];
  for (const [name, key] of PATH_STRINGS) {
    const v = uri[key];
    if (v !== undefined) path.push(`${name}=${encode(v, PATH_SAFE)}`);
    if (name === "object") {
      if (uri.id !== undefined) path.push(`id=${encodeAll(uri.id)}`);
      if (uri.type !== undefined) path.push(`type=${uri.type}`);
    }
  }
  if (uri.libraryVersion) path.push(`library-version=${uri.libraryVersion.major}.${uri.libraryVersion.minor}`);
  if (uri.slotId !== undefined) path.push(`slot-id=${uri.slotId}`);
  for (const [name, v] of Object.entries(uri.vendor ?? {})) {
    if (!ATTR_NAME.test(name)) fail("PKCS#11 URI vendor attribute name is malformed");
    path.push(`${name}=${encode(v, PATH_SAFE)}`);
  }

  const query: string[] = [];
  if (uri.moduleName !== undefined) query.push(`module-name=${encode(uri.moduleName, QUERY_SAFE)}`);
  if (uri.modulePath !== undefined) query.push(`module-path=${encode(uri.modulePath, QUERY_SAFE)}`);
  if (uri.pinSource !== undefined) query.push(`pin-source=${encode(uri.pinSource, QUERY_SAFE)}`);
  if (uri.pinValue !== undefined) {
    if (opts.includePinValue && !opts.redact) query.push(`pin-value=${encode(uri.pinValue, QUERY_SAFE)}`);
    else if (opts.redact) query.push("pin-value=REDACTED");
  }
  for (const [name, v] of Object.entries(uri.vendorQuery ?? {})) {
    if (!ATTR_NAME.test(name)) fail("PKCS#11 URI vendor attribute name is malformed");
    query.push(`${name}=${encode(v, QUERY_SAFE)}`);
  }
  return `${opts.scheme ?? "pkcs11"}:${path.join(";")}${query.length ? `?${query.join("&")}` : ""}`;
}

/** A URI fit for logs: pin-value shown as REDACTED. Accepts a string (returned unchanged if it does not parse). */
export function redactPkcs11Uri(uri: string | Pkcs11Uri): string {
  if (typeof uri !== "string") return formatPkcs11Uri(uri, { redact: true });
  try {
    return formatPkcs11Uri(parsePkcs11Uri(uri), { redact: true });
  } catch {
    return "pkcs11:(malformed)";
  }
}

/**
 * True when a URI text carries a PIN (pin-value or pin-source). URIs that the API stores and shows (managed
 * keys, namespace seal keys) must not: the PIN belongs to the server's hsm block.
 */
export function uriCarriesPin(uri: string): boolean {
  return /[?&;]pin-(?:value|source)=/i.test(uri);
}
