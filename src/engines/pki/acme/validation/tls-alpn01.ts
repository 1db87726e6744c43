/**
 * tls-alpn-01 (RFC 8737): a TLS handshake with ALPN "acme-tls/1" and SNI the name; the self-signed certificate
 * offered must name exactly the identifier and carry the critical id-pe-acmeIdentifier extension holding
 * SHA-256(key authorization). Connects only to permitted addresses; the handshake is bounded by the timeout.
 */
import { createHash } from "node:crypto";
import { isIP } from "node:net";
import { connect } from "node:tls";
import * as der from "../../der.js";
import * as x from "../../x509.js";
import type { Identifier } from "../acme-store.js";
import { problem } from "../problem.js";
import type { AddressPolicy } from "./address-policy.js";
import type { AcmeResolver } from "./resolver.js";
import { firstAnswer, permittedAddresses } from "./targets.js";

export const ACME_IDENTIFIER_OID = "1.3.6.1.5.5.7.1.31";

export interface TlsAlpnCheck {
  id: Identifier;
  keyAuthorization: string;
  port: number;
  resolver: AcmeResolver;
  policy: AddressPolicy;
  timeoutMs: number;
}

export async function checkTlsAlpn01(c: TlsAlpnCheck): Promise<void> {
  const addresses = await permittedAddresses(c.id, c.resolver, c.policy);
  const certDer = await firstAnswer(addresses, (a) => handshake(a, c));
  verifyChallengeCert(certDer, c.id, c.keyAuthorization);
}

function handshake(address: string, c: TlsAlpnCheck): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: address,
      port: c.port,
      ALPNProtocols: ["acme-tls/1"],
      // RFC 8738 §6: an IP identifier is sent as its reverse-DNS name; a DNS one as itself.
      servername: c.id.type === "dns" ? c.id.value : reverseName(c.id.value),
      rejectUnauthorized: false,
      timeout: c.timeoutMs,
    });
    const fail = (p: ReturnType<typeof problem>): void => {
      socket.destroy();
      reject(p);
    };
    socket.on("secureConnect", () => {
      if (socket.alpnProtocol !== "acme-tls/1") return fail(problem("tls", "the server did not negotiate the acme-tls/1 protocol", 403));
      const cert = socket.getPeerX509Certificate();
      socket.end();
      if (!cert) return reject(problem("tls", "the server presented no certificate", 403));
      resolve(cert.raw);
    });
    socket.on("timeout", () => fail(problem("connection", `TLS handshake with ${c.id.value} timed out`)));
    socket.on("error", (err: Error) => fail(problem("connection", `TLS connection to ${c.id.value} failed: ${(err as { code?: string }).code ?? err.message}`)));
  });
}

function reverseName(ip: string): string {
  if (isIP(ip) === 4) return `${ip.split(".").reverse().join(".")}.in-addr.arpa`;
  return `${x.ipBytes(ip).toString("hex").split("").reverse().join(".")}.ip6.arpa`;
}

export function verifyChallengeCert(certDer: Buffer, id: Identifier, keyAuthorization: string): void {
  let cert: x.ParsedCertificate;
  try {
    cert = x.parseCertificate(certDer);
  } catch {
    throw problem("tls", "the challenge certificate could not be parsed", 403);
  }
  const san = cert.extensions.get(x.EXT.subjectAltName);
  const names = san ? x.parseGeneralNames(san.value) : undefined;
  const only = id.type === "dns" ? names?.dns.length === 1 && names.dns[0].toLowerCase() === id.value && names.ip.length === 0 : names?.ip.length === 1 && names.ip[0] === id.value && names.dns.length === 0;
  if (!only) throw problem("unauthorized", "the challenge certificate must name exactly the identifier", 403);
  const ext = cert.extensions.get(ACME_IDENTIFIER_OID);
  if (!ext?.critical) throw problem("unauthorized", "the challenge certificate lacks the critical acmeIdentifier extension", 403);
  const want = der.octets(createHash("sha256").update(keyAuthorization).digest());
  if (!ext.value.equals(want)) throw problem("incorrectResponse", "the acmeIdentifier extension does not match the key authorization", 403);
}
