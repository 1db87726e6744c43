/**
 * The ACME resources, each declared under the four directory prefixes (directory.ts). They are
 * unauthenticated at the token level — the JWS is the authentication — and take their body as bytes of
 * any raw media type, so that a wrong Content-Type is answered by ACME (a problem document), not by the
 * framework's 415 envelope.
 */
import type { Fields } from "../../../core/framework/fields.js";
import { definePath, type Handler, type PathSpec } from "../../../core/framework/path.js";
import { RAW_MEDIA_TYPES } from "../../../core/framework/request.js";
import type { CaRuntime } from "../ca.js";
import { acmeHandler, type AcmeAnswer, type AcmeCall } from "./acme-call.js";
import { keyChange, newAccount, updateAccount } from "./accounts.js";
import { acmeConfigPaths } from "./acme-config.js";
import { DIRECTORY_PREFIXES, directoryDocument } from "./directory.js";
import { eabPaths } from "./eab.js";
import { NonceKeys } from "./nonces.js";
import { downloadCert, finalize, getAuthz, getOrder, listOrders, newOrder, respondChallenge } from "./orders.js";
import { renewalInfo } from "./renewal-info.js";
import { revokeCert } from "./revoke.js";
import type { AcmeValidator } from "./validator.js";

type Resource = (call: AcmeCall) => Promise<AcmeAnswer>;

function declare(nonceKeys: NonceKeys, suffix: string, ops: { read?: Resource; update?: Resource }, synopsis: string): PathSpec[] {
  const operations: Partial<Record<"read" | "update", Handler<Fields>>> = {};
  if (ops.read) operations.read = acmeHandler(nonceKeys, ops.read);
  if (ops.update) operations.update = acmeHandler(nonceKeys, ops.update);
  return DIRECTORY_PREFIXES.map((prefix) =>
    definePath({ pattern: `${prefix}acme/${suffix}`, unauthenticated: true, rawBody: { mediaTypes: RAW_MEDIA_TYPES }, operations, synopsis }),
  );
}

export function acmePaths(runtime: CaRuntime, validator: AcmeValidator): PathSpec[] {
  const keys = new NonceKeys();
  const resource = (suffix: string, ops: { read?: Resource; update?: Resource }, synopsis: string): PathSpec[] => declare(keys, suffix, ops, synopsis);
  // RFC 8555 §7.2: HEAD answers 200, GET 204 No Content (both carry the nonce and Cache-Control: no-store).
  const nonce: Resource = async (c) => ({ status: c.ctx.req.head === true ? 200 : 204, raw: { contentType: "application/octet-stream", body: "" } });
  return [
    ...acmeConfigPaths(),
    ...eabPaths(),
    ...resource("directory", { read: async (c) => ({ json: directoryDocument(c.dir) }) }, "ACME directory (RFC 8555 §7.1.1)."),
    ...resource("new-nonce", { read: nonce }, "A fresh anti-replay nonce (HEAD or GET)."),
    ...resource("new-account", { update: newAccount }, "Create or find an ACME account."),
    ...resource("account/:kid", { update: updateAccount }, "Read, update or deactivate an ACME account."),
    ...resource("key-change", { update: keyChange }, "Roll an ACME account's key over."),
    ...resource("new-order", { update: newOrder }, "Place an ACME order."),
    ...resource("orders", { update: listOrders }, "List the account's orders."),
    ...resource("order/:order_id", { update: getOrder }, "Read an ACME order."),
    ...resource("order/:order_id/finalize", { update: (c) => finalize(c, runtime) }, "Finalize an ACME order with a CSR."),
    ...resource("order/:order_id/cert", { update: downloadCert }, "Download the order's certificate chain."),
    ...resource("order/:order_id/cert/:chain_id", { update: downloadCert }, "Download an alternate chain (a cross-signed issuer's) of the order's certificate."),
    ...resource("authorization/:auth_id", { update: getAuthz }, "Read or deactivate an authorization."),
    ...resource("challenge/:auth_id/:challenge_type", { update: (c) => respondChallenge(c, validator) }, "Read a challenge, or ask for its validation."),
    ...resource("revoke-cert", { update: (c) => revokeCert(c, runtime) }, "Revoke a certificate."),
    ...resource("renewal-info/:cert_id", { read: renewalInfo }, "ACME Renewal Information (RFC 9773)."),
  ];
}
