/**
 * The multi-issuer API: `issuers/` LIST, `issuer/:ref` (GET, POST, DELETE), `issuer/:ref/{json,der,pem}`,
 * `config/issuers`; keys: `keys/` LIST, `key/:ref` (GET, POST, DELETE), `config/keys`; and the mount
 * settings `config/urls`, `config/crl`.
 */
import { invalidRequest } from "../../common/errors.js";
import { definePath, type PathSpec } from "../../core/framework/path.js";
import type { Response } from "../../core/framework/request.js";
import { keyTypeOf, keyBitsOf } from "./ca-keys.js";
import type { CaRuntime } from "./ca.js";
import * as x from "./x509.js";
import {
  assertNameFree,
  K,
  listIssuers,
  listKeys,
  loadCluster,
  loadCrlConfig,
  loadIssuersConfig,
  loadKeysConfig,
  loadUrls,
  putRecord,
  resolveIssuer,
  resolveKey,
  templateUrl,
  type IssuerEntry,
  type KeyEntry,
  type LeafNotAfterBehavior,
  type CrlConfig,
  type CrlDurationField,
  type UrlsConfig,
} from "./pki-store.js";
import { forgetIssuerCrls, rebuildAllCrls } from "./crl.js";
import { formatDuration, parseDuration } from "../../core/framework/duration.js";

const USAGES = ["read-only", "issuing-certificates", "crl-signing", "ocsp-signing"];

const URL_RE = /^[a-z][a-z0-9+.-]*:\/\/\S+$/i;

/** A duration as written when we have that text and it still means the stored value, else Go's form. */
function durationAsGiven(c: CrlConfig, field: CrlDurationField): string {
  const text = c.given?.[field];
  return text !== undefined && parseDurationOr(text) === c[field] ? text : formatDuration(c[field]);
}

function parseDurationOr(text: string): number | undefined {
  try {
    return parseDuration(text);
  } catch {
    return undefined;
  }
}

function crlConfigView(c: CrlConfig): Record<string, unknown> {
  return {
    expiry: durationAsGiven(c, "expiry"),
    disable: c.disable,
    ocsp_disable: c.ocspDisable,
    ocsp_expiry: durationAsGiven(c, "ocspExpiry"),
    auto_rebuild: c.autoRebuild,
    auto_rebuild_grace_period: durationAsGiven(c, "autoRebuildGracePeriod"),
    enable_delta: c.enableDelta,
    delta_rebuild_interval: durationAsGiven(c, "deltaRebuildInterval"),
  };
}

const CRL_DURATIONS: ReadonlyArray<readonly [wire: string, field: CrlDurationField]> = [
  ["expiry", "expiry"],
  ["ocsp_expiry", "ocspExpiry"],
  ["delta_rebuild_interval", "deltaRebuildInterval"],
  ["auto_rebuild_grace_period", "autoRebuildGracePeriod"],
];

function urlsView(u: UrlsConfig): Record<string, unknown> {
  return {
    issuing_certificates: u.issuingCertificates,
    crl_distribution_points: u.crlDistributionPoints,
    ocsp_servers: u.ocspServers,
    delta_crl_distribution_points: u.deltaCrlDistributionPoints ?? [],
    enable_templating: u.enableTemplating,
  };
}

function issuerView(e: IssuerEntry): Record<string, unknown> {
  return {
    issuer_id: e.id,
    issuer_name: e.name,
    key_id: e.keyId,
    certificate: e.certificate,
    ca_chain: [e.certificate, ...e.caChain],
    serial_number: e.serialNumber,
    leaf_not_after_behavior: e.leafNotAfterBehavior,
    usage: e.usage.join(","),
    revocation_signature_algorithm: e.revocationSignatureAlgorithm,
    issuing_certificates: e.issuingCertificates,
    crl_distribution_points: e.crlDistributionPoints,
    ocsp_servers: e.ocspServers,
    revoked: e.revoked,
    manual_chain: null,
  };
}

function keyView(k: KeyEntry): Record<string, unknown> {
  return {
    key_id: k.id,
    key_name: k.name,
    key_type: keyTypeOf(k.algorithm),
    key_bits: keyBitsOf(k.algorithm),
    subject_key_id: x.serialToString(x.keyIdFromSpki(Buffer.from(k.spki, "base64"))),
    ...(k.type === "kms" ? { managed_key_id: k.keyRef, external_key_ref: k.externalKeyRef ?? k.keyRef } : {}),
  };
}

export function issuerPaths(runtime: CaRuntime): PathSpec[] {
  const issuerFields = {
    issuer_name: { type: "string" },
    leaf_not_after_behavior: { type: "string", allowed: ["err", "truncate", "permit"] },
    usage: { type: "strings" },
    revocation_signature_algorithm: { type: "string" },
    issuing_certificates: { type: "strings" },
    crl_distribution_points: { type: "strings" },
    ocsp_servers: { type: "strings" },
  } as const;

  return [
    definePath({
      pattern: "issuers",
      operations: {
        list: async ({ storage }) => {
          const all = await listIssuers(storage);
          if (all.length === 0) return undefined;
          const def = (await loadIssuersConfig(storage)).default;
          return {
            data: {
              keys: all.map((i) => i.id),
              key_info: Object.fromEntries(all.map((i) => [i.id, { issuer_name: i.name, is_default: i.id === def, key_id: i.keyId, serial_number: i.serialNumber }])),
            },
          };
        },
      },
    }),
    definePath({
      pattern: "issuer/:issuer_ref",
      fields: issuerFields,
      operations: {
        read: async ({ storage, params }) => ({ data: issuerView(await resolveIssuer(storage, params.issuer_ref)) }),
        update: {
          transaction: true,
          handler: async (ctx) => {
            const { storage: txn, params, fields } = ctx;
            const e = await resolveIssuer(txn, params.issuer_ref);
            if (ctx.has("issuer_name") && fields.issuer_name !== undefined) {
              await assertNameFree(txn, "issuer", fields.issuer_name, e.id);
              e.name = fields.issuer_name;
            }
            if (fields.leaf_not_after_behavior) e.leafNotAfterBehavior = fields.leaf_not_after_behavior as LeafNotAfterBehavior;
            if (fields.usage) {
              for (const u of fields.usage) if (!USAGES.includes(u)) throw invalidRequest(`unknown usage "${u}" (allowed: ${USAGES.join(", ")})`);
              e.usage = fields.usage;
            }
            if (fields.revocation_signature_algorithm !== undefined) e.revocationSignatureAlgorithm = fields.revocation_signature_algorithm;
            if (fields.issuing_certificates) e.issuingCertificates = fields.issuing_certificates;
            if (fields.crl_distribution_points) e.crlDistributionPoints = fields.crl_distribution_points;
            if (fields.ocsp_servers) e.ocspServers = fields.ocsp_servers;
            await putRecord(txn, K.issuer(e.id), e);
            return { data: issuerView(e) };
          },
        },
        delete: {
          transaction: true,
          handler: async ({ storage: txn, params }) => {
            const e = await resolveIssuer(txn, params.issuer_ref);
            await txn.delete(K.issuer(e.id));
            await forgetIssuerCrls(txn, e);
            const ic = await loadIssuersConfig(txn);
            if (ic.default === e.id) await putRecord(txn, K.issuersConfig, { ...ic, default: "", lastModified: Date.now() });
            runtime.forget(e.id);
            return undefined;
          },
        },
      },
    }),
    definePath({
      pattern: "issuer/:issuer_ref/json",
      operations: { read: async ({ storage, params }) => {
        const e = await resolveIssuer(storage, params.issuer_ref);
        return { data: { issuer_id: e.id, issuer_name: e.name, certificate: e.certificate, ca_chain: [e.certificate, ...e.caChain] } };
      } },
    }),
    definePath({
      pattern: "issuer/:issuer_ref/pem",
      operations: { read: async ({ storage, params }): Promise<Response> => ({ raw: { status: 200, contentType: "application/pem-certificate-chain", body: `${(await resolveIssuer(storage, params.issuer_ref)).certificate}\n` } }) },
    }),
    definePath({
      pattern: "issuer/:issuer_ref/der",
      operations: { read: async ({ storage, params }): Promise<Response> => ({ raw: { status: 200, contentType: "application/pkix-cert", body: x.pemBlocks((await resolveIssuer(storage, params.issuer_ref)).certificate)[0].der } }) },
    }),
    definePath({
      pattern: "config/issuers",
      fields: { default: { type: "string" }, default_follows_latest_issuer: { type: "bool" } },
      operations: {
        read: async ({ storage }) => {
          const c = await loadIssuersConfig(storage);
          return { data: { default: c.default, default_follows_latest_issuer: c.defaultFollowsLatestIssuer } };
        },
        update: {
          transaction: true,
          handler: async ({ storage: txn, fields }) => {
            const c = await loadIssuersConfig(txn);
            if (fields.default !== undefined) {
              const id = (await resolveIssuer(txn, fields.default)).id;
              if (id !== c.default) c.lastModified = Date.now();
              c.default = id;
            }
            if (fields.default_follows_latest_issuer !== undefined) c.defaultFollowsLatestIssuer = fields.default_follows_latest_issuer;
            await putRecord(txn, K.issuersConfig, c);
            return { data: { default: c.default, default_follows_latest_issuer: c.defaultFollowsLatestIssuer } };
          },
        },
      },
    }),
    definePath({
      pattern: "keys",
      operations: {
        list: async ({ storage }) => {
          const all = await listKeys(storage);
          if (all.length === 0) return undefined;
          return { data: { keys: all.map((k) => k.id), key_info: Object.fromEntries(all.map((k) => [k.id, { key_name: k.name }])) } };
        },
      },
    }),
    definePath({
      pattern: "key/:key_ref",
      fields: { key_name: { type: "string" } },
      operations: {
        read: async ({ storage, params }) => ({ data: keyView(await resolveKey(storage, params.key_ref)) }),
        update: {
          transaction: true,
          handler: async ({ storage: txn, params, fields }) => {
            const k = await resolveKey(txn, params.key_ref);
            if (fields.key_name !== undefined) {
              await assertNameFree(txn, "key", fields.key_name, k.id);
              k.name = fields.key_name;
            }
            await putRecord(txn, K.key(k.id), k);
            return { data: keyView(k) };
          },
        },
        delete: {
          transaction: true,
          handler: async ({ storage: txn, params }) => {
            const k = await resolveKey(txn, params.key_ref);
            if ((await listIssuers(txn)).some((i) => i.keyId === k.id)) throw invalidRequest(`key ${k.id} is in use by an issuer; delete the issuer first`);
            await txn.delete(K.key(k.id));
            const kc = await loadKeysConfig(txn);
            if (kc.default === k.id) await putRecord(txn, K.keysConfig, { default: "" });
            runtime.forget();
            return undefined;
          },
        },
      },
    }),
    definePath({
      pattern: "config/keys",
      fields: { default: { type: "string" } },
      operations: {
        read: async ({ storage }) => ({ data: { default: (await loadKeysConfig(storage)).default } }),
        update: {
          transaction: true,
          handler: async ({ storage: txn, fields }) => {
            const id = fields.default ? (await resolveKey(txn, fields.default)).id : "";
            await putRecord(txn, K.keysConfig, { default: id });
            return { data: { default: id } };
          },
        },
      },
    }),
    definePath({
      pattern: "config/urls",
      fields: {
        issuing_certificates: { type: "strings" },
        crl_distribution_points: { type: "strings" },
        ocsp_servers: { type: "strings" },
        delta_crl_distribution_points: { type: "strings" },
        enable_templating: { type: "bool" },
      },
      operations: {
        read: async ({ storage }) => ({ data: urlsView(await loadUrls(storage)) }),
        update: {
          transaction: true,
          handler: async ({ storage: txn, fields }) => {
            const u = await loadUrls(txn);
            if (fields.issuing_certificates) u.issuingCertificates = fields.issuing_certificates;
            if (fields.crl_distribution_points) u.crlDistributionPoints = fields.crl_distribution_points;
            if (fields.ocsp_servers) u.ocspServers = fields.ocsp_servers;
            if (fields.delta_crl_distribution_points) u.deltaCrlDistributionPoints = fields.delta_crl_distribution_points;
            if (fields.enable_templating !== undefined) u.enableTemplating = fields.enable_templating;
            // With templating on, a URL must be valid once its templates are filled (checked with sample
            // values: config/cluster may be written after config/urls).
            const sample = { path: "https://cluster.invalid/v1/pki", aiaPath: "http://cluster.invalid/v1/pki" };
            for (const url of [...u.issuingCertificates, ...u.crlDistributionPoints, ...u.ocspServers, ...(u.deltaCrlDistributionPoints ?? [])]) {
              const filled = u.enableTemplating ? templateUrl(url, sample, "00000000-0000-0000-0000-000000000000") : url;
              if (!URL_RE.test(filled)) throw invalidRequest(`invalid URL "${url}"${u.enableTemplating ? "" : " (templates need enable_templating=true)"}`);
            }
            await putRecord(txn, K.urls, u);
            return undefined;
          },
        },
      },
    }),
    definePath({
      pattern: "config/cluster",
      fields: {
        path: { type: "string", description: "This cluster's externally reachable URL of the mount, e.g. https://bao.example.com/v1/pki ({{cluster_path}})." },
        aia_path: { type: "string", description: "Where AIA documents are served, possibly plain HTTP ({{cluster_aia_path}})." },
      },
      operations: {
        read: async ({ storage }) => {
          const c = await loadCluster(storage);
          return { data: { path: c.path, aia_path: c.aiaPath } };
        },
        update: {
          transaction: true,
          handler: async ({ storage: txn, fields }) => {
            const c = await loadCluster(txn);
            if (fields.path !== undefined) c.path = fields.path.replace(/\/+$/, "");
            if (fields.aia_path !== undefined) c.aiaPath = fields.aia_path.replace(/\/+$/, "");
            for (const [name, v] of [["path", c.path], ["aia_path", c.aiaPath]] as const) {
              if (v !== "" && !URL_RE.test(v)) throw invalidRequest(`config/cluster ${name} must be a URL (got "${v.slice(0, 80)}")`);
            }
            await putRecord(txn, K.cluster, c);
            return { data: { path: c.path, aia_path: c.aiaPath } };
          },
        },
      },
      synopsis: "Set the cluster's mount URL, used to template AIA URLs ({{cluster_path}}, {{cluster_aia_path}}).",
    }),
    definePath({
      pattern: "config/crl",
      fields: {
        expiry: { type: "duration" },
        disable: { type: "bool" },
        ocsp_disable: { type: "bool" },
        ocsp_expiry: { type: "duration" },
        auto_rebuild: { type: "bool" },
        enable_delta: { type: "bool" },
        delta_rebuild_interval: { type: "duration" },
        auto_rebuild_grace_period: { type: "duration" },
      },
      operations: {
        read: async ({ storage }) => ({ data: crlConfigView(await loadCrlConfig(storage)) }),
        update: async ({ storage, fields, req }) => {
          const { before, after } = await storage.transaction(async (txn) => {
            const prev = await loadCrlConfig(txn);
            const c = { ...prev, given: { ...prev.given } };
            for (const [wire, field] of CRL_DURATIONS) {
              const raw = req.data[wire];
              if (typeof raw === "string" || typeof raw === "number") c.given[field] = String(raw);
            }
            if (fields.auto_rebuild_grace_period !== undefined) c.autoRebuildGracePeriod = fields.auto_rebuild_grace_period;
            if (fields.expiry !== undefined) c.expiry = fields.expiry;
            if (fields.disable !== undefined) c.disable = fields.disable;
            if (fields.ocsp_disable !== undefined) c.ocspDisable = fields.ocsp_disable;
            if (fields.ocsp_expiry !== undefined) c.ocspExpiry = fields.ocsp_expiry;
            if (fields.auto_rebuild !== undefined) c.autoRebuild = fields.auto_rebuild;
            if (fields.enable_delta !== undefined) c.enableDelta = fields.enable_delta;
            if (fields.delta_rebuild_interval !== undefined) {
              if (fields.delta_rebuild_interval <= 0) throw invalidRequest("delta_rebuild_interval must be positive");
              c.deltaRebuildInterval = fields.delta_rebuild_interval;
            }
            if (c.expiry <= 0) throw invalidRequest("expiry must be positive");
            if (c.autoRebuild && c.autoRebuildGracePeriod >= c.expiry) {
              throw invalidRequest(
                `CRL auto-rebuilding grace period (${durationAsGiven(c, "autoRebuildGracePeriod")}) must be strictly shorter than CRL expiry (${durationAsGiven(c, "expiry")}) value when auto-rebuilding of CRLs is enabled`,
              );
            }
            await putRecord(txn, K.crl, c);
            return { before: prev, after: c };
          });
          // Turning deltas on or off changes what the base CRL says (Freshest CRL) and whether deltas exist.
          if (before.enableDelta !== after.enableDelta || before.disable !== after.disable) {
            await rebuildAllCrls(storage, runtime);
          }
          return undefined;
        },
      },
    }),
  ];
}
