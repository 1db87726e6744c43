/**
 * Batch tokens (OpenBao's `hvb.`): the token *is* its entry, encrypted, so issuing one writes nothing and
 * any node that can unseal verifies it. The key is a random AES-256 key kept behind the barrier beside the
 * token salt (`batch-key` in the namespace's token store), so it is shared by every node on the storage,
 * at rest under the barrier key, and different in each namespace; the namespace id is also bound as
 * additional data, so a token from namespace A never opens in B (not even when moved by hand).
 *
 * Wire form: `hvb.` + base64url(version 1 ‖ AES-256-GCM(nonce ‖ JSON payload ‖ tag)) + `.<namespace id>`
 * outside the root namespace. No accessor, not renewable, no children, no cubbyhole, cannot be revoked by
 * itself: it lives until its TTL ends or its parent is revoked (a non-orphan batch token names its parent).
 */
import { gcmOpen, gcmSeal } from "../../crypto/aead.js";
import type { TokenEntry } from "./token-entry.js";

export const BATCH_TOKEN_PREFIX = "hvb.";
const FORMAT_V1 = 1;
/** Longer tokens are refused when made (and never decoded): headers and URLs must carry them. */
export const MAX_BATCH_TOKEN_LENGTH = 4096;

/** What a batch token carries: the entry's fields that matter without storage. */
interface Payload {
  p: string[];
  m: Record<string, string>;
  d: string;
  pa: string;
  c: number;
  t: number;
  e: number;
  /** Parent token hash ("" for orphans) and, when another namespace's store holds it, that namespace. */
  par: string;
  pn?: string;
  ro?: string;
  b?: string[];
  n: boolean;
}

function aad(namespaceId: string): Buffer {
  return Buffer.from(`arca batch token v1 ${namespaceId}`, "utf8");
}

/** Seals `entry` into the body of a batch token (without prefix or namespace suffix). */
export function sealBatch(key: Buffer, namespaceId: string, entry: TokenEntry): string {
  const payload: Payload = {
    p: entry.policies,
    m: entry.meta,
    d: entry.displayName,
    pa: entry.path,
    c: entry.creationTime,
    t: entry.ttl,
    e: entry.expireTime,
    par: entry.parent,
    n: entry.noDefaultPolicy,
  };
  if (entry.parentNamespace !== undefined) payload.pn = entry.parentNamespace;
  if (entry.role !== undefined) payload.ro = entry.role;
  if (entry.boundCidrs && entry.boundCidrs.length > 0) payload.b = entry.boundCidrs;
  const sealed = gcmSeal(key, Buffer.from(JSON.stringify(payload), "utf8"), aad(namespaceId));
  return Buffer.concat([Buffer.from([FORMAT_V1]), sealed]).toString("base64url");
}

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === "string");
const isStringMap = (v: unknown): v is Record<string, string> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && Object.values(v).every((s) => typeof s === "string");

function isPayload(v: unknown): v is Payload {
  if (typeof v !== "object" || v === null) return false;
  const o = v as Record<string, unknown>;
  return (
    isStrings(o.p) && isStringMap(o.m) && typeof o.d === "string" && typeof o.pa === "string" && typeof o.c === "number" && typeof o.t === "number" &&
    typeof o.e === "number" && typeof o.par === "string" && typeof o.n === "boolean" && (o.pn === undefined || typeof o.pn === "string") &&
    (o.ro === undefined || typeof o.ro === "string") && (o.b === undefined || isStrings(o.b))
  );
}

/**
 * Opens a batch token body sealed for `namespaceId`: the entry it carries (with `id` set to `id`), or
 * undefined when it is malformed, forged, tampered with or from another namespace. Expiry is the caller's.
 */
export function openBatch(key: Buffer, namespaceId: string, body: string, id: string): TokenEntry | undefined {
  if (body.length === 0 || body.length > MAX_BATCH_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(body)) return undefined;
  const raw = Buffer.from(body, "base64url");
  if (raw.length < 2 || raw[0] !== FORMAT_V1) return undefined;
  let payload: unknown;
  try {
    payload = JSON.parse(gcmOpen(key, raw.subarray(1), aad(namespaceId)).toString("utf8"));
  } catch {
    return undefined;
  }
  if (!isPayload(payload)) return undefined;
  return {
    id,
    accessor: "",
    parent: payload.par,
    ...(payload.pn !== undefined ? { parentNamespace: payload.pn } : {}),
    policies: payload.p,
    path: payload.pa,
    meta: payload.m,
    displayName: payload.d,
    numUses: 0,
    creationTime: payload.c,
    ttl: payload.t,
    creationTtl: payload.t,
    explicitMaxTtl: 0,
    period: 0,
    renewable: false,
    expireTime: payload.e,
    issueTime: payload.c * 1000,
    type: "batch",
    entityId: "",
    noDefaultPolicy: payload.n,
    ...(payload.b ? { boundCidrs: payload.b } : {}),
    ...(payload.ro !== undefined ? { role: payload.ro } : {}),
  };
}
