/**
 * Storage-backed state of a PKI mount. The key layout is documented at the top of backend.ts (an on-disk
 * format). Records are JSON; certificates are stored as PEM exactly as served, so reads do no encoding work.
 */
import { randomUUID } from "node:crypto";
import { invalidRequest, notFound } from "../../common/errors.js";
import { getJson, putJson } from "../../core/view.js";
import type { KeyAlgorithm } from "../../hsm/key-manager.js";
import type { KeyValueReader, KeyValueWriter } from "../../storage/storage.js";

type Reader = KeyValueReader;
type Writer = KeyValueWriter;

export interface KeyEntry {
  id: string;
  name: string;
  /** internal: PKCS#8 below, inside the barrier. kms: the private key stays in the HSM named by keyRef. */
  type: "internal" | "kms";
  algorithm: KeyAlgorithm;
  /** SubjectPublicKeyInfo DER, base64 (public: lets set-signed/import match certificates to keys). */
  spki: string;
  privateKeyPem?: string;
  /** PKCS#11 URI (RFC 7512) of the private key, for kms keys. */
  keyRef?: string;
  /** The reference the caller gave (OpenBao's external_key_ref), echoed back on reads. */
  externalKeyRef?: string;
}

export type LeafNotAfterBehavior = "err" | "truncate" | "permit";

export interface IssuerEntry {
  id: string;
  name: string;
  /** "" when the mount holds the certificate without its key (an imported chain parent). */
  keyId: string;
  certificate: string;
  /** Parents above this issuer (PEM), nearest first; the served chain is [certificate, ...caChain]. */
  caChain: string[];
  serialNumber: string;
  /** Unix seconds. */
  notAfter: number;
  usage: string[];
  leafNotAfterBehavior: LeafNotAfterBehavior;
  revocationSignatureAlgorithm: string;
  issuingCertificates: string[];
  crlDistributionPoints: string[];
  ocspServers: string[];
  revoked: boolean;
  /** Unix ms of the last change to the certificate or chain (Last-Modified of the CA fetches); absent on old records. */
  lastModified?: number;
}

export interface IssuersConfig {
  default: string;
  defaultFollowsLatestIssuer: boolean;
  /** Unix ms of the last change of the default issuer (Last-Modified of `ca`, `ca/pem`, …). */
  lastModified?: number;
}

export interface KeysConfig {
  default: string;
}

export interface UrlsConfig {
  issuingCertificates: string[];
  crlDistributionPoints: string[];
  ocspServers: string[];
  enableTemplating: boolean;
  /** Where delta CRLs are published (Freshest CRL of base CRLs); absent on old records. */
  deltaCrlDistributionPoints?: string[];
}

/** `config/cluster`: this cluster's externally reachable mount path, for templated AIA URLs (and ACME). */
export interface ClusterConfig {
  path: string;
  aiaPath: string;
}

/** The AIA / CDP URLs that go into certificates and CRLs, templates resolved. */
export interface AiaUrls {
  issuingCertificates: string[];
  crlDistributionPoints: string[];
  ocspServers: string[];
  deltaCrlDistributionPoints: string[];
}

export interface CrlConfig {
  /** Seconds a CRL is valid (nextUpdate − thisUpdate). */
  expiry: number;
  disable: boolean;
  ocspDisable: boolean;
  /** Seconds an OCSP answer is valid (0 = no nextUpdate). */
  ocspExpiry: number;
  autoRebuild: boolean;
  /** Publish delta CRLs beside the base CRL (base carries Freshest CRL; delta the Delta CRL Indicator). */
  enableDelta: boolean;
  /** Seconds: how stale a delta CRL may get before a fetch rebuilds it. */
  deltaRebuildInterval: number;
  /** Seconds before a CRL's nextUpdate at which auto_rebuild rebuilds it (stored and checked, see crlConfigView). */
  autoRebuildGracePeriod: number;
  /**
   * The duration fields as the caller wrote them ("48h", "2880m", "172800"), read back exactly as OpenBao
   * does: configuration tools compare what they wrote with what they read and report drift otherwise.
   */
  given?: Partial<Record<CrlDurationField, string>>;
}

export type CrlDurationField = "expiry" | "ocspExpiry" | "deltaRebuildInterval" | "autoRebuildGracePeriod";

export interface CertEntry {
  serial: string;
  certificate: string;
  issuerId: string;
  /** Unix seconds. */
  notAfter: number;
}

export interface RevokedEntry {
  serial: string;
  issuerId: string;
  /** Unix seconds. */
  revocationTime: number;
  notAfter: number;
  certificate: string;
}

export interface CrlRecord {
  number: number;
  der: string;
  thisUpdate: number;
  /** Base CRLs: the serials listed, so a delta CRL can list exactly the revocations made since. */
  included?: string[];
  /** Delta CRLs: the number of the base CRL this delta extends. */
  baseNumber?: number;
}

/** `crl-numbers/<crl issuer id>`: the last CRL number a CRL issuer published (base or delta). */
export interface CrlNumber {
  last: number;
}

export const K = {
  issuersConfig: "config/issuers",
  keysConfig: "config/keys",
  urls: "config/urls",
  crl: "config/crl",
  cluster: "config/cluster",
  key: (id: string) => `keys/${id}`,
  issuer: (id: string) => `issuers/${id}`,
  role: (name: string) => `roles/${name}`,
  cert: (serial: string) => `certs/${serial.replace(/:/g, "-")}`,
  revoked: (serial: string) => `revoked/${serial.replace(/:/g, "-")}`,
  /** By CRL issuer id (crl-issuer.ts); by issuer id for the records from before CRL issuers. */
  crlOf: (id: string) => `crls/${id}`,
  deltaCrlOf: (id: string) => `delta-crls/${id}`,
  crlNumber: (crlIssuerId: string) => `crl-numbers/${crlIssuerId}`,
  tidyStatus: "tidy/status",
} as const;

export const DEFAULT_CRL_CONFIG: CrlConfig = {
  expiry: 72 * 3600,
  disable: false,
  ocspDisable: false,
  ocspExpiry: 12 * 3600,
  autoRebuild: false,
  enableDelta: false,
  deltaRebuildInterval: 15 * 60,
  autoRebuildGracePeriod: 12 * 3600,
  // OpenBao's defaults are these strings.
  given: { expiry: "72h", ocspExpiry: "12h", deltaRebuildInterval: "15m", autoRebuildGracePeriod: "12h" },
};

export const newId = (): string => randomUUID();

export async function loadIssuersConfig(s: Reader): Promise<IssuersConfig> {
  return (await getJson<IssuersConfig>(s, K.issuersConfig)) ?? { default: "", defaultFollowsLatestIssuer: false };
}

export async function loadKeysConfig(s: Reader): Promise<KeysConfig> {
  return (await getJson<KeysConfig>(s, K.keysConfig)) ?? { default: "" };
}

export async function loadUrls(s: Reader): Promise<UrlsConfig> {
  return (await getJson<UrlsConfig>(s, K.urls)) ?? { issuingCertificates: [], crlDistributionPoints: [], ocspServers: [], enableTemplating: false };
}

export async function loadCluster(s: Reader): Promise<ClusterConfig> {
  return { path: "", aiaPath: "", ...(await getJson<Partial<ClusterConfig>>(s, K.cluster)) };
}

const URL_TEMPLATE = /\{\{\s*([a-z_]+)\s*\}\}/g;

/**
 * Resolves `{{cluster_path}}`, `{{cluster_aia_path}}` and `{{issuer_id}}` (config/urls with
 * enable_templating=true). A template that needs an unset config/cluster value, or an unknown template,
 * is a 400 naming what is missing.
 */
export function templateUrl(url: string, cluster: ClusterConfig, issuerId: string): string {
  return url.replace(URL_TEMPLATE, (_m, name: string) => {
    switch (name) {
      case "issuer_id":
        return issuerId;
      case "cluster_path":
        if (!cluster.path) throw invalidRequest("unable to template AIA URLs: {{cluster_path}} is used but config/cluster has no path");
        return cluster.path;
      case "cluster_aia_path":
        if (!cluster.aiaPath) throw invalidRequest("unable to template AIA URLs: {{cluster_aia_path}} is used but config/cluster has no aia_path");
        return cluster.aiaPath;
      default:
        throw invalidRequest(`unknown AIA URL template {{${name}}} (cluster_path, cluster_aia_path, issuer_id)`);
    }
  });
}

/** The mount's AIA / CDP URLs for certificates and CRLs of `issuerId`, templates resolved when enabled. */
export async function aiaUrls(s: Reader, issuerId: string): Promise<AiaUrls> {
  const u = await loadUrls(s);
  const out: AiaUrls = {
    issuingCertificates: u.issuingCertificates,
    crlDistributionPoints: u.crlDistributionPoints,
    ocspServers: u.ocspServers,
    deltaCrlDistributionPoints: u.deltaCrlDistributionPoints ?? [],
  };
  if (!u.enableTemplating) return out;
  const cluster = await loadCluster(s);
  const t = (list: string[]): string[] => list.map((url) => templateUrl(url, cluster, issuerId));
  return {
    issuingCertificates: t(out.issuingCertificates),
    crlDistributionPoints: t(out.crlDistributionPoints),
    ocspServers: t(out.ocspServers),
    deltaCrlDistributionPoints: t(out.deltaCrlDistributionPoints),
  };
}

export async function loadCrlConfig(s: Reader): Promise<CrlConfig> {
  return { ...DEFAULT_CRL_CONFIG, ...(await getJson<Partial<CrlConfig>>(s, K.crl)) };
}

export async function listIssuers(s: Reader): Promise<IssuerEntry[]> {
  const ids = await s.list("issuers/");
  const out: IssuerEntry[] = [];
  for (const id of ids) {
    const e = await getJson<IssuerEntry>(s, K.issuer(id));
    if (e) out.push(e);
  }
  return out;
}

export async function listKeys(s: Reader): Promise<KeyEntry[]> {
  const ids = await s.list("keys/");
  const out: KeyEntry[] = [];
  for (const id of ids) {
    const e = await getJson<KeyEntry>(s, K.key(id));
    if (e) out.push(e);
  }
  return out;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** issuer_ref: "default", an issuer id, or an issuer name. */
export async function resolveIssuer(s: Reader, ref: string): Promise<IssuerEntry> {
  let r = ref === "" ? "default" : ref;
  if (r === "default") {
    r = (await loadIssuersConfig(s)).default;
    if (!r) throw invalidRequest("no default issuer currently configured");
  }
  if (UUID.test(r)) {
    const e = await getJson<IssuerEntry>(s, K.issuer(r));
    if (e) return e;
  }
  const byName = (await listIssuers(s)).find((i) => i.name === r);
  if (!byName) throw notFound(`unable to find PKI issuer for reference: ${ref}`);
  return byName;
}

export async function resolveKey(s: Reader, ref: string): Promise<KeyEntry> {
  let r = ref === "" ? "default" : ref;
  if (r === "default") {
    r = (await loadKeysConfig(s)).default;
    if (!r) throw invalidRequest("no default key currently configured");
  }
  if (UUID.test(r)) {
    const e = await getJson<KeyEntry>(s, K.key(r));
    if (e) return e;
  }
  const byName = (await listKeys(s)).find((k) => k.name === r);
  if (!byName) throw notFound(`unable to find PKI key for reference: ${ref}`);
  return byName;
}

export async function assertNameFree(s: Reader, kind: "issuer" | "key", name: string, selfId = ""): Promise<void> {
  if (name === "") return;
  if (name === "default" || UUID.test(name)) throw invalidRequest(`${kind} name "${name}" is reserved`);
  if (!/^[\w.-]+$/.test(name)) throw invalidRequest(`${kind} name "${name}" contains invalid characters`);
  const all = kind === "issuer" ? await listIssuers(s) : await listKeys(s);
  if (all.some((e) => e.name === name && e.id !== selfId)) throw invalidRequest(`${kind} name "${name}" is already in use`);
}

export const putRecord = (s: Writer, key: string, v: unknown): Promise<void> => putJson(s, key, v);
export const getRecord = <T>(s: Reader, key: string): Promise<T | undefined> => getJson<T>(s, key);
