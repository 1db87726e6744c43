/**
 * The PKI secrets engine (mount type "pki"), wire-compatible with OpenBao's multi-issuer PKI API. CA keys
 * are either software keys kept inside the barrier (internal / exported) or HSM keys named by PKCS#11 URI
 * (kms, or imported by key_ref) whose private half never leaves the token: the engine holds only the URI
 * and the public key, and signs through the KeyManager's Signer.
 *
 * STORAGE LAYOUT — an on-disk format, forever. Keys are relative to the mount's storage view. Values are
 * JSON (records in pki-store.ts); certificates are PEM strings exactly as served.
 *
 *   config/issuers            IssuersConfig {default (issuer id | ""), defaultFollowsLatestIssuer, lastModified (unix ms)}
 *   config/keys               KeysConfig {default (key id | "")}
 *   config/urls               UrlsConfig {issuingCertificates[], crlDistributionPoints[], ocspServers[], enableTemplating,
 *                             deltaCrlDistributionPoints[]}
 *   config/crl                CrlConfig {expiry (s), disable, ocspDisable, ocspExpiry (s), autoRebuild, enableDelta,
 *                             deltaRebuildInterval (s), autoRebuildGracePeriod (s)?, given? {field: text as written}}
 *   keys/<key id>             KeyEntry {id (uuid), name, type "internal"|"kms", algorithm, spki (base64 DER),
 *                             privateKeyPem (internal only), keyRef (kms: PKCS#11 URI), externalKeyRef?}
 *   issuers/<issuer id>       IssuerEntry {id (uuid), name, keyId ("" = no key here), certificate (PEM),
 *                             caChain (parents, PEM, nearest first), serialNumber, notAfter (unix s), usage[],
 *                             leafNotAfterBehavior, revocationSignatureAlgorithm, per-issuer AIA/CDP URLs, revoked,
 *                             lastModified (unix ms; Last-Modified of CA fetches)}
 *   roles/<name>              Role (camelCase record of the wire fields; absent fields take defaults on read)
 *   certs/<serial>            CertEntry {serial, certificate (PEM), issuerId, notAfter (unix s)}; <serial> is
 *                             lowercase hex octets joined by "-" (OpenBao's storage form of "39:dd:…")
 *   revoked/<serial>          RevokedEntry {serial, issuerId, revocationTime (unix s), notAfter, certificate}; it counts
 *                             for the CRL issuer of issuerId, or, when that record is gone, for the CRL issuer whose
 *                             name and key verify the certificate's signature.
 *   config/cluster            ClusterConfig {path, aiaPath} ({{cluster_path}} / {{cluster_aia_path}} in config/urls)
 *   crls/<crl issuer id>      CrlRecord {number (CRL Number), der (base64), thisUpdate (unix s), included (serials
 *                             listed; base CRLs)}. A CRL issuer (crl-issuer.ts) is every issuer record whose
 *                             certificate has one subject and one public key; its id is the hex SHA-256 of subject
 *                             DER ‖ SPKI DER. All its records serve this one CRL, listing the revocations of all.
 *   delta-crls/<crl issuer id> CrlRecord of the delta CRL {…, baseNumber}
 *   crl-numbers/<crl issuer id> CrlNumber {last}: the last CRL number published (base and delta share the sequence);
 *                             kept when the CRL issuer's records are deleted, so a CA imported again continues it.
 *   crls/<issuer id>, delta-crls/<issuer id>  (issuer UUIDs: records from before CRL issuers) read once for their
 *                             numbers at the first rebuild of their CRL issuer, then deleted.
 *   tidy/status               last tidy run
 *   config/acme, acme/…       the ACME server's configuration, accounts, orders, authorizations, EAB keys and used
 *                             nonces: layout in acme/acme-store.ts
 *
 * Why this shape: issuance (the hot path) reads config/issuers, issuers/<id> and roles/<name> — three point
 * reads — and writes one certs/ entry; serials are keys so cert/:serial, revoke and OCSP are point lookups.
 * Keys and issuers are separate records (as in OpenBao ≥1.11) so one key can back several issuers (rotation,
 * cross-signing) and an imported chain parent can exist without a key.
 */
import type { LeaseBounds, SystemView } from "../../core/framework/system-view.js";
import { LogicalBackend } from "../../core/framework/backend.js";
import type { MountEntry } from "../../core/mounts.js";
import type { KeyManager } from "../../hsm/key-manager.js";
import { acmePaths } from "./acme/acme-paths.js";
import { AcmeValidator, type ValidatorOptions } from "./acme/validator.js";
import { CaRuntime } from "./ca.js";
import { fetchPaths } from "./path-fetch.js";
import { intermediatePaths } from "./path-intermediate.js";
import { issuePaths } from "./path-issue.js";
import { issuerPaths } from "./path-issuers.js";
import { keyPaths } from "./path-keys.js";
import { ocspPaths } from "./path-ocsp.js";
import { revokePaths } from "./path-revoke.js";
import { rolePaths } from "./path-roles.js";
import { rootPaths } from "./path-root.js";
import { tidyPaths } from "./path-tidy.js";

const HELP = `
The PKI backend dynamically generates X.509 certificates. CA keys may live in software (inside the
barrier) or in an HSM (type kms, or imported with key_ref), in which case they never leave it.
`;

export interface PkiBackendOptions {
  /** Where kms keys are created and HSM keys are resolved; without it, kms requests are refused. */
  keyManager?: KeyManager;
  /** The mount's lease TTLs now (default and max), for roles without their own ttl / max_ttl. */
  leaseBounds?: () => LeaseBounds;
  /** ACME challenge validation (tests substitute the resolver and shorten the retries). */
  acmeValidation?: ValidatorOptions;
  /** The loaded issuers and signers (tests pass their own to look at what is kept). */
  runtime?: CaRuntime;
}

export function createPkiBackendWith(opts: PkiBackendOptions): LogicalBackend {
  const runtime = opts.runtime ?? new CaRuntime(opts.keyManager);
  const validator = new AcmeValidator(opts.acmeValidation);
  return new LogicalBackend({
    type: "pki",
    paths: [
      ...rootPaths(runtime),
      ...intermediatePaths(runtime),
      ...issuerPaths(runtime),
      ...keyPaths(runtime),
      ...rolePaths(),
      ...issuePaths(runtime, opts.leaseBounds),
      ...revokePaths(runtime),
      ...fetchPaths(runtime),
      ...ocspPaths(runtime),
      ...tidyPaths(runtime),
      ...acmePaths(runtime, validator),
    ],
    // OpenBao's PKI PathsSpecial.Root: DELETE root wipes every issuer and key. sign-self-issued is not
    // served yet; it is listed so that it is sudo-only the day it is.
    rootPaths: ["root", "root/sign-self-issued"],
    unauthenticatedPaths: [
      "cert/*",
      "ca/pem",
      "ca_chain",
      "ca",
      "crl/pem",
      "crl",
      "crl/delta",
      "crl/delta/pem",
      "issuer/+/crl/delta",
      "issuer/+/crl/delta/der",
      "issuer/+/crl/delta/pem",
      "issuer/+/crl/der",
      "issuer/+/crl/pem",
      "issuer/+/crl",
      "issuer/+/pem",
      "issuer/+/der",
      "issuer/+/json",
      "issuers/",
      "ocsp",
      "ocsp/*",
    ],
    help: HELP,
    cleanup: () => validator.close(),
    // Another node changed an issuer or a key (replaced, re-chained, deleted, DELETE root): what was built
    // from the old record (parsed certificate, chain, signer with its private key) is dropped, as the same
    // write does on the node that made it. Roles, CRL settings and the rest are read from storage per request.
    invalidate: async (key) => {
      if (key.startsWith("issuers/")) runtime.forget(key.slice("issuers/".length));
      else if (key.startsWith("keys/")) runtime.forget();
    },
  });
}

export function createPkiBackend(_mount: MountEntry, view: SystemView): LogicalBackend {
  return createPkiBackendWith({ keyManager: view.keyManager, leaseBounds: () => view.leaseBounds() });
}
