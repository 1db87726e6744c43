/**
 * The CA core: turns stored key and issuer records into ready-to-sign issuers (cached: parsing a PEM and a
 * PKCS#8 key per request would cost more than signing), creates keys (in software or in the HSM through
 * the KeyManager), and signs certificates. Software and HSM keys are both `Signer`s here.
 */
import { createPublicKey, randomBytes, verify, type KeyObject } from "node:crypto";
import { ArcaError, invalidRequest } from "../../common/errors.js";
import { keyErrorToArca } from "../../core/key-api-errors.js";
import { isManagedKeyResolver, type KeyAlgorithm, type KeyManager, type Signer } from "../../hsm/key-manager.js";
import { algorithmOfKey, generateSoftwareKey, loadSoftwareKey, signatureAlgorithm, softwareSigner, type SignatureAlgorithm } from "./ca-keys.js";
import { getRecord, K, type IssuerEntry, type KeyEntry } from "./pki-store.js";
import { parseCertificate, pem, pemBlocks, serialToString, signTbs, tbsCertificate, type CertificateTemplate, type ParsedCertificate } from "./x509.js";
import type { KeyValueReader } from "../../storage/storage.js";

export interface LoadedKey {
  entry: KeyEntry;
  signer: Signer;
}

export interface LoadedIssuer {
  entry: IssuerEntry;
  cert: ParsedCertificate;
  /** [issuer, ...parents] as PEM. */
  chain: string[];
  key: LoadedKey | undefined;
}

export function spkiOf(key: KeyObject): Buffer {
  return key.export({ type: "spki", format: "der" });
}

/** A 159-bit random serial (positive, never starting with a zero octet), like OpenBao's. */
export function newSerial(): Buffer {
  const b = randomBytes(20);
  b[0] &= 0x7f;
  if (b[0] === 0) b[0] = 0x01;
  return b;
}

/**
 * A Signer over the key store's key at `uri` whose failures (making it, and every signature) are API errors
 * through the one mapping every engine uses: a missing or unusable key is a 400, an HSM away a 502.
 */
async function keyStoreSigner(km: KeyManager, uri: string, what: string): Promise<Signer> {
  let inner: Signer;
  try {
    inner = await km.createSigner(uri);
  } catch (err) {
    throw keyErrorToArca(err, what);
  }
  return {
    algorithm: inner.algorithm,
    publicKey: inner.publicKey,
    sign: async (data, opts) => {
      try {
        return await inner.sign(data, opts);
      } catch (err) {
        throw keyErrorToArca(err, "signing with the HSM key failed");
      }
    },
  };
}

export class CaRuntime {
  private readonly keys = new Map<string, LoadedKey>();
  private readonly issuers = new Map<string, LoadedIssuer>();

  constructor(private readonly keyManager: KeyManager | undefined) {}

  requireKeyManager(): KeyManager {
    if (!this.keyManager) throw invalidRequest("no HSM key manager is configured on this server: kms keys are unavailable");
    return this.keyManager;
  }

  /** The URI of a managed key this mount may use (an operator's grant), by name. */
  async managedKeyUri(name: string): Promise<string> {
    const km = this.requireKeyManager();
    if (!isManagedKeyResolver(km)) throw invalidRequest("managed keys are not available to this mount");
    return km.managedKeyUri(name);
  }

  async signerFor(entry: KeyEntry): Promise<LoadedKey> {
    const hit = this.keys.get(entry.id);
    if (hit && hit.entry.spki === entry.spki && hit.entry.keyRef === entry.keyRef) return hit;
    let signer: Signer;
    const publicKey = createPublicKey({ key: Buffer.from(entry.spki, "base64"), format: "der", type: "spki" });
    if (entry.type === "internal") {
      if (!entry.privateKeyPem) throw new ArcaError("internal", `key ${entry.id} has no private key material`);
      signer = softwareSigner(loadSoftwareKey(entry.privateKeyPem), publicKey);
    } else {
      if (!entry.keyRef) throw new ArcaError("internal", `kms key ${entry.id} has no key reference`);
      signer = await keyStoreSigner(this.requireKeyManager(), entry.keyRef, `the HSM key of key ${entry.id} cannot be used`);
    }
    const loaded = { entry, signer };
    this.keys.set(entry.id, loaded);
    return loaded;
  }

  async load(storage: KeyValueReader, entry: IssuerEntry): Promise<LoadedIssuer> {
    const hit = this.issuers.get(entry.id);
    if (hit && hit.entry.certificate === entry.certificate && hit.entry.keyId === entry.keyId && hit.entry.caChain.length === entry.caChain.length) {
      hit.entry = entry; // mutable settings (name, usage, URLs) come from the fresh record
      return hit;
    }
    const cert = parseCertificate(pemBlocks(entry.certificate)[0].der, "issuer certificate");
    let key: LoadedKey | undefined;
    if (entry.keyId) {
      const k = await getRecord<KeyEntry>(storage, K.key(entry.keyId));
      if (k) key = await this.signerFor(k);
    }
    const loaded = { entry, cert, chain: [entry.certificate, ...entry.caChain], key };
    this.issuers.set(entry.id, loaded);
    return loaded;
  }

  forget(issuerId?: string): void {
    if (issuerId) this.issuers.delete(issuerId);
    else this.issuers.clear();
    this.keys.clear();
  }

  /**
   * Makes a key: software (PKCS#8 returned for storage in the barrier) or in the HSM (only a URI comes back;
   * the private key is created sensitive and never extractable).
   */
  async createKey(kind: "internal" | "kms", alg: KeyAlgorithm, label: string): Promise<{ entryPart: Pick<KeyEntry, "type" | "algorithm" | "spki" | "privateKeyPem" | "keyRef">; signer: Signer; privateKey?: KeyObject }> {
    if (kind === "internal") {
      const privateKey = await generateSoftwareKey(alg);
      const publicKey = createPublicKey(privateKey);
      const privateKeyPem = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
      return {
        entryPart: { type: "internal", algorithm: alg, spki: spkiOf(publicKey).toString("base64"), privateKeyPem },
        signer: softwareSigner(privateKey, publicKey),
        privateKey,
      };
    }
    const km = this.requireKeyManager();
    let created;
    try {
      created = await km.createKey({ algorithm: alg, label });
    } catch (err) {
      throw keyErrorToArca(err, "creating the key in the HSM failed");
    }
    const signer = await keyStoreSigner(km, created.uri, "the new HSM key cannot be used");
    return { entryPart: { type: "kms", algorithm: alg, spki: spkiOf(signer.publicKey).toString("base64"), keyRef: created.uri }, signer };
  }

  /**
   * Binds an existing HSM key by URI. The key must be usable for signing and, when `expectSpki` is given
   * (importing a CA certificate), must be the certificate's key: the public halves are compared and a
   * fresh signature by the HSM is verified against the certificate's public key.
   */
  async bindKmsKey(uri: string, expectSpki?: Buffer): Promise<{ entryPart: Pick<KeyEntry, "type" | "algorithm" | "spki" | "keyRef">; signer: Signer }> {
    if (!uri.startsWith("pkcs11:")) throw invalidRequest(`key_ref "${uri.slice(0, 80)}" is not a PKCS#11 URI (RFC 7512, "pkcs11:token=…;object=…")`);
    const km = this.requireKeyManager();
    const signer = await keyStoreSigner(km, uri, `unable to use HSM key ${uri.split("?")[0]}`);
    const alg = algorithmOfKey(signer.publicKey);
    if (!alg) throw invalidRequest("the HSM key is not a supported signing key (RSA 2048/3072/4096, EC P-256/P-384, Ed25519)");
    const spki = spkiOf(signer.publicKey);
    if (expectSpki) {
      if (!spki.equals(expectSpki)) throw invalidRequest("the HSM key does not match the certificate: its public key differs from the certificate's");
      const probe = randomBytes(32);
      const sig = await signer.sign(probe, alg === "ed25519" ? {} : { hash: "sha256" });
      const certKey = createPublicKey({ key: expectSpki, format: "der", type: "spki" });
      if (!verify(alg === "ed25519" ? null : "sha256", probe, certKey, sig)) {
        throw invalidRequest("the HSM key does not match the certificate: a test signature did not verify with the certificate's public key");
      }
    }
    return { entryPart: { type: "kms", algorithm: alg, spki: spki.toString("base64"), keyRef: uri }, signer };
  }
}

export async function signCertificate(t: CertificateTemplate, signer: Signer, alg: SignatureAlgorithm): Promise<Buffer> {
  return signTbs(tbsCertificate(t, alg), signer, alg);
}

export function caSignatureAlgorithm(signer: Signer, signatureBits: number, usePss: boolean): SignatureAlgorithm {
  return signatureAlgorithm(signer.algorithm, signatureBits, usePss);
}

export function certPem(derBytes: Buffer): string {
  return pem(derBytes, "CERTIFICATE");
}

export function serialOf(cert: ParsedCertificate): string {
  return serialToString(cert.serial);
}
