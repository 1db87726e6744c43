// A service's key pair in its own token, and the CSR it signs there.
//
// The key is made through the PKCS#11 key manager (createKey: CKA_SENSITIVE, never CKA_EXTRACTABLE, CKA_ID
// derived from the public key) and used through its Signer, so the private half never leaves the token: the
// CSR's TBS bytes go in, a signature comes out. The CSR is encoded with the PKI engine's own X.509 code,
// the code that already writes the CA's CSRs from HSM keys.
import type { KeyManager, Signer } from "../hsm/key-manager.js";
import { KeyNotFoundError } from "../hsm/key-errors.js";
import { parsePkcs11Uri } from "../hsm/uri.js";
import { keyAlgorithmFor, signatureAlgorithm } from "../engines/pki/ca-keys.js";
import { buildCsrInfo, buildName, emptyAltNames, pem, signTbs, subjectAltName } from "../engines/pki/x509.js";
import type { CertificateConfig } from "./config.js";

/** What is wrong with a certificate block's key (a config problem the operator must fix, not a transient one). */
export class ServiceKeyError extends Error {
  override readonly name = "ServiceKeyError";
}

export interface ServiceKey {
  signer: Signer;
  /** True when this call generated the pair. */
  created: boolean;
}

/** The key a certificate block names: found in its token, or generated there when no object has its label. */
export async function ensureServiceKey(km: KeyManager, cert: CertificateConfig): Promise<ServiceKey> {
  const wanted = keyAlgorithmFor(cert.keyType, cert.keyBits);
  try {
    const signer = await km.createSigner(cert.key);
    if (signer.algorithm !== wanted) {
      throw new ServiceKeyError(`certificate "${cert.name}": the key in the token is ${signer.algorithm}, but key_type/key_bits ask for ${wanted}`);
    }
    return { signer, created: false };
  } catch (err) {
    if (!(err instanceof KeyNotFoundError)) throw err;
  }
  const uri = parsePkcs11Uri(cert.key);
  // createKey derives CKA_ID from the public key: a URI that insists on another id would never find the new key.
  if (uri.id !== undefined) throw new ServiceKeyError(`certificate "${cert.name}": no key matches ${cert.key}; to let the agent create it, name it by object= only`);
  await km.createKey({ algorithm: wanted, label: uri.object ?? cert.name, hsm: cert.hsm });
  return { signer: await km.createSigner(cert.key), created: true };
}

/** A PEM CSR for the block's names, signed inside the token by `signer`. */
export async function buildCsr(signer: Signer, cert: Pick<CertificateConfig, "commonName" | "altNames" | "ipSans">): Promise<string> {
  const names = emptyAltNames();
  names.dns.push(...cert.altNames.filter((n) => !n.includes("@")));
  names.email.push(...cert.altNames.filter((n) => n.includes("@")));
  names.ip.push(...cert.ipSans);
  if (!names.dns.includes(cert.commonName) && !cert.commonName.includes("@") && !isIpLiteral(cert.commonName)) names.dns.unshift(cert.commonName);
  const san = subjectAltName(names);
  const spki = signer.publicKey.export({ type: "spki", format: "der" });
  const info = buildCsrInfo(buildName({ commonName: cert.commonName }), spki, san ? [san] : []);
  const der = await signTbs(info, signer, signatureAlgorithm(signer.algorithm, 0, false));
  return pem(der, "CERTIFICATE REQUEST");
}

function isIpLiteral(s: string): boolean {
  return /^[0-9.]+$/.test(s) || s.includes(":");
}
