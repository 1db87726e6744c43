/**
 * The connection facts a request carries into the core: over TLS, the client certificate chain as the
 * handshake delivered it (the cert auth method verifies it; the listener only asks for it).
 */
import type { Socket } from "node:net";
import type { DetailedPeerCertificate } from "node:tls";
import type { ConnectionInfo } from "../core/framework/request.js";

/** What a TLS socket (or list-verb.ts's wrapper around one) offers; plain sockets have neither. */
interface PeerCertificateSource {
  encrypted?: boolean;
  getPeerCertificate?: (detailed: true) => DetailedPeerCertificate | Record<string, never> | null;
}

/** Longest chain taken from a handshake: more than any real PKI, and bounds the work a client can cause. */
const MAX_CHAIN = 10;

/** undefined for plain HTTP; over TLS the peer's chain, leaf first (empty when it sent no certificate). */
export function connectionInfo(socket: Socket): ConnectionInfo | undefined {
  const s = socket as Socket & PeerCertificateSource;
  if (s.encrypted !== true || typeof s.getPeerCertificate !== "function") return undefined;
  const peerCertificates: Buffer[] = [];
  let cert = s.getPeerCertificate(true);
  // Node links each certificate to its issuer; a self-signed one links to itself.
  while (cert && "raw" in cert && Buffer.isBuffer(cert.raw) && peerCertificates.length < MAX_CHAIN) {
    const der = cert.raw;
    if (peerCertificates.some((c) => c.equals(der))) break;
    peerCertificates.push(der);
    cert = cert.issuerCertificate;
  }
  return { peerCertificates };
}
