/**
 * Validation of a secret's create body (Barbican's 'Secret' schema) and of payload uploads, with Barbican's
 * wording. Everything is checked before anything is stored: a refused request leaves nothing behind.
 */
import { BarbicanError, badRequest, schemaError, tooLarge } from "./barbican-error.js";
import { parseExpiration } from "./barbican-time.js";
import { SECRET_TYPES, type SecretFields, type SecretType } from "./secret-record.js";

/** Barbican's max_allowed_secret_in_bytes default: the payload as sent (before base64 decoding). */
export const MAX_SECRET_BYTES = 20000;

export const PAYLOAD_CONTENT_TYPES = ["text/plain", "text/plain;charset=utf-8", "text/plain; charset=utf-8", "application/octet-stream", "application/pkcs8"];

export interface PayloadInput {
  bytes: Buffer;
  /** Normalised: "text/plain" for every text/plain spelling. */
  contentType: string;
}

const SCHEMA = "Secret";
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A value as Python's repr shows it in jsonschema messages ('weird', 123, None). */
export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return "None";
  if (typeof v === "string") return `'${v.slice(0, 64)}'`;
  if (typeof v === "boolean") return v ? "True" : "False";
  return (JSON.stringify(v) ?? typeof v).slice(0, 64);
}

function optionalString(body: Record<string, unknown>, field: string, max = 255): string | null {
  const v = body[field];
  if (v === undefined || v === null) return null;
  if (typeof v !== "string") throw schemaError(SCHEMA, `${pyRepr(v)} is not of type 'string', 'null'`, field);
  if (v.length > max) throw schemaError(SCHEMA, `'${v.slice(0, 32)}…' is too long`, field);
  return v;
}

export function parseSecretFields(body: Record<string, unknown>, schema = SCHEMA): SecretFields {
  const secretType = body.secret_type ?? "opaque";
  if (typeof secretType !== "string" || !(SECRET_TYPES as readonly string[]).includes(secretType)) {
    throw schemaError(schema, `${pyRepr(secretType)} is not one of ['symmetric', 'passphrase', 'private', 'public', 'certificate', 'opaque']`, "secret_type");
  }
  const bits = body.bit_length;
  if (bits !== undefined && bits !== null && (typeof bits !== "number" || !Number.isSafeInteger(bits) || bits < 0 || bits > 1 << 20)) {
    throw schemaError(schema, `${pyRepr(bits)} is not a valid bit length`, "bit_length");
  }
  return {
    name: optionalString(body, "name"),
    secretType: secretType as SecretType,
    expiration: parseExpiration(body.expiration, schema),
    algorithm: optionalString(body, "algorithm"),
    bitLength: typeof bits === "number" ? bits : null,
    mode: optionalString(body, "mode"),
  };
}

function normaliseContentType(raw: string): string {
  return raw.toLowerCase().startsWith("text/plain") ? "text/plain" : raw.toLowerCase();
}

/** The one-step payload of a create body, or undefined for a metadata-only (two-step) create. */
export function parseCreatePayload(body: Record<string, unknown>): PayloadInput | undefined {
  const { payload, payload_content_type: type, payload_content_encoding: encoding } = body;
  if (payload === undefined || payload === null) {
    if (type !== undefined && type !== null) throw schemaError(SCHEMA, "If 'payload_content_type' is supplied, 'payload' must also be supplied", "payload");
    return undefined;
  }
  if (typeof payload !== "string") throw schemaError(SCHEMA, `${pyRepr(payload)} is not of type 'string'`, "payload");
  if (payload.trim() === "") throw schemaError(SCHEMA, "If 'payload' specified, must be non empty", "payload");
  if (type === undefined || type === null) {
    throw schemaError(SCHEMA, "If 'payload' is supplied, 'payload_content_type' must also be supplied.", "payload_content_type");
  }
  if (typeof type !== "string" || !PAYLOAD_CONTENT_TYPES.includes(type.toLowerCase())) {
    throw schemaError(SCHEMA, `payload_content_type is not one of ['text/plain', 'text/plain;charset=utf-8', 'text/plain; charset=utf-8', 'application/octet-stream', 'application/pkcs8']`, "payload_content_type");
  }
  if (encoding !== undefined && encoding !== null && encoding !== "base64") {
    throw schemaError(SCHEMA, `payload_content_encoding is not one of ['base64']`, "payload_content_encoding");
  }
  if (Buffer.byteLength(payload, "utf8") > MAX_SECRET_BYTES) throw tooLarge();
  const contentType = normaliseContentType(type);
  if (contentType === "text/plain") {
    if (encoding === "base64") throw badRequest("Provided object does not match schema 'Secret': payload_content_encoding is not valid for a text/plain payload. Invalid property: 'payload_content_encoding'");
    return { bytes: Buffer.from(payload, "utf8"), contentType };
  }
  if (encoding !== "base64") {
    throw badRequest("Provided object does not match schema 'Secret': payload_content_encoding must be 'base64' for a binary payload. Invalid property: 'payload_content_encoding'");
  }
  const compact = payload.replace(/\s+/g, "");
  if (!BASE64.test(compact)) throw schemaError(SCHEMA, "Invalid payload for payload_content_encoding", "payload");
  return { bytes: Buffer.from(compact, "base64"), contentType };
}

/**
 * A two-step upload (PUT /v1/secrets/{id}): the body as sent, its Content-Type, and Content-Encoding. The
 * wire format hands these over as `payload` (base64 of the raw body), `content_type`, `content_encoding`.
 */
export function parseUploadedPayload(data: Record<string, unknown>): PayloadInput {
  const raw = typeof data.payload === "string" ? Buffer.from(data.payload, "base64") : Buffer.alloc(0);
  const type = typeof data.content_type === "string" ? data.content_type : "";
  const encoding = typeof data.content_encoding === "string" ? data.content_encoding.toLowerCase() : "";
  if (raw.length === 0) throw badRequest("No payload provided");
  if (raw.length > MAX_SECRET_BYTES) throw tooLarge();
  const contentType = normaliseContentType(type.split(";")[0].trim() === "text/plain" ? "text/plain" : type.trim());
  if (!PAYLOAD_CONTENT_TYPES.includes(contentType)) {
    throw new BarbicanError("unsupported_media_type", "Unexpected content type. Expected content types are: ['text/plain', 'application/octet-stream', 'application/pkcs8']");
  }
  if (encoding === "" || contentType === "text/plain") {
    if (encoding !== "") throw badRequest("Content-Encoding is not supported for a text/plain payload");
    return { bytes: raw, contentType };
  }
  if (encoding !== "base64") throw badRequest(`Content-Encoding '${encoding.slice(0, 32)}' is not supported`);
  const text = raw.toString("latin1").replace(/\s+/g, "");
  if (!BASE64.test(text)) throw badRequest("Invalid payload for payload_content_encoding");
  return { bytes: Buffer.from(text, "base64"), contentType };
}

