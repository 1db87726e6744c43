/**
 * The TLS certificate auth method (mount type "cert"), wire-compatible with OpenBao's
 * builtin/credential/cert: a client logs in with the certificate it presented in the TLS handshake and
 * receives an orphan token carrying the policies of the certs/ entry that accepts it.
 *
 * Storage layout below the mount's view (`auth/<mount uuid>/`):
 *
 *   cert/<lower-case name>     { certificate: PEM, displayName, allowed_* constraints and token_*
 *                                settings (camelCase, see path-certs.ts and token-fields.ts) }
 *
 * The listener asks every TLS client for a certificate without verifying it (listener.ts); the chain
 * reaches this method as the request's connection.peerCertificates and is judged here only.
 */
import { LogicalBackend } from "../../core/framework/backend.js";
import type { SystemView } from "../../core/framework/system-view.js";
import type { MountEntry } from "../../core/mounts.js";
import { certPaths } from "./path-certs.js";
import { checkRenewal, loginPaths } from "./path-login.js";

const HELP = `
The "cert" credential provider allows authentication using TLS client certificates. A client connects
to the server over TLS presenting its certificate and calls "login"; the certificate must chain to (or
be) a certificate configured with the "certs/" endpoints and meet that entry's constraints.
`;

export function createCertBackend(_mount: MountEntry, view: SystemView): LogicalBackend {
  return new LogicalBackend({
    type: "cert",
    paths: [...certPaths(), ...loginPaths(view)],
    unauthenticatedPaths: ["login"],
    help: HELP.trim(),
    renewLogin: checkRenewal,
  });
}
