/**
 * `type=pkcs11`: L1 keys are AES-256 objects on a declared HSM token, made through the mount's
 * custody-scoped key manager (so they are recorded as this mount's, sensitive, never extractable), and L2
 * material is wrapped by AES-GCM *inside* the HSM. `uri` names the token (`pkcs11:token=…`, or serial=…), of
 * an `hsm` block the operator declared; it may not carry a PIN or name an object.
 */
import { ArcaError, invalidRequest } from "../../common/errors.js";
import { keyErrorToArca } from "../../core/key-api-errors.js";
import { isKeyDeleter, isKeyEncrypter, type KeyEncrypter, type KeyManager } from "../../hsm/key-manager.js";
import { KeyNotFoundError, KeyUnavailableError } from "../../hsm/key-errors.js";
import { parsePkcs11Uri } from "../../hsm/uri.js";
import { splitAead } from "./aead.js";
import type { KeystoreContext, KeystoreProvider, KeystoreSettings, KeystoreType, L1Algorithm, L1Ref, ProbeResult } from "./keystore.js";

function parseTokenUri(raw: unknown): string {
  if (typeof raw !== "string" || raw === "") throw invalidRequest("uri is required: the token's PKCS#11 URI (pkcs11:token=…)");
  let uri;
  try {
    uri = parsePkcs11Uri(raw);
  } catch {
    throw invalidRequest("uri is not a valid PKCS#11 URI");
  }
  if (uri.pinValue !== undefined || uri.pinSource !== undefined) throw invalidRequest("uri must not carry a PIN: the hsm block holds it");
  if (uri.object !== undefined || uri.id !== undefined || uri.type !== undefined) throw invalidRequest("uri names a token, not an object (no object=, id= or type=)");
  if (uri.token === undefined && uri.serial === undefined) throw invalidRequest("uri must name a token (token= or serial=)");
  return raw;
}

function encrypter(km: KeyManager | undefined): KeyManager & KeyEncrypter {
  if (!km) throw new ArcaError("unavailable", "this keystore lives in an HSM, but no HSM is declared on this server");
  if (!isKeyEncrypter(km)) throw new ArcaError("unavailable", "the configured key manager cannot encrypt");
  return km;
}

async function call<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw keyErrorToArca(err, what);
  }
}

class Pkcs11Keystore implements KeystoreProvider {
  constructor(
    private readonly tokenUri: string,
    private readonly keyManager: KeyManager | undefined,
  ) {}

  async createKey(req: { label: string; algorithm: L1Algorithm }): Promise<L1Ref> {
    if (req.algorithm !== "AES256") throw invalidRequest("pkcs11 keystores make AES256 L1 keys");
    const km = encrypter(this.keyManager);
    // Sensitive and never extractable (the seam's default): the key can only be used, never read.
    const created = await call("creating the L1 key in the HSM", () => km.createKey({ algorithm: "aes-256", label: req.label, hsm: this.tokenUri, extractable: false, wrapping: false }));
    return { uri: created.uri, owned: true };
  }

  async wrap(ref: L1Ref, plaintext: Buffer, aad: Buffer): Promise<Buffer> {
    const km = encrypter(this.keyManager);
    const ct = await call("wrapping under the L1 key", () => km.encrypt(ref.uri, plaintext, aad));
    return Buffer.concat([ct.iv, ct.ciphertext, ct.tag]);
  }

  async unwrap(ref: L1Ref, blob: Buffer, aad: Buffer): Promise<Buffer> {
    const km = encrypter(this.keyManager);
    const parts = splitAead(blob);
    return call("unwrapping under the L1 key", () => km.decrypt(ref.uri, parts, aad));
  }

  async probe(ref: L1Ref): Promise<ProbeResult> {
    if (!this.keyManager) return "UNKNOWN";
    try {
      await this.keyManager.identify(ref.uri);
      return "ENABLED";
    } catch (err) {
      if (err instanceof KeyUnavailableError) return "UNKNOWN";
      return err instanceof KeyNotFoundError ? "FORBIDDEN" : "UNKNOWN";
    }
  }

  async destroy(ref: L1Ref): Promise<void> {
    const km = this.keyManager;
    if (!km || !isKeyDeleter(km)) throw new ArcaError("unavailable", "the configured key manager cannot delete keys");
    try {
      await km.deleteKey(ref.uri);
    } catch (err) {
      // Already gone is what we want; anything else must be retried (the key is still readable).
      if (err instanceof KeyNotFoundError && (await this.probe(ref)) === "FORBIDDEN") return;
      throw keyErrorToArca(err, "destroying the L1 key in the HSM");
    }
  }
}

export const pkcs11KeystoreType: KeystoreType = {
  type: "pkcs11",
  origins: ["generated"],
  async parse(input: Record<string, unknown>, ctx: KeystoreContext) {
    const uri = parseTokenUri(input.uri);
    if (!ctx.keyManager?.isHardware) throw invalidRequest("no HSM is declared on this server: a pkcs11 keystore needs an hsm block");
    return { config: { uri }, secrets: {} };
  },
  open(settings: KeystoreSettings, ctx: KeystoreContext): KeystoreProvider {
    return new Pkcs11Keystore(settings.config.uri ?? "", ctx.keyManager);
  },
};
