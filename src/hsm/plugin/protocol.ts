// The keystore plugin protocol, version 1 (docs/keystore-plugins.md is the specification): JSON-RPC 2.0,
// one JSON object per line (newline-delimited), over a unix socket. Binary values travel as standard base64
// strings. This file holds what both ends share: names, limits, the error mapping and strict readers for
// untrusted JSON, so a plugin's reply is checked field by field before anything uses it.
import { KeyConfigError, KeyDecryptError, KeyError, KeyNotFoundError, KeyReferenceError, KeyUnavailableError, KeyUnsupportedError, KeyUsageError } from "../key-errors.js";

export const PROTOCOL_NAME = "arca-keystore";
export const PROTOCOL_VERSION = 1;

/** Longest line either side accepts (a signature, a wrapped key or a few MiB of encrypt payload fit). */
export const DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024;

/** Environment variable carrying the socket path to a plugin the server spawns. */
export const SOCKET_ENV = "ARCA_KEYSTORE_PLUGIN_SOCKET";

export type Capability = "encrypt" | "wrap" | "delete" | "import";
export const CAPABILITIES: readonly Capability[] = ["encrypt", "wrap", "delete", "import"];

export const METHODS = [
  "handshake",
  "create_key",
  "get_public_key",
  "signer_info",
  "sign",
  "identify",
  "encrypt",
  "decrypt",
  "decrypt_oaep",
  "wrap_key",
  "unwrap_key",
  "delete_key",
  "import_key",
] as const;
export type Method = (typeof METHODS)[number];

/** JSON-RPC 2.0 error codes (the standard ones, and ours in the server-error range). */
export const RPC_PARSE_ERROR = -32700;
export const RPC_INVALID_REQUEST = -32600;
export const RPC_METHOD_NOT_FOUND = -32601;
export const RPC_INVALID_PARAMS = -32602;
/** A KeyManager error; `data.kind` says which. */
export const RPC_KEY_ERROR = -32000;

export type ErrorKind = "not_found" | "usage" | "decrypt" | "unavailable" | "unsupported" | "config" | "reference";

const KIND_CLASSES: Record<ErrorKind, new (message: string) => KeyError> = {
  not_found: KeyNotFoundError,
  usage: KeyUsageError,
  decrypt: KeyDecryptError,
  unavailable: KeyUnavailableError,
  unsupported: KeyUnsupportedError,
  reference: KeyReferenceError,
  config: KeyConfigError,
};

/** The kind of a KeyManager error, most specific class first (KeyReferenceError is a KeyConfigError). */
export function errorKindOf(err: unknown): ErrorKind {
  if (err instanceof KeyNotFoundError) return "not_found";
  if (err instanceof KeyUsageError) return "usage";
  if (err instanceof KeyDecryptError) return "decrypt";
  if (err instanceof KeyUnsupportedError) return "unsupported";
  if (err instanceof KeyReferenceError) return "reference";
  if (err instanceof KeyConfigError) return "config";
  return "unavailable";
}

export function isErrorKind(v: unknown): v is ErrorKind {
  return typeof v === "string" && Object.hasOwn(KIND_CLASSES, v);
}

/** A plugin broke the protocol (garbage, a malformed reply, an oversized frame): the connection is dropped. */
export class PluginProtocolError extends KeyUnavailableError {}

/** The error a plugin's `error` object stands for, with its message made safe to show (bounded, printable). */
export function keyErrorFromWire(kind: ErrorKind, message: unknown, plugin: string): KeyError {
  const text = typeof message === "string" ? sanitizeMessage(message) : "error";
  return new KIND_CLASSES[kind](`keystore plugin ${plugin}: ${text}`);
}

/** Plugin messages end up in API errors and logs: printable ASCII only, at most 200 characters. */
export function sanitizeMessage(s: string): string {
  const clean = s.replace(/[^\x20-\x7e]/g, "?");
  return clean.length > 200 ? `${clean.slice(0, 200)}…` : clean;
}

/** Thrown by the readers below; the caller decides whether it is the plugin's fault or the caller's. */
export class WireShapeError extends Error {}

export type WireObject = Record<string, unknown>;

export function isObject(v: unknown): v is WireObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function wireObject(v: unknown, what: string): WireObject {
  if (!isObject(v)) throw new WireShapeError(`${what} must be an object`);
  return v;
}

export function wireString(o: WireObject, key: string, maxLength = 4096): string {
  const v = o[key];
  if (typeof v !== "string" || v.length > maxLength) throw new WireShapeError(`${key} must be a string of at most ${maxLength} characters`);
  return v;
}

export function optString(o: WireObject, key: string, maxLength = 4096): string | undefined {
  return o[key] === undefined || o[key] === null ? undefined : wireString(o, key, maxLength);
}

export function optBool(o: WireObject, key: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw new WireShapeError(`${key} must be a boolean`);
  return v;
}

export function optInt(o: WireObject, key: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw new WireShapeError(`${key} must be a non-negative integer`);
  return v;
}

export function wireEnum<T extends string>(o: WireObject, key: string, allowed: readonly T[]): T {
  const v = o[key];
  if (typeof v !== "string" || !(allowed as readonly string[]).includes(v)) throw new WireShapeError(`${key} must be one of ${allowed.join(", ")}`);
  return v as T;
}

export function optEnum<T extends string>(o: WireObject, key: string, allowed: readonly T[]): T | undefined {
  return o[key] === undefined || o[key] === null ? undefined : wireEnum(o, key, allowed);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Standard base64, strictly (Buffer.from would silently skip junk and hand back other bytes). */
export function wireBytes(o: WireObject, key: string): Buffer {
  const v = o[key];
  if (typeof v !== "string" || !BASE64.test(v)) throw new WireShapeError(`${key} must be base64`);
  return Buffer.from(v, "base64");
}

export function optBytes(o: WireObject, key: string): Buffer | undefined {
  return o[key] === undefined || o[key] === null ? undefined : wireBytes(o, key);
}

export function b64(b: Buffer): string {
  return b.toString("base64");
}
