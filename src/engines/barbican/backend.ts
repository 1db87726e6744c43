/**
 * The barbican engine (mount type "barbican"): one project's Barbican resources — secrets, containers,
 * orders, ACLs, consumers, quotas — served to the Barbican wire format (src/http/barbican/), which mounts
 * one at `barbican/` in each project's namespace. Bodies are Barbican's JSON; refs are absolute, built from
 * the base the wire format passes in (barbican-env.ts).
 *
 * STORAGE LAYOUT — an on-disk format, forever. Keys are relative to the mount's (barrier-encrypted) view.
 *   secret/<id>       JSON SecretRecord (secret-record.ts): metadata, user metadata, ACL, consumers, and
 *                     `payload` {kind, data}: the payload as its PayloadSealer stored it ("barrier": base64
 *                     bytes; "keychain": AES-256-GCM under a data key of the project's key-chain system,
 *                     see src/http/barbican/keychain-sealer.ts). A deleted secret keeps {id, deleted: true} (Barbican's soft delete).
 *   container/<id>    JSON ContainerRecord (container-record.ts); deleted: {…, deleted: true}, refs cleared.
 *   order/<id>        JSON OrderRecord (path-orders.ts).
 *   index/…           the secrets' creation index for plain lists (secret-index.ts).
 *   config/quotas     JSON {secrets?, orders?, containers?, consumers?, cas?} (-1 unlimited); absent = none set.
 * Ids are UUIDv4 with the project's tag in the first 32 bits (barbican-ids.ts).
 */
import { LogicalBackend } from "../../core/framework/backend.js";
import type { SystemView } from "../../core/framework/system-view.js";
import type { MountEntry } from "../../core/mounts.js";
import type { NamespaceRef } from "../../core/framework/request.js";
import { barrierSealer, type BarbicanEnv, type CertificateIssuer, type PayloadSealer } from "./barbican-env.js";
import { projectTag } from "./barbican-ids.js";
import { QUOTAS_KEY, QuotaCache } from "./quotas.js";
import { consumerPaths } from "./path-consumers.js";
import { containerPaths } from "./path-containers.js";
import { orderPaths } from "./path-orders.js";
import { quotaPaths } from "./path-quotas.js";
import { secretMetadataPaths } from "./path-secret-metadata.js";
import { secretPaths } from "./path-secrets.js";

const HELP = `
The barbican backend keeps one project's OpenStack Key Manager (Barbican v1) resources. It is mounted and
reached through the Barbican API (/barbican/v1/...), not used directly.
`;

export function createBarbicanBackendWith(namespaceId: string, sealer: PayloadSealer = barrierSealer, issuer?: CertificateIssuer): LogicalBackend {
  const env: BarbicanEnv = { tag: projectTag(namespaceId), sealer, quotas: new QuotaCache(), ...(issuer ? { issuer } : {}) };
  return new LogicalBackend({
    type: "barbican",
    paths: [...secretPaths(env), ...secretMetadataPaths(env), ...consumerPaths(env), ...containerPaths(env), ...orderPaths(env), ...quotaPaths(env)],
    help: HELP,
    // The quotas are the one thing this mount keeps from storage: set or deleted on another node, they are
    // read again (else that node's limits never applied here). Secrets, containers and the list index are
    // read from storage per request.
    invalidate: async (key) => {
      if (key === QUOTAS_KEY) env.quotas.forget();
    },
  });
}

/** Picks the payload sealer of a project's mount (the key-chain binding); without one, the barrier's. */
export type SealerChooser = (namespace: NamespaceRef) => PayloadSealer;

/** Picks the CA of a project's certificate orders (the PKI binding); without one, certificate orders are refused. */
export type IssuerChooser = (namespace: NamespaceRef) => CertificateIssuer;

export function barbicanFactory(sealerFor?: SealerChooser, issuerFor?: IssuerChooser): (mount: MountEntry, view: SystemView) => LogicalBackend {
  return (_mount, view) => createBarbicanBackendWith(view.namespace.id, sealerFor?.(view.namespace) ?? barrierSealer, issuerFor?.(view.namespace));
}
