// The ACL policy language (OpenBao `vault/policy.go` semantics), HCL and JSON forms.
//
// A policy is a list of path rules. Parsing keeps every rule, including expired ones and identity-
// templated ones; the ACL decides what to do with them (skip expired, never match templated).
// Parsing cost is dominated by the HCL parser (~0.7 ms for a 20-line policy, see src/common/hcl/hcl.ts), so
// callers should cache parsed policies rather than re-parse per request.

import {
  checkHclKeys,
  hclAttr,
  hclBlocks,
  hclMap,
  HclParserBusy,
  HclShapeError,
  HclSyntaxError,
  isHclObject,
  parseHcl,
  type HclObject,
  type HclValue,
} from "../../common/hcl/hcl.js";

export type Capability = "create" | "read" | "update" | "patch" | "delete" | "list" | "scan" | "sudo" | "deny";

/** Every capability, in OpenBao's bit order (deny first). */
export const CAPABILITIES: readonly Capability[] = [
  "deny",
  "create",
  "read",
  "update",
  "delete",
  "list",
  "sudo",
  "patch",
  "scan",
];

/** Bit per capability, as OpenBao's `cap2Int`; the ACL works on these bitmaps. */
export const CAP_BIT: Readonly<Record<Capability, number>> = {
  deny: 1 << 0,
  create: 1 << 1,
  read: 1 << 2,
  update: 1 << 3,
  delete: 1 << 4,
  list: 1 << 5,
  sudo: 1 << 6,
  patch: 1 << 7,
  scan: 1 << 8,
};

/** Allowed values of one parameter; an empty list means "any value". */
export type ParameterValues = readonly unknown[];

export interface PathRule {
  /** The pattern as written, minus one leading `/`. */
  readonly pattern: string;
  /** Match key: `pattern` with a trailing `*` removed for plain prefix rules; unchanged otherwise. */
  readonly path: string;
  /** Ends in `*` and has no `+` segment: a plain prefix rule. */
  readonly isPrefix: boolean;
  /** Has a `+` segment (OpenBao's test: `+` alone, contains `/+`, or starts with `+/`). */
  readonly hasSegmentWildcards: boolean;
  /** Contains identity templating (`{{…}}`); not supported yet, so such a rule never matches. */
  readonly templated: boolean;
  /** Capability bitmap (CAP_BIT). A deny rule holds only the deny bit. */
  readonly capabilitiesBitmap: number;
  readonly capabilities: readonly Capability[];
  /** Lower-cased parameter name → allowed values; undefined when the policy sets none. */
  readonly allowedParameters?: ReadonlyMap<string, ParameterValues>;
  readonly deniedParameters?: ReadonlyMap<string, ParameterValues>;
  readonly requiredParameters: readonly string[];
  /** Seconds; 0 = unset. */
  readonly minWrappingTtl: number;
  readonly maxWrappingTtl: number;
  /** After this instant the rule is ignored (OpenBao per-path `expiration`). */
  readonly expiration?: Date;
  readonly mfaMethods: readonly string[];
  /** 0 = unset. */
  readonly paginationLimit: number;
  readonly responseKeysFilterPath?: string;
  readonly comment?: string;
}

export interface Policy {
  /** Lower-cased (CVE-2025-5999: names are case-insensitive). */
  readonly name: string;
  readonly raw: string;
  readonly paths: readonly PathRule[];
  readonly templated: boolean;
}

/** A policy text that cannot be accepted; `message` is suitable for a 400 response body. */
export class PolicyParseError extends Error {
  override readonly name = "PolicyParseError";
  constructor(
    message: string,
    readonly line?: number,
  ) {
    super(message);
  }
}

const TOP_LEVEL_KEYS = ["name", "path"] as const;
const PATH_KEYS = [
  "comment",
  "policy",
  "capabilities",
  "allowed_parameters",
  "denied_parameters",
  "required_parameters",
  "min_wrapping_ttl",
  "max_wrapping_ttl",
  "mfa_methods",
  "pagination_limit",
  "expiration",
  "list_scan_response_keys_filter_path",
  // Vault Enterprise control groups: accepted so shared policies load, but not enforced.
  "control_group",
] as const;

// Legacy `policy = "…"` shorthand, exactly as OpenBao maps it. Note `write` does not include `patch`
// in OpenBao (Vault added it later); we follow OpenBao.
const LEGACY_POLICIES: Readonly<Record<string, readonly Capability[]>> = {
  deny: ["deny"],
  read: ["read", "list"],
  write: ["create", "read", "update", "delete", "list"],
  sudo: ["create", "read", "update", "delete", "list", "sudo"],
};

/** Normalise a policy name as OpenBao's `sanitizeName` does. */
export function normalisePolicyName(name: string): string {
  return name.trim().toLowerCase();
}

/** Parse an ACL policy in HCL or JSON form. Throws PolicyParseError, or HclParserBusy when the parser's
 * queue is full. */
export async function parsePolicy(name: string, text: string): Promise<Policy> {
  const policyName = normalisePolicyName(name);
  if (policyName === "") throw new PolicyParseError("policy name missing");
  if (typeof text !== "string") throw new PolicyParseError("failed to parse policy: policy text must be a string");

  let doc: HclObject;
  try {
    doc = await parseHcl(text, "policy");
  } catch (err) {
    if (err instanceof HclSyntaxError) {
      throw new PolicyParseError(`failed to parse policy: ${err.message}`, err.line);
    }
    if (err instanceof HclParserBusy) throw err; // transient: not the text's fault
    throw new PolicyParseError("failed to parse policy: invalid syntax");
  }

  try {
    checkHclKeys(doc, TOP_LEVEL_KEYS, "");
    const paths: PathRule[] = [];
    for (const block of hclBlocks(doc, "path", 1)) {
      paths.push(parsePathRule(block.labels[0], block.body));
    }
    return {
      name: policyName,
      raw: text,
      paths,
      templated: paths.some((p) => p.templated),
    };
  } catch (err) {
    if (err instanceof PolicyParseError) throw err;
    if (err instanceof HclShapeError) throw new PolicyParseError(`failed to parse policy: ${err.message}`);
    throw new PolicyParseError("failed to parse policy");
  }
}

function fail(pattern: string, what: string): never {
  throw new PolicyParseError(`failed to parse policy: path ${JSON.stringify(pattern)}: ${what}`);
}

function parsePathRule(key: string, body: HclObject): PathRule {
  const where = `path ${JSON.stringify(key)}`;
  try {
    checkHclKeys(body, PATH_KEYS, where);
  } catch (err) {
    if (err instanceof HclShapeError) throw new PolicyParseError(`failed to parse policy: ${err.message}`);
    throw err;
  }

  const pattern = key.startsWith("/") ? key.slice(1) : key;
  // Identity templates are not evaluated yet: keep the rule (so the policy round-trips and the
  // `default` policy loads) but mark it so the ACL never matches it. Matching the literal `{{…}}`
  // text would be wrong, and so would matching anything.
  const templated = pattern.includes("{{");

  if (pattern.includes("+*")) fail(key, "invalid use of wildcards ('+*' is forbidden)");
  const hasSegmentWildcards = pattern === "+" || pattern.includes("/+") || pattern.startsWith("+/");
  // Only a trailing `*` is a glob; a `*` anywhere else is an ordinary character, as in OpenBao. With
  // `+` segments the `*` stays in the match key and the segment matcher handles it.
  const isPrefix = pattern.endsWith("*") && !hasSegmentWildcards;
  const matchPath = isPrefix ? pattern.slice(0, -1) : pattern;

  const expiration = parseExpiration(key, hclAttr(body, "expiration"));
  const comment = optionalString(key, body, "comment");

  // Capabilities, then the legacy shorthand on top (OpenBao: `deny` replaces, others append).
  const caps: string[] = stringList(key, body, "capabilities") ?? [];
  const legacy = optionalString(key, body, "policy");
  if (legacy !== undefined && legacy !== "") {
    const mapped = LEGACY_POLICIES[legacy];
    if (!mapped) fail(key, `invalid policy ${JSON.stringify(legacy)}`);
    if (legacy === "deny") caps.splice(0, caps.length, "deny");
    else caps.push(...mapped);
  }

  let bitmap = 0;
  const capabilities: Capability[] = [];
  for (const c of caps) {
    if (!isCapability(c)) fail(key, `invalid capability ${JSON.stringify(c)}`);
    if (c === "deny") {
      // Deny excludes everything else, and OpenBao ignores the rest of the stanza.
      return {
        pattern,
        path: matchPath,
        isPrefix,
        hasSegmentWildcards,
        templated,
        capabilitiesBitmap: CAP_BIT.deny,
        capabilities: ["deny"],
        requiredParameters: [],
        minWrappingTtl: 0,
        maxWrappingTtl: 0,
        mfaMethods: [],
        paginationLimit: 0,
        ...(expiration ? { expiration } : {}),
        ...(comment !== undefined ? { comment } : {}),
      };
    }
    if ((bitmap & CAP_BIT[c]) === 0) capabilities.push(c);
    bitmap |= CAP_BIT[c];
  }

  const allowedParameters = parameterMap(key, body, "allowed_parameters");
  const deniedParameters = parameterMap(key, body, "denied_parameters");
  const requiredParameters = stringList(key, body, "required_parameters") ?? [];
  const mfaMethods = stringList(key, body, "mfa_methods") ?? [];
  const minWrappingTtl = parseDurationField(key, hclAttr(body, "min_wrapping_ttl"), "min_wrapping_ttl");
  const maxWrappingTtl = parseDurationField(key, hclAttr(body, "max_wrapping_ttl"), "max_wrapping_ttl");
  if (minWrappingTtl !== 0 && maxWrappingTtl !== 0 && maxWrappingTtl < minWrappingTtl) {
    fail(key, "max_wrapping_ttl cannot be less than min_wrapping_ttl");
  }

  const paginationLimit = parsePaginationLimit(key, hclAttr(body, "pagination_limit"));
  const responseKeysFilterPath = optionalString(key, body, "list_scan_response_keys_filter_path");
  if (responseKeysFilterPath && (bitmap & CAP_BIT.list) === 0) {
    fail(key, "list_scan_response_keys_filter_path needs to be used on a path with the list capability");
  }

  const controlGroup = hclAttr(body, "control_group");
  if (controlGroup !== undefined && controlGroup !== null && !isHclObject(controlGroup) && !Array.isArray(controlGroup)) {
    fail(key, "control_group: expected a block");
  }

  return {
    pattern,
    path: matchPath,
    isPrefix,
    hasSegmentWildcards,
    templated,
    capabilitiesBitmap: bitmap,
    capabilities,
    ...(allowedParameters ? { allowedParameters } : {}),
    ...(deniedParameters ? { deniedParameters } : {}),
    requiredParameters,
    minWrappingTtl,
    maxWrappingTtl,
    mfaMethods,
    paginationLimit,
    ...(expiration ? { expiration } : {}),
    ...(responseKeysFilterPath ? { responseKeysFilterPath } : {}),
    ...(comment !== undefined ? { comment } : {}),
  };
}

export function isCapability(s: string): s is Capability {
  return Object.prototype.hasOwnProperty.call(CAP_BIT, s);
}

function optionalString(key: string, body: HclObject, field: string): string | undefined {
  const v = hclAttr(body, field);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") fail(key, `${field}: expected a string`);
  return v;
}

function stringList(key: string, body: HclObject, field: string): string[] | undefined {
  const v = hclAttr(body, field);
  if (v === undefined || v === null) return undefined;
  // HCL1 decodes a lone string into a []string field.
  if (typeof v === "string") return [v];
  if (!Array.isArray(v)) fail(key, `${field}: expected a list of strings`);
  return v.map((x) => {
    if (typeof x !== "string") fail(key, `${field}: expected a list of strings`);
    return x;
  });
}

// `allowed_parameters = { "foo" = [], "bar" = ["a", 1] }`: names lower-cased (OpenBao does), values kept
// as written. A lone scalar value is a one-element list.
function parameterMap(key: string, body: HclObject, field: string): Map<string, ParameterValues> | undefined {
  let obj: HclObject | undefined;
  try {
    obj = hclMap(body, field, field);
  } catch (err) {
    if (err instanceof HclShapeError) fail(key, `${field}: expected a map of parameter names to lists of values`);
    throw err;
  }
  if (obj === undefined) return undefined;
  const out = new Map<string, ParameterValues>();
  for (const [name, raw] of Object.entries(obj)) {
    const values: HclValue[] = raw === null ? [] : Array.isArray(raw) ? raw : [raw];
    for (const v of values) {
      if (isHclObject(v)) fail(key, `${field}: values of ${JSON.stringify(name)} must be scalars or lists`);
    }
    out.set(name.toLowerCase(), values);
  }
  return out;
}

function parsePaginationLimit(key: string, v: HclValue | undefined): number {
  if (v === undefined || v === null) return 0;
  const n = typeof v === "string" && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v;
  if (typeof n !== "number" || !Number.isSafeInteger(n)) fail(key, "pagination_limit: expected an integer");
  return n;
}

function parseDurationField(key: string, v: HclValue | undefined, field: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v !== "string" && typeof v !== "number") fail(key, `error parsing ${field}: expected a duration`);
  const secs = parseDurationSeconds(v);
  if (secs === undefined) fail(key, `error parsing ${field}: invalid duration ${JSON.stringify(String(v))}`);
  return secs;
}

const GO_UNIT_SECONDS: Readonly<Record<string, number>> = {
  ns: 1e-9,
  us: 1e-6,
  µs: 1e-6,
  μs: 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
};

/**
 * Parse a duration the way OpenBao's `parseutil.ParseDurationSecond` does: a number or an integer string
 * is seconds; otherwise a Go duration string ("90s", "1h30m", "1.5h") or a whole number of days ("7d").
 * Returns seconds, or undefined if invalid. Negative durations are rejected (they are never meaningful
 * for TTLs, though Go would accept them).
 */
export function parseDurationSeconds(v: string | number): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) && v >= 0 ? v : undefined;
  const s = v.trim();
  if (s === "") return 0;
  if (/^\d+$/.test(s)) return Number(s);
  const days = /^(\d+)d$/.exec(s);
  if (days) return Number(days[1]) * 86400;
  if (s === "0") return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  let pos = s.startsWith("+") ? 1 : 0;
  if (pos === s.length) return undefined;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * GO_UNIT_SECONDS[m[2]];
    pos = re.lastIndex;
  }
  return total;
}

// OpenBao's `parseutil.ParseAbsoluteTime`: RFC 3339 or integer Unix seconds.
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
function parseExpiration(key: string, v: HclValue | undefined): Date | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  let ms: number | undefined;
  if (typeof v === "number" && Number.isSafeInteger(v)) ms = v * 1000;
  else if (typeof v === "string" && /^\d+$/.test(v.trim())) ms = Number(v.trim()) * 1000;
  else if (typeof v === "string" && RFC3339.test(v.trim())) ms = Date.parse(v.trim());
  if (ms === undefined || !Number.isFinite(ms)) fail(key, "invalid expiration time: expected RFC 3339 or Unix seconds");
  return new Date(ms);
}
