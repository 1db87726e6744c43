/**
 * External account binding (RFC 8555 §7.3.4): the operator makes a key (`acme/new-eab`, authenticated), the
 * client proves it holds it by an inner JWS in new-account: HS256/384/512 over the account's JWK, `kid` the
 * EAB id, `url` the new-account URL. An EAB key binds one account and is then deleted.
 */
import { randomBytes } from "node:crypto";
import { flattenedVerify, type JWK } from "jose";
import { definePath, type PathSpec } from "../../../core/framework/path.js";
import { invalidRequest, notFound } from "../../../common/errors.js";
import { acmeId, AK, getAcme, isAcmeId, putAcme, type EabRecord } from "./acme-store.js";
import { DIRECTORY_PREFIXES } from "./directory.js";
import { thumbprint } from "./jws.js";
import { problem } from "./problem.js";

const EAB_ALGORITHMS = ["HS256", "HS384", "HS512"];

/** Checks the binding; returns the EAB record to consume with the account's creation. */
export async function checkEab(storage: Parameters<typeof getAcme>[0], binding: unknown, accountJwk: JWK, url: string, directory: string): Promise<EabRecord> {
  if (typeof binding !== "object" || binding === null || Array.isArray(binding)) throw problem("malformed", "externalAccountBinding must be a JWS object");
  const b = binding as Record<string, unknown>;
  if (typeof b.protected !== "string" || typeof b.payload !== "string" || typeof b.signature !== "string" || "header" in b) {
    throw problem("malformed", "externalAccountBinding must be a flattened JWS");
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(b.protected, "base64url").toString("utf8")) as Record<string, unknown>;
  } catch {
    throw problem("malformed", "externalAccountBinding protected header is not valid");
  }
  if (typeof header.alg !== "string" || !EAB_ALGORITHMS.includes(header.alg)) throw problem("badSignatureAlgorithm", "externalAccountBinding alg must be HS256, HS384 or HS512");
  if (header.nonce !== undefined) throw problem("malformed", "externalAccountBinding must not carry a nonce");
  if (header.url !== url) throw problem("unauthorized", "externalAccountBinding url does not match the new-account URL");
  const kid = typeof header.kid === "string" ? header.kid : "";
  const eab = isAcmeId(kid) ? await getAcme<EabRecord>(storage, AK.eab(kid)) : undefined;
  if (!eab || eab.directory !== directory) throw problem("unauthorized", "externalAccountBinding names an unknown EAB key");
  let payload: Uint8Array;
  try {
    ({ payload } = await flattenedVerify({ protected: b.protected, payload: b.payload, signature: b.signature }, Buffer.from(eab.key, "base64url"), { algorithms: EAB_ALGORITHMS }));
  } catch {
    throw problem("unauthorized", "externalAccountBinding signature verification failed");
  }
  let bound: JWK;
  try {
    bound = JSON.parse(Buffer.from(payload).toString("utf8")) as JWK;
    if ((await thumbprint(bound)) !== (await thumbprint(accountJwk))) throw new Error("other key");
  } catch {
    throw problem("unauthorized", "externalAccountBinding does not bind the account's key");
  }
  return eab;
}

function eabWire(e: EabRecord, withKey: boolean): Record<string, unknown> {
  return { id: e.id, key_type: e.keyType, acme_directory: `${e.directory}acme/directory`, created_on: new Date(e.createdAt).toISOString(), ...(withKey ? { key: e.key } : {}) };
}

export function eabPaths(): PathSpec[] {
  const create = DIRECTORY_PREFIXES.map((prefix) =>
    definePath({
      pattern: `${prefix}acme/new-eab`,
      operations: {
        update: async ({ storage, params }) => {
          const directory = (params.issuer_ref !== undefined ? `issuer/${params.issuer_ref}/` : "") + (params.role !== undefined ? `roles/${params.role}/` : "");
          const e: EabRecord = { id: acmeId(), key: randomBytes(32).toString("base64url"), keyType: "hs", directory, createdAt: Date.now() };
          await putAcme(storage, AK.eab(e.id), e);
          return { data: eabWire(e, true) };
        },
      },
      synopsis: "Generate an external account binding (EAB) key for this ACME directory.",
    }),
  );
  return [
    ...create,
    definePath({
      pattern: "eab",
      operations: {
        list: async ({ storage }) => {
          const keys = await storage.list(AK.eabs);
          const info: Record<string, unknown> = {};
          for (const k of keys) {
            const e = await getAcme<EabRecord>(storage, AK.eab(k));
            if (e) info[k] = eabWire(e, false);
          }
          return { data: { keys, key_info: info } };
        },
      },
      synopsis: "List the unused EAB keys.",
    }),
    definePath({
      pattern: "eab/:key_id",
      operations: {
        delete: async ({ storage, params }) => {
          if (!isAcmeId(params.key_id)) throw invalidRequest("invalid EAB key id");
          if (!(await getAcme<EabRecord>(storage, AK.eab(params.key_id)))) throw notFound();
          await storage.delete(AK.eab(params.key_id));
          return undefined;
        },
      },
      synopsis: "Delete an unused EAB key.",
    }),
  ];
}
