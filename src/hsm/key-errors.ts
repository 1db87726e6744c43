// The key-manager seam's errors. Every KeyManager (PKCS#11, software, a mount's scoped one) throws these, so
// engines decide policy from the class without knowing which implementation answered; an implementation may
// subclass them to carry its own detail (errors.ts: the PKCS#11 function and CKR code). Messages never carry
// a PIN or key material.

export class KeyError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
  }
}

/** No key matches the reference. */
export class KeyNotFoundError extends KeyError {}

/** The key may not be used this way (not extractable, wrong usage flag, wrong key type, no identity). */
export class KeyUsageError extends KeyError {}

/** Authenticated decryption or unwrapping failed: tampered ciphertext, wrong AAD or wrong key. */
export class KeyDecryptError extends KeyError {}

/** The key store cannot be reached (device gone, session lost, library reset); retrying later may help. */
export class KeyUnavailableError extends KeyError {}

/** The key store lacks a mechanism, key type or operation the request needs. */
export class KeyUnsupportedError extends KeyError {}

/** A key reference or declaration is wrong: matches several keys, names a store nobody declared, bad input. */
export class KeyConfigError extends KeyError {}

/** A key reference is malformed. Says nothing about what exists, so its message may be shown as it is. */
export class KeyReferenceError extends KeyConfigError {}
