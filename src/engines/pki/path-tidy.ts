/**
 * `tidy`: removes expired certificates (tidy_cert_store) and expired revocation entries
 * (tidy_revoked_certs) older than safety_buffer, then rebuilds the CRLs. OpenBao runs tidy in the
 * background and answers 202; here it runs inline (the stores are small pages of JSON) and still answers
 * 202 with the same warning, then `tidy-status` reports the last run.
 */
import { definePath, type PathSpec } from "../../core/framework/path.js";
import { tidyAcme, type AcmeTidyCounts } from "./acme/tidy.js";
import type { CaRuntime } from "./ca.js";
import { rebuildAllCrls } from "./crl.js";
import { getRecord, K, putRecord, type CertEntry, type RevokedEntry } from "./pki-store.js";

interface TidyStatus {
  state: string;
  time_started: string;
  time_finished: string;
  cert_store_deleted_count: number;
  revoked_cert_deleted_count: number;
  tidy_acme?: boolean;
  acme_account_safety_buffer?: number;
}

export function tidyPaths(runtime: CaRuntime): PathSpec[] {
  return [
    definePath({
      pattern: "tidy",
      fields: {
        tidy_cert_store: { type: "bool", default: false },
        tidy_revoked_certs: { type: "bool", default: false },
        safety_buffer: { type: "duration", default: 72 * 3600 },
        tidy_acme: { type: "bool", default: false },
        acme_account_safety_buffer: { type: "duration", default: 30 * 24 * 3600 },
      },
      operations: {
        update: async ({ fields, storage }) => {
          const started = new Date();
          const cutoff = Math.floor(Date.now() / 1000) - fields.safety_buffer;
          let certs = 0;
          let revoked = 0;
          if (fields.tidy_cert_store) {
            for (const k of await storage.list("certs/")) {
              const e = await getRecord<CertEntry>(storage, `certs/${k}`);
              if (e && e.notAfter < cutoff) {
                await storage.delete(`certs/${k}`);
                certs++;
              }
            }
          }
          if (fields.tidy_revoked_certs) {
            for (const k of await storage.list("revoked/")) {
              const e = await getRecord<RevokedEntry>(storage, `revoked/${k}`);
              if (e && e.notAfter < cutoff) {
                await storage.delete(`revoked/${k}`);
                revoked++;
              }
            }
            await rebuildAllCrls(storage, runtime);
          }
          let acme: Partial<AcmeTidyCounts> = {};
          if (fields.tidy_acme) acme = await tidyAcme(storage, fields.safety_buffer, fields.acme_account_safety_buffer);
          const status: TidyStatus = {
            state: "Finished",
            time_started: started.toISOString(),
            time_finished: new Date().toISOString(),
            cert_store_deleted_count: certs,
            revoked_cert_deleted_count: revoked,
            tidy_acme: fields.tidy_acme,
            acme_account_safety_buffer: fields.acme_account_safety_buffer,
            ...acme,
          };
          await putRecord(storage, K.tidyStatus, status);
          return { status: 202, warnings: ["Tidy operation successfully started. Any information from the operation will be printed to Vault's server logs."] };
        },
      },
      synopsis: "Tidy up the backend by removing expired certificates and revocation information.",
    }),
    definePath({
      pattern: "tidy-status",
      operations: {
        read: async ({ storage }) => {
          const s = await getRecord<TidyStatus>(storage, K.tidyStatus);
          return { data: { ...(s ?? { state: "Inactive" }) } };
        },
      },
    }),
  ];
}
