/**
 * What every path of the barbican engine shares: this project's id tag, where refs point, who the caller is,
 * and how payloads are kept (the `PayloadSealer` seam: today barrier-encrypted mount storage, next the
 * project's key-chain KEK).
 */
import type { Request } from "../../core/framework/request.js";
import type { QuotaCache } from "./quotas.js";

/** Request headers the Barbican wire format passes to the engine (never credentials). */
export const HREF_HEADER = "barbican-href";
export const USER_HEADER = "barbican-user";
export const ACCEPT_HEADER = "accept";

/**
 * How a secret's payload is stored. `seal` returns the stored form for plaintext bytes; `open` reverses it.
 * The stored form is written inside the mount's (barrier-encrypted) storage either way.
 */
export interface PayloadSealer {
  readonly kind: string;
  seal(plaintext: Buffer, secretId: string): Promise<StoredPayload>;
  open(stored: StoredPayload, secretId: string): Promise<Buffer>;
}

export interface StoredPayload {
  /** Which sealer wrote it ("barrier": the bytes as base64, protected by the barrier alone). */
  kind: string;
  data: string;
}

/** The payload kept as base64 in mount storage: the barrier's encryption is its only protection. */
export const barrierSealer: PayloadSealer = {
  kind: "barrier",
  seal: async (plaintext) => ({ kind: "barrier", data: plaintext.toString("base64") }),
  open: async (stored) => {
    if (stored.kind !== "barrier") throw new Error(`payload sealed by "${stored.kind}", which this server does not have`);
    return Buffer.from(stored.data, "base64");
  },
};

/** What a certificate order asks of the CA: a key generated there (`commonName`) or a CSR signed (`csr`, PEM). */
export type CertificateRequest = { commonName: string } | { csr: string };

/** What the CA answered: PEM texts (the private key only when the CA generated it). */
export interface IssuedCertificate {
  certificate: string;
  intermediates: string[];
  privateKey?: string;
}

/** Issues certificates for one project's certificate orders (a PKI mount and role the operator chose). */
export interface CertificateIssuer {
  issue(request: CertificateRequest): Promise<IssuedCertificate>;
}

export interface BarbicanEnv {
  /** This project's id tag (barbican-ids.ts). */
  tag: string;
  sealer: PayloadSealer;
  /** The project's quotas, read once per mount (quotas.ts). */
  quotas: QuotaCache;
  /** Absent: no CA configured, certificate orders are refused. */
  issuer?: CertificateIssuer;
}

/** The base of every ref (`http://host:port/barbican`), as the wire format computed it. */
export function baseHref(req: Request): string {
  return req.headers?.[HREF_HEADER] ?? "";
}

/** The calling user's id (Barbican's creator_id and ACL user), or null when the caller has none. */
export function callerUser(req: Request): string | null {
  const u = req.headers?.[USER_HEADER];
  return u === undefined || u === "" ? null : u;
}

/**
 * Barbican's project admin: a caller holding the shipped `barbican-admin` policy (or root). Only ACL checks
 * ask this; everything else is the pipeline's ACL policy.
 */
export function isProjectAdmin(req: Request): boolean {
  const p = req.caller?.policies ?? [];
  return p.includes("root") || p.includes("barbican-admin");
}
