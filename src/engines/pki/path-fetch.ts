/**
 * Fetches (unauthenticated, raw bodies — `path_fetch.go`): `ca`, `ca/pem`, `ca_chain`, `crl`, `crl/pem`,
 * `issuer/:ref/crl[/der|/pem]`, `cert/:serial[/raw[/pem]]` (`ca`, `ca_chain`, `crl` as special serials),
 * `certs/` LIST; and `crl/rotate`.
 */
import { notFound } from "../../core/errors.js";
import { definePath, type PathSpec } from "../../core/framework/path.js";
import type { Response } from "../../core/framework/request.js";
import type { KeyValueStore } from "../../storage/storage.js";
import type { CaRuntime } from "./ca.js";
import { crlPem, currentCrl, rebuildCrl } from "./crl.js";
import { getRecord, K, listIssuers, resolveIssuer, type CertEntry, type RevokedEntry } from "./pki-store.js";
import * as x from "./x509.js";

const raw = (contentType: string, body: Buffer | string): Response => ({ raw: { status: 200, contentType, body } });

export function fetchPaths(runtime: CaRuntime): PathSpec[] {
  const defaultIssuer = async (storage: KeyValueStore) => runtime.load(storage, await resolveIssuer(storage, "default"));

  const certBySerial = async (storage: KeyValueStore, serialIn: string): Promise<{ certificate: string; revocationTime: number; revokedRfc3339: string; issuerId: string }> => {
    if (serialIn === "ca" || serialIn === "ca_chain") {
      const i = await defaultIssuer(storage);
      return { certificate: serialIn === "ca" ? i.chain[0] : i.chain.join("\n"), revocationTime: 0, revokedRfc3339: "", issuerId: i.entry.id };
    }
    const serial = x.normalizeSerial(serialIn);
    if (!serial) throw notFound(`certificate with serial ${serialIn} not found`);
    const rev = await getRecord<RevokedEntry>(storage, K.revoked(serial));
    const cert = await getRecord<CertEntry>(storage, K.cert(serial));
    const certificate = cert?.certificate ?? rev?.certificate;
    if (!certificate) {
      // An issuer's own certificate is fetchable by serial too.
      const issuer = (await listIssuers(storage)).find((i) => i.serialNumber === serial);
      if (!issuer) throw notFound(`certificate with serial ${serial} not found`);
      return { certificate: issuer.certificate, revocationTime: 0, revokedRfc3339: "", issuerId: issuer.id };
    }
    return {
      certificate,
      revocationTime: rev?.revocationTime ?? 0,
      revokedRfc3339: rev ? new Date(rev.revocationTime * 1000).toISOString() : "",
      issuerId: cert?.issuerId ?? rev?.issuerId ?? "",
    };
  };

  const crlFor = async (storage: KeyValueStore, ref: string) => currentCrl(storage, runtime, await resolveIssuer(storage, ref));

  return [
    definePath({ pattern: "ca", operations: { read: async ({ storage }) => raw("application/pkix-cert", x.pemBlocks((await defaultIssuer(storage)).chain[0])[0].der) } }),
    definePath({ pattern: "ca/pem", operations: { read: async ({ storage }) => raw("application/pem-certificate-chain", `${(await defaultIssuer(storage)).chain[0]}\n`) } }),
    definePath({ pattern: "ca_chain", operations: { read: async ({ storage }) => raw("application/pkix-cert", `${(await defaultIssuer(storage)).chain.join("\n")}\n`) } }),
    definePath({ pattern: "cert/ca_chain", operations: { read: async ({ storage }) => ({ data: { certificate: (await defaultIssuer(storage)).chain.join("\n"), ca_chain: (await defaultIssuer(storage)).chain } }) } }),
    definePath({ pattern: "crl", operations: { read: async ({ storage }) => raw("application/pkix-crl", await crlFor(storage, "default")) } }),
    definePath({ pattern: "crl/pem", operations: { read: async ({ storage }) => raw("application/x-pem-file", `${crlPem(await crlFor(storage, "default"))}\n`) } }),
    definePath({ pattern: "cert/crl", operations: { read: async ({ storage }) => ({ data: { certificate: crlPem(await crlFor(storage, "default")), revocation_time: 0 } }) } }),
    definePath({ pattern: "issuer/:issuer_ref/crl", operations: { read: async ({ storage, params }) => ({ data: { crl: crlPem(await crlFor(storage, params.issuer_ref)) } }) } }),
    definePath({ pattern: "issuer/:issuer_ref/crl/der", operations: { read: async ({ storage, params }) => raw("application/pkix-crl", await crlFor(storage, params.issuer_ref)) } }),
    definePath({ pattern: "issuer/:issuer_ref/crl/pem", operations: { read: async ({ storage, params }) => raw("application/x-pem-file", `${crlPem(await crlFor(storage, params.issuer_ref))}\n`) } }),
    definePath({
      pattern: "crl/rotate",
      operations: {
        read: async ({ storage }) => {
          for (const i of await listIssuers(storage)) if (i.keyId) await rebuildCrl(storage, runtime, i);
          return { data: { success: true } };
        },
      },
      synopsis: "Force a rebuild of the CRL.",
    }),
    definePath({
      pattern: "cert/:serial",
      operations: {
        read: async ({ storage, params }) => {
          const c = await certBySerial(storage, params.serial);
          return { data: { certificate: c.certificate, revocation_time: c.revocationTime, revocation_time_rfc3339: c.revokedRfc3339, issuer_id: c.issuerId } };
        },
      },
    }),
    definePath({
      pattern: "cert/:serial/raw",
      operations: { read: async ({ storage, params }) => raw("application/pkix-cert", x.pemBlocks((await certBySerial(storage, params.serial)).certificate)[0].der) },
    }),
    definePath({
      pattern: "cert/:serial/raw/pem",
      operations: { read: async ({ storage, params }) => raw("application/pem-certificate-chain", `${(await certBySerial(storage, params.serial)).certificate}\n`) },
    }),
    definePath({
      pattern: "certs",
      operations: {
        list: async ({ storage }) => {
          const keys = (await storage.list("certs/")).map((k) => k.replace(/-/g, ":"));
          return keys.length ? { data: { keys } } : undefined;
        },
      },
    }),
    definePath({
      pattern: "certs/revoked",
      operations: {
        list: async ({ storage }) => {
          const keys = (await storage.list("revoked/")).map((k) => k.replace(/-/g, ":"));
          return keys.length ? { data: { keys } } : undefined;
        },
      },
    }),
  ];
}
