// The one error type of the sealed share code (file format, sealing schemes), in its own module so that
// the schemes (oaep-seal.ts) and the file code (sealed-share.ts) can both throw it without an import cycle.
export class SealedShareError extends Error {
  override readonly name = "SealedShareError";
}
