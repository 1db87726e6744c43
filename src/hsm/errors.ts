// Typed HSM errors. Callers decide policy from the class, never from message text:
//  - HsmPinError is final: an HSM may wipe itself after a few wrong PINs, so nothing retries it.
//  - HsmUnavailableError means "reconnect with backoff" (device gone, session lost, library reset).
//  - HsmDecryptError is an authentication failure (tampered ciphertext, wrong AAD, wrong key).
// Messages carry the PKCS#11 function and return-value name only: never a PIN, never key material.
// Each class is a seam error (key-errors.ts) with PKCS#11 detail: engines catch the seam classes only.
import { KeyConfigError, KeyDecryptError, KeyError, KeyNotFoundError, KeyUnavailableError, KeyUnsupportedError, KeyUsageError } from "./key-errors.js";

/** PKCS#11 return values we act on (PKCS#11 v2.40 §11.1). Numbers, so the map works without the binding. */
export const CKR = {
  OK: 0x00,
  GENERAL_ERROR: 0x05,
  FUNCTION_FAILED: 0x06,
  ARGUMENTS_BAD: 0x07,
  ATTRIBUTE_SENSITIVE: 0x11,
  ATTRIBUTE_TYPE_INVALID: 0x12,
  ATTRIBUTE_VALUE_INVALID: 0x13,
  DATA_INVALID: 0x20,
  DATA_LEN_RANGE: 0x21,
  DEVICE_ERROR: 0x30,
  DEVICE_MEMORY: 0x31,
  DEVICE_REMOVED: 0x32,
  ENCRYPTED_DATA_INVALID: 0x40,
  ENCRYPTED_DATA_LEN_RANGE: 0x41,
  KEY_HANDLE_INVALID: 0x60,
  KEY_TYPE_INCONSISTENT: 0x63,
  KEY_FUNCTION_NOT_PERMITTED: 0x68,
  KEY_NOT_WRAPPABLE: 0x69,
  KEY_UNEXTRACTABLE: 0x6a,
  MECHANISM_INVALID: 0x70,
  MECHANISM_PARAM_INVALID: 0x71,
  OBJECT_HANDLE_INVALID: 0x82,
  OPERATION_ACTIVE: 0x90,
  OPERATION_NOT_INITIALIZED: 0x91,
  PIN_INCORRECT: 0xa0,
  PIN_INVALID: 0xa1,
  PIN_LEN_RANGE: 0xa2,
  PIN_EXPIRED: 0xa3,
  PIN_LOCKED: 0xa4,
  SESSION_CLOSED: 0xb0,
  SESSION_COUNT: 0xb1,
  SESSION_HANDLE_INVALID: 0xb3,
  SIGNATURE_INVALID: 0xc0,
  SLOT_ID_INVALID: 0x03,
  TEMPLATE_INCOMPLETE: 0xd0,
  TEMPLATE_INCONSISTENT: 0xd1,
  TOKEN_NOT_PRESENT: 0xe0,
  TOKEN_NOT_RECOGNIZED: 0xe1,
  USER_ALREADY_LOGGED_IN: 0x100,
  USER_NOT_LOGGED_IN: 0x101,
  USER_PIN_NOT_INITIALIZED: 0x102,
  WRAPPED_KEY_INVALID: 0x110,
  WRAPPED_KEY_LEN_RANGE: 0x112,
  WRAPPING_KEY_HANDLE_INVALID: 0x113,
  BUFFER_TOO_SMALL: 0x150,
  CRYPTOKI_NOT_INITIALIZED: 0x190,
  CRYPTOKI_ALREADY_INITIALIZED: 0x191,
} as const;

const CKR_NAMES = new Map<number, string>(Object.entries(CKR).map(([k, v]) => [v, `CKR_${k}`]));

/** `CKR_PIN_INCORRECT` for 0xa0, hex for codes we do not name. */
export function ckrName(code: number): string {
  return CKR_NAMES.get(code) ?? `CKR_0x${code.toString(16)}`;
}

/** What a PKCS#11 failure adds to a seam error: the return value and the function that failed. */
export interface Pkcs11Detail {
  /** PKCS#11 return value when the error came from the library. */
  readonly ckr: number | undefined;
  /** PKCS#11 function that failed, e.g. "C_Sign". */
  readonly fn: string | undefined;
}

export interface Pkcs11ErrorOptions {
  ckr?: number;
  fn?: string;
  cause?: unknown;
}

/** Any error the PKCS#11 implementation throws: a seam error, perhaps with PKCS#11 detail. */
export type HsmError = KeyError & Partial<Pkcs11Detail>;

type SeamErrorClass = new (message: string, options?: { cause?: unknown }) => KeyError;
type Pkcs11ErrorClass<B extends SeamErrorClass> = new (message: string, opts?: Pkcs11ErrorOptions) => InstanceType<B> & Pkcs11Detail;

/** The seam error class `Base` with PKCS#11 detail (engines see `Base`; logs and retry policy see the CKR). */
function pkcs11Flavour<B extends SeamErrorClass>(Base: B): Pkcs11ErrorClass<B> {
  const Flavoured = class extends (Base as SeamErrorClass) implements Pkcs11Detail {
    readonly ckr: number | undefined;
    readonly fn: string | undefined;
    constructor(message: string, opts: Pkcs11ErrorOptions = {}) {
      super(message, { cause: opts.cause });
      this.ckr = opts.ckr;
      this.fn = opts.fn;
    }
  };
  return Flavoured as unknown as Pkcs11ErrorClass<B>;
}

/** Wrong, locked or expired PIN. Final: never retried, and the token refuses further logins until reconfigured. */
export class HsmPinError extends pkcs11Flavour(KeyError) {}

/** The device, token, session or library is gone or broken; reconnecting (with backoff) may help. */
export class HsmUnavailableError extends pkcs11Flavour(KeyUnavailableError) {}

/** Authenticated decryption failed: tampered ciphertext, wrong AAD or wrong key. */
export class HsmDecryptError extends pkcs11Flavour(KeyDecryptError) {}

/** No object matches the key reference. */
export class HsmKeyNotFoundError extends pkcs11Flavour(KeyNotFoundError) {}

/** More than one object matches the key reference (labels are not unique, G5): refuse to guess. */
export class HsmAmbiguousKeyError extends pkcs11Flavour(KeyConfigError) {}

/** The key may not be used this way (not extractable, wrong usage flag, wrong key type). */
export class HsmKeyUsageError extends pkcs11Flavour(KeyUsageError) {}

/** The token or library lacks a mechanism / key type we need. */
export class HsmUnsupportedError extends pkcs11Flavour(KeyUnsupportedError) {}

/** An HSM declaration is malformed, or a key URI names a module or token no declaration allows. */
export class HsmConfigError extends pkcs11Flavour(KeyConfigError) {}

/** Any other PKCS#11 failure (a bug on our side or an unusual device): not retried. */
export class HsmOperationError extends pkcs11Flavour(KeyError) {}

const PIN_CODES = new Set<number>([CKR.PIN_INCORRECT, CKR.PIN_LOCKED, CKR.PIN_EXPIRED, CKR.PIN_INVALID, CKR.PIN_LEN_RANGE]);
const UNAVAILABLE_CODES = new Set<number>([
  CKR.DEVICE_REMOVED,
  CKR.TOKEN_NOT_PRESENT,
  CKR.TOKEN_NOT_RECOGNIZED,
  CKR.SESSION_HANDLE_INVALID,
  CKR.SESSION_CLOSED,
  CKR.DEVICE_ERROR,
  CKR.DEVICE_MEMORY,
  CKR.CRYPTOKI_NOT_INITIALIZED,
  CKR.SLOT_ID_INVALID,
  // A logged-in session that forgot its login means the token was reset underneath us: reconnect re-logs in.
  CKR.USER_NOT_LOGGED_IN,
]);
const DECRYPT_CODES = new Set<number>([CKR.ENCRYPTED_DATA_INVALID, CKR.ENCRYPTED_DATA_LEN_RANGE, CKR.GENERAL_ERROR, CKR.WRAPPED_KEY_INVALID]);
const NOT_FOUND_CODES = new Set<number>([CKR.OBJECT_HANDLE_INVALID, CKR.KEY_HANDLE_INVALID, CKR.WRAPPING_KEY_HANDLE_INVALID]);
const USAGE_CODES = new Set<number>([
  CKR.KEY_UNEXTRACTABLE,
  CKR.KEY_NOT_WRAPPABLE,
  CKR.KEY_FUNCTION_NOT_PERMITTED,
  CKR.KEY_TYPE_INCONSISTENT,
  CKR.ATTRIBUTE_SENSITIVE,
]);
const UNSUPPORTED_CODES = new Set<number>([CKR.MECHANISM_INVALID, CKR.MECHANISM_PARAM_INVALID]);

/** Shape of pkcs11js's Pkcs11Error without importing the native binding. */
interface Pkcs11LikeError {
  code: number;
  method?: string;
}

function isPkcs11Like(e: unknown): e is Pkcs11LikeError {
  return (
    typeof e === "object" &&
    e !== null &&
    typeof (e as { code?: unknown }).code === "number" &&
    /^CKR_/.test((e as { message?: unknown }).message as string)
  );
}

/** The CKR code of a pkcs11js error, or undefined for anything else. */
export function ckrOf(e: unknown): number | undefined {
  if (e instanceof KeyError) return (e as HsmError).ckr;
  return isPkcs11Like(e) ? e.code : undefined;
}

export interface MapContext {
  /** PKCS#11 function that failed, e.g. "C_Decrypt". */
  fn: string;
  /** The call was an authenticated decryption: CKR_GENERAL_ERROR and CKR_ENCRYPTED_DATA_INVALID mean "tampered" (G2). */
  decrypt?: boolean;
  /** Human reference to the key (a URI without PIN), for not-found messages. */
  key?: string;
}

/**
 * Maps any error thrown by the binding to a typed seam error with PKCS#11 detail (seam errors pass through). The message names the function and CKR code only;
 * the original error is kept as `cause` for debugging (pkcs11js errors carry no arguments, so no PIN leaks).
 */
export function mapPkcs11Error(e: unknown, ctx: MapContext): HsmError {
  if (e instanceof KeyError) return e;
  const code = ckrOf(e);
  if (code === undefined) {
    const msg = e instanceof Error ? e.message : String(e);
    return new HsmOperationError(`${ctx.fn} failed: ${msg}`, { fn: ctx.fn, cause: e });
  }
  const name = ckrName(code);
  const opts = { ckr: code, fn: ctx.fn, cause: e };
  if (PIN_CODES.has(code)) return new HsmPinError(`${ctx.fn}: ${name} (not retried)`, opts);
  if (ctx.decrypt && DECRYPT_CODES.has(code)) return new HsmDecryptError(`${ctx.fn}: authentication failed (${name})`, opts);
  if (UNAVAILABLE_CODES.has(code)) return new HsmUnavailableError(`${ctx.fn}: HSM unavailable (${name})`, opts);
  if (NOT_FOUND_CODES.has(code)) {
    return new HsmKeyNotFoundError(`${ctx.fn}: key ${ctx.key ?? ""} not found (${name})`.replace("  ", " "), opts);
  }
  if (USAGE_CODES.has(code)) return new HsmKeyUsageError(`${ctx.fn}: key usage refused (${name})`, opts);
  if (UNSUPPORTED_CODES.has(code)) return new HsmUnsupportedError(`${ctx.fn}: not supported by the token (${name})`, opts);
  return new HsmOperationError(`${ctx.fn}: ${name}`, opts);
}

/** CKR_USER_ALREADY_LOGGED_IN from C_Login is success: login state is per application and token. */
export function isAlreadyLoggedIn(e: unknown): boolean {
  return ckrOf(e) === CKR.USER_ALREADY_LOGGED_IN;
}
