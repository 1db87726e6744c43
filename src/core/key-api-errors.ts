/**
 * The one mapping from the key-manager seam's errors (src/hsm/key-errors.ts) to API errors, shared by every
 * engine (transit, PKI) and by key custody, so one failure reads the same wherever a key is used: what the
 * request got wrong (a missing or unusable key, a bad reference, an operation the key store lacks, a
 * ciphertext that does not authenticate) is a 400; a key store that cannot be reached, or that fails for a
 * reason of its own (its PIN, a device fault), is a 502. Never a 500: these are not bugs.
 */
import { ArcaError } from "../common/errors.js";
import { KeyConfigError, KeyDecryptError, KeyError, KeyNotFoundError, KeyUnavailableError, KeyUnsupportedError, KeyUsageError } from "../hsm/key-errors.js";

/** What every AEAD failure answers, as OpenBao does; the key store's own words stay in `cause` for the log. */
export const DECRYPT_FAILED = "cipher: message authentication failed";

/**
 * `err` as the API error to throw when it is a seam error; anything else is returned unchanged. `what`, when
 * given, says what failed ("signing with the HSM key") and prefixes the key store's message.
 */
export function keyErrorToArca(err: unknown, what?: string): unknown {
  if (!(err instanceof KeyError)) return err;
  if (err instanceof KeyDecryptError) return new ArcaError("invalid_request", DECRYPT_FAILED, { cause: err });
  const message = what ? `${what}: ${err.message}` : err.message;
  const callerCaused = err instanceof KeyNotFoundError || err instanceof KeyUsageError || err instanceof KeyUnsupportedError || err instanceof KeyConfigError;
  if (callerCaused) return new ArcaError("invalid_request", message, { cause: err });
  if (err instanceof KeyUnavailableError) return new ArcaError("upstream", `${message} (the key store cannot be reached; retry later)`, { cause: err });
  return new ArcaError("upstream", message, { cause: err });
}
