/**
 * OpenBao's listener TLS settings, translated for node:tls: protocol versions (`tls12` → "TLSv1.2") and
 * Go cipher-suite names (`TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256` → "ECDHE-RSA-AES128-GCM-SHA256"). A
 * value that cannot be translated is refused: a listener weaker or more open than its config says is
 * worse than one that does not start.
 */
import type { SecureVersion } from "node:tls";

const VERSIONS: Readonly<Record<string, SecureVersion>> = {
  tls10: "TLSv1",
  tls11: "TLSv1.1",
  tls12: "TLSv1.2",
  tls13: "TLSv1.3",
};
const VERSION_ORDER: readonly SecureVersion[] = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"];

/** OpenBao's names ("tls12"); undefined for anything else. */
export function tlsVersionFromOpenBao(name: string): SecureVersion | undefined {
  return Object.hasOwn(VERSIONS, name) ? VERSIONS[name] : undefined;
}

export const TLS_VERSION_NAMES = Object.keys(VERSIONS);

export function tlsVersionAtMost(a: SecureVersion, b: SecureVersion): boolean {
  return VERSION_ORDER.indexOf(a) <= VERSION_ORDER.indexOf(b);
}

/** Go's crypto/tls names of the TLS ≤ 1.2 suites OpenSSL still offers, with their OpenSSL names. */
const TLS12_SUITES: Readonly<Record<string, string>> = {
  TLS_RSA_WITH_AES_128_CBC_SHA: "AES128-SHA",
  TLS_RSA_WITH_AES_256_CBC_SHA: "AES256-SHA",
  TLS_RSA_WITH_AES_128_CBC_SHA256: "AES128-SHA256",
  TLS_RSA_WITH_AES_128_GCM_SHA256: "AES128-GCM-SHA256",
  TLS_RSA_WITH_AES_256_GCM_SHA384: "AES256-GCM-SHA384",
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: "ECDHE-ECDSA-AES128-SHA",
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: "ECDHE-ECDSA-AES256-SHA",
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: "ECDHE-RSA-AES128-SHA",
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: "ECDHE-RSA-AES256-SHA",
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: "ECDHE-ECDSA-AES128-SHA256",
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: "ECDHE-RSA-AES128-SHA256",
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: "ECDHE-RSA-AES128-GCM-SHA256",
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: "ECDHE-ECDSA-AES128-GCM-SHA256",
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: "ECDHE-RSA-AES256-GCM-SHA384",
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: "ECDHE-ECDSA-AES256-GCM-SHA384",
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: "ECDHE-RSA-CHACHA20-POLY1305",
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: "ECDHE-ECDSA-CHACHA20-POLY1305",
  // Go's older aliases of the two above.
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305: "ECDHE-RSA-CHACHA20-POLY1305",
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305: "ECDHE-ECDSA-CHACHA20-POLY1305",
};

/**
 * The TLS 1.3 suites. Go does not let them be configured (tls_cipher_suites only narrows TLS ≤ 1.2) and
 * accepts their names without effect; node would turn TLS 1.3 off when the list names none of them, so
 * all three are always added to keep OpenBao's behaviour.
 */
const TLS13_SUITES = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"];

/** OpenSSL cipher string for node's `ciphers`; throws with the offending name when one cannot be mapped. */
export function opensslCiphersFromGo(list: string): string {
  const names = list
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (names.length === 0) throw new Error("lists no cipher suite");
  const out: string[] = [];
  for (const name of names) {
    if (TLS13_SUITES.includes(name)) continue;
    const mapped = Object.hasOwn(TLS12_SUITES, name) ? TLS12_SUITES[name] : undefined;
    if (!mapped) throw new Error(`cipher suite "${name}" is unknown or not offered by this server (RC4 and 3DES suites are not)`);
    if (!out.includes(mapped)) out.push(mapped);
  }
  return [...TLS13_SUITES, ...out].join(":");
}
