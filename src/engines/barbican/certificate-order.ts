/**
 * Certificate orders (`type: certificate`): Barbican's order meta read into a request of the project's CA
 * (env.issuer, a PKI mount and role the operator chose), and the answer stored as Barbican stores it — a
 * certificate container holding the certificate, the private key when the CA generated one, and the
 * intermediates (the CA chain, PEM).
 *
 * request_type (Barbican's names):
 *   simple-cmc  `request_data`: a PKCS#10 CSR (PEM, or PEM in base64 as barbicanclient sends it): signed.
 *   custom      (the default) `subject_dn` ("CN=host.example,O=…"): the CA generates the key pair and
 *               the certificate for the CN; the role decides key type, lifetime and which names are allowed.
 *   stored-key, full-cmc: refused (400), as are `ca_id`s (the CA is the server's setting, not the caller's).
 * Cost: one CA call (a key generation for `custom`) and up to three secret writes and a container write.
 */
import type { HandlerContext } from "../../core/framework/path.js";
import type { Fields } from "../../core/framework/fields.js";
import { badRequest, schemaError } from "./barbican-error.js";
import type { BarbicanEnv, CertificateRequest } from "./barbican-env.js";
import { storeContainer } from "./path-containers.js";
import { storeSecret } from "./path-secrets.js";
import { parseSecretFields, pyRepr } from "./secret-input.js";

const SCHEMA = "Order";
const REQUEST_TYPES = ["custom", "simple-cmc", "full-cmc", "stored-key"];
const PEM_CSR = /-----BEGIN (NEW )?CERTIFICATE REQUEST-----/;
const MAX_CSR_CHARS = 16_384;

/** The CSR of `request_data`: PEM as sent, or base64-wrapped PEM (barbicanclient's form). */
function csrOf(raw: unknown): string {
  if (typeof raw !== "string" || raw === "") throw schemaError(SCHEMA, "'request_data' is a required property", "request_data");
  if (raw.length > MAX_CSR_CHARS) throw schemaError(SCHEMA, "'request_data' is too long", "request_data");
  if (PEM_CSR.test(raw)) return raw;
  const decoded = Buffer.from(raw, "base64").toString("utf8");
  if (PEM_CSR.test(decoded)) return decoded;
  throw badRequest("Invalid PKCS10 Data: Bad format");
}

/** The CN of an RFC 4514-style subject DN ("CN=a.example,O=Org"; a comma inside a value escaped as "\,"). */
export function commonNameOf(subjectDn: string): string | undefined {
  for (const rdn of subjectDn.split(/(?<!\\),/)) {
    const eq = rdn.indexOf("=");
    if (eq > 0 && rdn.slice(0, eq).trim().toUpperCase() === "CN") {
      const cn = rdn.slice(eq + 1).trim().replace(/\\(.)/g, "$1");
      return cn === "" ? undefined : cn;
    }
  }
  return undefined;
}

/** What the order meta asks the CA for, checked before anything is stored. */
export function parseCertificateMeta(meta: Record<string, unknown>): CertificateRequest {
  const requestType = meta.request_type ?? "custom";
  if (typeof requestType !== "string" || !REQUEST_TYPES.includes(requestType)) {
    throw schemaError(SCHEMA, `${pyRepr(requestType)} is not one of ['custom', 'simple-cmc', 'full-cmc', 'stored-key']`, "request_type");
  }
  if (meta.ca_id !== undefined && meta.ca_id !== null) throw badRequest("Order creation not allowed: 'ca_id' is not supported here; the certificate authority is chosen by the server's configuration");
  if (requestType === "full-cmc") throw badRequest("Full CMC Requests are not yet supported.");
  if (requestType === "stored-key") throw badRequest("Stored-key certificate requests are not supported by this server; send a CSR (simple-cmc) instead");
  if (requestType === "simple-cmc") return { csr: csrOf(meta.request_data) };
  const dn = meta.subject_dn;
  if (typeof dn !== "string" || dn === "") throw schemaError(SCHEMA, "'subject_dn' is a required property", "subject_dn");
  if (dn.length > 1024) throw schemaError(SCHEMA, "'subject_dn' is too long", "subject_dn");
  const commonName = commonNameOf(dn);
  if (commonName === undefined) throw badRequest("Invalid subject DN: it names no CN");
  return { commonName };
}

/** Issues the certificate and stores it; returns the certificate container's id. */
export async function placeCertificateOrder(env: BarbicanEnv, ctx: HandlerContext<Fields>, meta: Record<string, unknown>, request: CertificateRequest): Promise<string> {
  if (!env.issuer) throw badRequest("Certificate orders are not available: no certificate authority is configured for this project");
  const issued = await env.issuer.issue(request);
  const base = parseSecretFields({ name: meta.name, expiration: meta.expiration }, SCHEMA);
  const pem = (text: string) => ({ bytes: Buffer.from(`${text.trim()}\n`), contentType: "application/octet-stream" });
  const refs = [{ name: "certificate", secretId: (await storeSecret(env, ctx, { ...base, secretType: "certificate" }, pem(issued.certificate))).id }];
  if (issued.privateKey !== undefined) {
    refs.push({ name: "private_key", secretId: (await storeSecret(env, ctx, { ...base, secretType: "private" }, pem(issued.privateKey))).id });
  }
  if (issued.intermediates.length > 0) {
    refs.push({ name: "intermediates", secretId: (await storeSecret(env, ctx, { ...base, secretType: "certificate" }, pem(issued.intermediates.map((c) => c.trim()).join("\n")))).id });
  }
  return (await storeContainer(env, ctx, base.name, "certificate", refs)).id;
}
