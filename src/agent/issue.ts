// One certificate block, once: key in the token (made if missing), CSR signed there, `pki/sign/:role`,
// files written. Also reads back what is on disk, so a restarted agent keeps a certificate that is still good.
import { readFile } from "node:fs/promises";
import { ApiError, isRecord, type ArcaClient } from "../cli/client.js";
import type { KeyManager } from "../hsm/key-manager.js";
import { parseCertificate, pemBlocks } from "../engines/pki/x509.js";
import { writeFileAtomic } from "./atomic-file.js";
import type { AutoAuth } from "./auto-auth.js";
import type { CertificateConfig } from "./config.js";
import { buildCsr, ensureServiceKey } from "./service-key.js";

/** Certificates and chains are public: readable by the service's user whatever it is. */
export const CERT_FILE_MODE = 0o644;

export interface CertificateState {
  serial: string;
  notBefore: Date;
  notAfter: Date;
  issuedAt?: Date;
}

export interface IssueResult extends CertificateState {
  keyCreated: boolean;
}

/** The server refused the request (a 4xx other than an expired token): retrying will not help until the config or role changes. */
export class CertificateRefusedError extends Error {
  override readonly name = "CertificateRefusedError";
}

export interface IssueDeps {
  client: ArcaClient;
  auth: AutoAuth;
  keys: KeyManager;
}

export async function issueCertificate(deps: IssueDeps, cert: CertificateConfig): Promise<IssueResult> {
  const { signer, created } = await ensureServiceKey(deps.keys, cert);
  const csr = await buildCsr(signer, cert);
  const body: Record<string, string> = {
    csr,
    common_name: cert.commonName,
    format: "pem",
    ...(cert.altNames.length > 0 ? { alt_names: cert.altNames.join(",") } : {}),
    ...(cert.ipSans.length > 0 ? { ip_sans: cert.ipSans.join(",") } : {}),
    ...(cert.ttl !== undefined ? { ttl: cert.ttl } : {}),
  };
  const path = `${cert.mount}/sign/${cert.role}`;
  const data = await signRequest(deps, path, body, cert.name);

  const leafPem = typeof data.certificate === "string" ? data.certificate.trim() : "";
  const leaf = parseCertificate(singleCertificate(leafPem, cert.name));
  const mine = signer.publicKey.export({ type: "spki", format: "der" });
  // The server must have certified *our* key: a certificate for another key would be useless and would
  // hide a broken server or a man in the middle.
  if (!leaf.spki.equals(mine)) throw new CertificateRefusedError(`certificate "${cert.name}": the server returned a certificate for a different key`);
  const issuing = typeof data.issuing_ca === "string" ? data.issuing_ca.trim() : "";
  const chain = Array.isArray(data.ca_chain) ? data.ca_chain.filter((c): c is string => typeof c === "string").map((c) => c.trim()) : issuing ? [issuing] : [];

  // The chain and CA first, the certificate last: a reader that polls cert_file finds its chain ready.
  if (cert.caFile !== undefined && issuing) await writeFileAtomic(cert.caFile, `${issuing}\n`, CERT_FILE_MODE);
  if (cert.chainFile !== undefined) await writeFileAtomic(cert.chainFile, `${[leafPem, ...chain].join("\n")}\n`, CERT_FILE_MODE);
  await writeFileAtomic(cert.certFile, `${leafPem}\n`, CERT_FILE_MODE);
  return { serial: serialOf(data, leaf.serial), notBefore: leaf.notBefore, notAfter: leaf.notAfter, issuedAt: new Date(), keyCreated: created };
}

/** What cert_file holds now, if it is a certificate for the block's key; undefined otherwise. */
export async function currentCertificate(keys: KeyManager, cert: CertificateConfig): Promise<CertificateState | undefined> {
  let text: string;
  try {
    text = await readFile(cert.certFile, "utf8");
  } catch {
    return undefined;
  }
  try {
    const parsed = parseCertificate(singleCertificate(text, cert.name));
    const publicKey = await keys.getPublicKey(cert.key);
    if (!parsed.spki.equals(publicKey.export({ type: "spki", format: "der" }))) return undefined;
    return { serial: parsed.serial.toString("hex"), notBefore: parsed.notBefore, notAfter: parsed.notAfter };
  } catch {
    // Unreadable, foreign or for a key the token does not hold: issue a new one.
    return undefined;
  }
}

async function signRequest(deps: IssueDeps, path: string, body: Record<string, string>, name: string): Promise<Record<string, unknown>> {
  for (let attempt = 0; ; attempt++) {
    const token = await deps.auth.token();
    const res = await deps.client.raw("PUT", path, { body, token });
    if (res.status === 403 && attempt === 0) {
      // An expired or revoked token answers 403 like a missing policy does: log in again once to tell them apart.
      deps.auth.invalidate();
      continue;
    }
    if (res.status >= 400) {
      const errors = isRecord(res.body) && Array.isArray(res.body.errors) ? res.body.errors.map(String) : [];
      const e = new ApiError(res.status, "PUT", deps.client.url(path).toString(), errors, res.body);
      if (res.status < 500) throw new CertificateRefusedError(`certificate "${name}": ${path} refused: ${e.message}`);
      throw e;
    }
    const data = isRecord(res.body) && isRecord(res.body.data) ? res.body.data : undefined;
    if (!data) throw new CertificateRefusedError(`certificate "${name}": ${path} answered without data`);
    return data;
  }
}

function singleCertificate(text: string, name: string): Buffer {
  const blocks = pemBlocks(text, "certificate").filter((b) => b.label === "CERTIFICATE");
  if (blocks.length === 0) throw new CertificateRefusedError(`certificate "${name}": no PEM certificate in the answer`);
  return blocks[0].der;
}

function serialOf(data: Record<string, unknown>, raw: Buffer): string {
  return typeof data.serial_number === "string" ? data.serial_number : raw.toString("hex");
}
