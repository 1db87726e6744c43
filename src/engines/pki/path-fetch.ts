/**
 * Fetches (unauthenticated, raw bodies — `path_fetch.go`): `ca`, `ca/pem`, `ca_chain`, `crl`, `crl/pem`,
 * `crl/delta[/pem]`, `issuer/:ref/crl[/der|/pem]`, `issuer/:ref/crl/delta[/der|/pem]`,
 * `cert/:serial[/raw[/pem]]` (`ca`, `ca_chain`, `crl`, `delta-crl` as special serials), `certs/` LIST; and
 * `crl/rotate`, `crl/rotate-delta`.
 *
 * HTTP caching (OpenBao ≥1.14): `ca`, `ca/pem`, `cert/ca_chain` and the CRL fetches carry Last-Modified
 * and answer an If-Modified-Since at or after it with 304 and no body. The CA's time is the later of the
 * default issuer's last change and the last change of the default; a CRL's is its thisUpdate. Issuers
 * stored before Last-Modified existed have no time: they are always served in full.
 */
import { notFound } from "../../common/errors.js";
import { definePath, type PathSpec } from "../../core/framework/path.js";
import type { Request, Response } from "../../core/framework/request.js";
import type { KeyValueStore } from "../../storage/storage.js";
import type { CaRuntime } from "./ca.js";
import { crlPem, currentCrlRecord, currentDeltaRecord, rebuildAllCrls } from "./crl.js";
import { getRecord, K, listIssuers, loadCrlConfig, loadIssuersConfig, resolveIssuer, type CertEntry, type CrlRecord, type RevokedEntry } from "./pki-store.js";
import * as x from "./x509.js";

const raw = (contentType: string, body: Buffer | string): Response => ({ raw: { status: 200, contentType, body } });

/** If-Modified-Since as unix seconds, or undefined when absent or not an HTTP date. */
function ifModifiedSince(req: Request): number | undefined {
  const v = req.headers?.["if-modified-since"];
  if (!v) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.floor(t / 1000);
}

/**
 * Answers 304 when the client's copy is current, else the full response with Last-Modified. HTTP dates
 * have whole seconds, so a change is "after" the client's copy only when it falls in a later second.
 */
async function conditional(req: Request, lastModifiedMs: number | undefined, full: () => Promise<Response> | Response): Promise<Response> {
  if (lastModifiedMs === undefined) return full();
  const lastModified = new Date(Math.floor(lastModifiedMs / 1000) * 1000).toUTCString();
  const since = ifModifiedSince(req);
  if (since !== undefined && Math.floor(lastModifiedMs / 1000) <= since) {
    return { raw: { status: 304, contentType: "text/plain", body: "", headers: { lastModified } } };
  }
  const resp = await full();
  if (resp.raw) return { ...resp, raw: { ...resp.raw, headers: { ...resp.raw.headers, lastModified } } };
  return { ...resp, headers: { ...resp.headers, lastModified } };
}

const crlTime = (rec: CrlRecord): number => rec.thisUpdate * 1000;
const crlDer = (rec: CrlRecord): Buffer => Buffer.from(rec.der, "base64");

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

  const crlFor = async (storage: KeyValueStore, ref: string): Promise<CrlRecord> => currentCrlRecord(storage, runtime, await resolveIssuer(storage, ref));
  const deltaFor = async (storage: KeyValueStore, ref: string): Promise<CrlRecord> => currentDeltaRecord(storage, runtime, await resolveIssuer(storage, ref));

  /** The default issuer with the time its served certificate last changed (undefined: unknown). */
  const caState = async (storage: KeyValueStore) => {
    const issuer = await defaultIssuer(storage);
    const cfg = await loadIssuersConfig(storage);
    const t = issuer.entry.lastModified === undefined ? undefined : Math.max(issuer.entry.lastModified, cfg.lastModified ?? 0);
    return { issuer, lastModified: t };
  };

  type Ctx = { storage: KeyValueStore; params: Record<string, string>; req: Request };
  /** A CRL fetch: `which` picks base or delta, `form` the body (DER, PEM file, or JSON field). */
  const crlPath = (pattern: string, which: "base" | "delta", form: "der" | "pem" | "json-crl" | "json-cert", fixedRef?: string) =>
    definePath({
      pattern,
      operations: {
        read: async ({ storage, params, req }: Ctx) => {
          const ref = fixedRef ?? params.issuer_ref;
          const rec = which === "base" ? await crlFor(storage, ref) : await deltaFor(storage, ref);
          return conditional(req, crlTime(rec), () => {
            switch (form) {
              case "der":
                return raw("application/pkix-crl", crlDer(rec));
              case "pem":
                return raw("application/x-pem-file", `${crlPem(crlDer(rec))}\n`);
              case "json-crl":
                return { data: { crl: crlPem(crlDer(rec)) } };
              case "json-cert":
                return { data: { certificate: crlPem(crlDer(rec)), revocation_time: 0 } };
            }
          });
        },
      },
    });

  return [
    definePath({
      pattern: "ca",
      operations: {
        read: async ({ storage, req }) => {
          const { issuer, lastModified } = await caState(storage);
          return conditional(req, lastModified, () => raw("application/pkix-cert", x.pemBlocks(issuer.chain[0])[0].der));
        },
      },
    }),
    definePath({
      pattern: "ca/pem",
      operations: {
        read: async ({ storage, req }) => {
          const { issuer, lastModified } = await caState(storage);
          return conditional(req, lastModified, () => raw("application/pem-certificate-chain", `${issuer.chain[0]}\n`));
        },
      },
    }),
    definePath({ pattern: "ca_chain", operations: { read: async ({ storage }) => raw("application/pkix-cert", `${(await defaultIssuer(storage)).chain.join("\n")}\n`) } }),
    definePath({
      pattern: "cert/ca_chain",
      operations: {
        read: async ({ storage, req }) => {
          const { issuer, lastModified } = await caState(storage);
          return conditional(req, lastModified, () => ({ data: { certificate: issuer.chain.join("\n"), ca_chain: issuer.chain } }));
        },
      },
    }),
    crlPath("crl", "base", "der", "default"),
    crlPath("crl/pem", "base", "pem", "default"),
    crlPath("cert/crl", "base", "json-cert", "default"),
    crlPath("crl/delta", "delta", "der", "default"),
    crlPath("crl/delta/pem", "delta", "pem", "default"),
    crlPath("cert/delta-crl", "delta", "json-cert", "default"),
    crlPath("issuer/:issuer_ref/crl", "base", "json-crl"),
    crlPath("issuer/:issuer_ref/crl/der", "base", "der"),
    crlPath("issuer/:issuer_ref/crl/pem", "base", "pem"),
    crlPath("issuer/:issuer_ref/crl/delta", "delta", "json-crl"),
    crlPath("issuer/:issuer_ref/crl/delta/der", "delta", "der"),
    crlPath("issuer/:issuer_ref/crl/delta/pem", "delta", "pem"),
    definePath({
      pattern: "crl/rotate-delta",
      operations: {
        read: async ({ storage }) => {
          if (!(await loadCrlConfig(storage)).enableDelta) return { data: { success: true }, warnings: ["delta CRLs are not enabled (config/crl enable_delta=false): nothing rebuilt"] };
          await rebuildAllCrls(storage, runtime, "delta");
          return { data: { success: true } };
        },
      },
      synopsis: "Force a rebuild of the delta CRLs.",
    }),
    definePath({
      pattern: "crl/rotate",
      operations: {
        read: async ({ storage }) => {
          await rebuildAllCrls(storage, runtime);
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
