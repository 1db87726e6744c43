/**
 * The key manager one mount's engine gets: the server's, with every use of a URI checked by KeyCustody
 * against this mount's rights, and every key it creates recorded as this mount's. Engines cannot tell it
 * from the real one; they cannot reach the real one either (they get only this).
 *
 * Checks are cached per URI until custody's generation moves (a grant, a tune, a deletion), so the hot path
 * (transit encrypt, PKI sign) costs one map lookup; a withdrawn grant takes effect on the next call.
 */
import { KeyUnsupportedError } from "../../hsm/key-errors.js";
import {
  isKeyDeleter,
  isKeyEncrypter,
  isLoginVerifier,
  isKeyImporter,
  isKeyWrapper,
  isWrappedKeyImporter,
  type AeadCiphertext,
  type CreateImportWrappingKeyRequest,
  type CreateKeyRequest,
  type CreateKeyResponse,
  type ImportKeyRequest,
  type KeyDeleter,
  type KeyEncrypter,
  type KeyIdentity,
  type KeyImporter,
  type KeyManager,
  type KeyWrapper,
  type LoginVerifier,
  type ManagedKeyResolver,
  type OaepHash,
  type Signer,
  type UnwrapKeyRequest,
  type WrapMechanism,
  type WrappedImportRequest,
  type WrappedKeyImporter,
} from "../../hsm/key-manager.js";
import type { KeyObject } from "node:crypto";
import { asNotUsable, KeyNotUsableError, type KeyScope, type ScopedCustody } from "./key-scope.js";

/** Decisions remembered per mount; past this many URIs the memo starts over (it is only a cache). */
const MAX_CACHED = 4096;

export class MountKeyManager implements KeyManager, LoginVerifier, KeyEncrypter, KeyWrapper, KeyDeleter, KeyImporter, WrappedKeyImporter, ManagedKeyResolver {
  private readonly allowed = new Map<string, number>();

  constructor(
    private readonly custody: ScopedCustody,
    private readonly scope: KeyScope,
  ) {}

  private get inner(): KeyManager {
    return this.custody.keyManager;
  }

  get isHardware(): boolean {
    return this.inner.isHardware;
  }

  /** Throws KeyNotUsableError unless this mount may use the key at `uri`. */
  private async check(uri: string): Promise<void> {
    const gen = this.custody.generation;
    if (this.allowed.get(uri) === gen) return;
    await this.custody.authorize(this.scope, await this.custody.identify(uri));
    if (this.allowed.size >= MAX_CACHED) this.allowed.clear();
    this.allowed.set(uri, gen);
  }

  /** Runs `fn` on the real manager after the check; HSM errors about the reference read as "not usable". */
  private async use<T>(uri: string, fn: () => Promise<T>): Promise<T> {
    await this.check(uri);
    return fn();
  }

  /** Records a key this mount just created as its own; on failure the key is removed again. */
  private async own(created: CreateKeyResponse): Promise<CreateKeyResponse> {
    try {
      const identity = await this.inner.identify(created.uri);
      await this.custody.recordMountOwner(this.scope, identity);
      return created;
    } catch (err) {
      if (isKeyDeleter(this.inner)) await this.inner.deleteKey(created.uri).catch(() => undefined);
      throw err;
    }
  }

  async createKey(req: CreateKeyRequest): Promise<CreateKeyResponse> {
    return this.own(await this.inner.createKey(req));
  }

  async identify(uri: string): Promise<KeyIdentity> {
    await this.check(uri);
    return this.custody.identify(uri);
  }

  getPublicKey(uri: string): Promise<KeyObject> {
    return this.use(uri, () => this.inner.getPublicKey(uri));
  }

  async createSigner(uri: string): Promise<Signer> {
    const signer = await this.use(uri, () => this.inner.createSigner(uri));
    // Engines keep signers: each signature is checked again, so a withdrawn grant stops a cached signer too.
    return {
      algorithm: signer.algorithm,
      publicKey: signer.publicKey,
      sign: async (data, opts) => {
        await this.check(uri);
        return signer.sign(data, opts);
      },
    };
  }

  encrypt(uri: string, plaintext: Buffer, aad?: Buffer): Promise<AeadCiphertext> {
    return this.use(uri, () => this.encrypter().encrypt(uri, plaintext, aad));
  }

  decrypt(uri: string, ct: AeadCiphertext, aad?: Buffer): Promise<Buffer> {
    return this.use(uri, () => this.encrypter().decrypt(uri, ct, aad));
  }

  decryptOaep(uri: string, ciphertext: Buffer, opts?: { hash?: OaepHash; label?: Buffer }): Promise<Buffer> {
    return this.use(uri, () => this.encrypter().decryptOaep(uri, ciphertext, opts));
  }

  async wrapKey(wrappingUri: string, targetUri: string, mechanism?: WrapMechanism): Promise<Buffer> {
    await this.check(targetUri);
    return this.use(wrappingUri, () => this.wrapper().wrapKey(wrappingUri, targetUri, mechanism));
  }

  async unwrapKey(wrappingUri: string, req: UnwrapKeyRequest): Promise<CreateKeyResponse> {
    return this.own(await this.use(wrappingUri, () => this.wrapper().unwrapKey(wrappingUri, req)));
  }

  async importKey(req: ImportKeyRequest): Promise<CreateKeyResponse> {
    if (!isKeyImporter(this.inner)) throw new KeyUnsupportedError("the key manager cannot import keys");
    return this.own(await this.inner.importKey(req));
  }

  async createImportWrappingKey(req: CreateImportWrappingKeyRequest): Promise<CreateKeyResponse> {
    return this.own(await this.byok().createImportWrappingKey(req));
  }

  async importWrappedKey(req: WrappedImportRequest): Promise<CreateKeyResponse> {
    return this.own(await this.use(req.wrappingUri, () => this.byok().importWrappedKey(req)));
  }

  /** Only the owner deletes: a granted (managed) key is the operator's, never removed by an engine. */
  async deleteKey(uri: string): Promise<void> {
    if (!isKeyDeleter(this.inner)) throw new KeyUnsupportedError("the key manager cannot delete keys");
    const identity = await this.custody.identify(uri);
    if (!(await this.custody.isOwner(this.scope, identity))) throw new KeyNotUsableError();
    try {
      await this.inner.deleteKey(uri);
    } catch (err) {
      throw asNotUsable(err);
    }
    await this.custody.forgetOwner(identity);
  }

  /** Logs in again to the token of a key this mount may use (HYOK sync); a store without logins: nothing to do. */
  verifyLogin(uri: string): Promise<void> {
    const inner = this.inner;
    return this.use(uri, () => (isLoginVerifier(inner) ? inner.verifyLogin(uri) : Promise.resolve()));
  }

  managedKeyUri(name: string): Promise<string> {
    return this.custody.managedKeyUri(this.scope, name);
  }

  async close(): Promise<void> {
    // The server's key manager is shared: closing one mount's view must not close it.
    this.allowed.clear();
  }

  private encrypter(): KeyEncrypter {
    if (!isKeyEncrypter(this.inner)) throw new KeyUnsupportedError("the key manager cannot encrypt");
    return this.inner;
  }

  private byok(): WrappedKeyImporter {
    if (!isWrappedKeyImporter(this.inner)) throw new KeyUnsupportedError("the key manager cannot import wrapped key material");
    return this.inner;
  }

  private wrapper(): KeyWrapper {
    if (!isKeyWrapper(this.inner)) throw new KeyUnsupportedError("the key manager cannot wrap keys");
    return this.inner;
  }
}
