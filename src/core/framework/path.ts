/**
 * Declared paths: an endpoint is data (pattern, typed fields, operations, existence check, help), in the
 * manner of OpenBao's logical framework. Patterns are `/`-separated segments:
 *   literal      matches itself
 *   :name        exactly one non-empty segment
 *   :name+       one or more segments (the rest of the path)
 *   :name*       zero or more segments (the rest of the path)
 * A rest parameter may be followed by literal segments only (`mounts/:path+/tune`).
 * Matching is by specificity (literal > :name > :name+ > :name*, compared segment by segment), never by
 * registration order; two patterns of equal specificity that can match the same path are refused when
 * the backend is built.
 */
import type { KeyValueStore, KeyValueTxn } from "../../storage/storage.js";
import { parseFields, type Fields, type FieldValues } from "./fields.js";
import type { Operation, RawMediaType, Request, Response } from "./request.js";

export interface HandlerContext<F extends Fields> {
  req: Request;
  /** Declared fields, coerced to their types. */
  fields: FieldValues<F>;
  /** True when the caller supplied the field (for PATCH-like partial updates). */
  has(name: keyof F & string): boolean;
  /** The mount's storage view. */
  storage: KeyValueStore;
  /** Path parameters captured by the pattern. */
  params: Record<string, string>;
}

export type Handler<F extends Fields> = (ctx: HandlerContext<F>) => Promise<Response | undefined>;

export interface OperationSpec<F extends Fields> {
  handler: Handler<F>;
  summary?: string;
  /**
   * The handler's storage is one transaction: the framework opens it, passes it as `ctx.storage`, and
   * commits when the handler returns (rolls back when it throws). For read-modify-writes whose work is
   * all storage; slow work (key generation, an HSM call) belongs before a transaction, not in one.
   */
  transaction?: boolean;
}

export interface PathSpec<F extends Fields = Fields> {
  pattern: string;
  fields?: F;
  operations: Partial<Record<Operation, OperationSpec<F> | Handler<F>>>;
  /** Decides create vs update (and so the ACL capability) for POST/PUT. */
  existenceCheck?: (ctx: HandlerContext<F>) => Promise<boolean>;
  /**
   * The path takes its body as bytes of these media types (`ctx.req.body`), not as fields: OCSP requests,
   * ACME's JWS, certificate uploads. A raw body of any other type, or on a path without this, is a 415.
   */
  rawBody?: { mediaTypes: readonly RawMediaType[] };
  /** Served without a token (login endpoints, CA fetches, the classic root generation). */
  unauthenticated?: boolean;
  /** Every operation needs `sudo` on top of its own capability (OpenBao's root paths). */
  sudo?: boolean;
  /**
   * The handler reads request data beyond its declared fields (KV v1 secrets, cubbyhole, response
   * wrapping): undeclared fields are then not reported back as ignored.
   */
  takesArbitraryInput?: boolean;
  synopsis?: string;
  description?: string;
}

type SegmentKind = "literal" | "param" | "rest1" | "rest0";
interface Segment {
  kind: SegmentKind;
  value: string; // literal text or parameter name
}

const RANK: Record<SegmentKind, number> = { literal: 4, param: 3, rest1: 2, rest0: 1 };

export interface CompiledPath {
  spec: PathSpec<Fields>;
  segments: Segment[];
  operations: Map<Operation, OperationSpec<Fields>>;
  /** Bounds on the number of request segments this pattern can match (a cheap first filter). */
  minParts: number;
  maxParts: number;
}

export interface PathMatch {
  path: CompiledPath;
  params: Record<string, string>;
}

/** Keeps the field types of one path together with its handlers (the generic is erased afterwards). */
export function definePath<const F extends Fields>(spec: PathSpec<F>): PathSpec<Fields> {
  return spec as unknown as PathSpec<Fields>;
}

export function compilePath(spec: PathSpec<Fields>): CompiledPath {
  const segments: Segment[] = spec.pattern.split("/").map((raw, i, all) => {
    if (!raw.startsWith(":")) {
      if (raw === "") throw new Error(`empty segment in pattern ${spec.pattern}`);
      return { kind: "literal", value: raw };
    }
    const last = raw.at(-1);
    if (last === "+" || last === "*") {
      if (all.slice(i + 1).some((s) => s.startsWith(":"))) throw new Error(`only literals may follow a rest parameter in ${spec.pattern}`);
      return { kind: last === "+" ? "rest1" : "rest0", value: raw.slice(1, -1) };
    }
    return { kind: "param", value: raw.slice(1) };
  });
  const operations = new Map<Operation, OperationSpec<Fields>>();
  for (const [op, h] of Object.entries(spec.operations) as Array<[Operation, OperationSpec<Fields> | Handler<Fields>]>) {
    operations.set(op, typeof h === "function" ? { handler: h } : h);
  }
  const rest = segments.find((s) => s.kind === "rest0" || s.kind === "rest1");
  const fixed = segments.filter((s) => s.kind === "literal" || s.kind === "param").length;
  const minParts = fixed + (rest?.kind === "rest1" ? 1 : 0);
  return { spec, segments, operations, minParts, maxParts: rest ? Infinity : fixed };
}

/** Orders paths most specific first. */
export function compareSpecificity(a: CompiledPath, b: CompiledPath): number {
  const n = Math.max(a.segments.length, b.segments.length);
  for (let i = 0; i < n; i++) {
    const sa = a.segments[i];
    const sb = b.segments[i];
    if (!sa || !sb) return sa ? -1 : 1; // longer pattern is more specific
    const d = RANK[sb.kind] - RANK[sa.kind];
    if (d !== 0) return d;
  }
  return 0;
}

/** A request path split once for matching against every declared path. */
export interface SplitPath {
  parts: string[];
  trailingSlash: boolean;
}

export function splitPath(path: string): SplitPath {
  // A trailing "/" (LIST) is not a segment of its own; rest parameters keep it.
  const trailingSlash = path.endsWith("/");
  const trimmed = trailingSlash ? path.slice(0, -1) : path;
  return { parts: trimmed === "" ? [] : trimmed.split("/"), trailingSlash };
}

export function matchPath(p: CompiledPath, path: string | SplitPath): Record<string, string> | undefined {
  const { parts, trailingSlash } = typeof path === "string" ? splitPath(path) : path;
  if (parts.length < p.minParts || parts.length > p.maxParts) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.segments.length; i++) {
    const seg = p.segments[i];
    if (seg.kind === "rest0" || seg.kind === "rest1") {
      const tail = p.segments.slice(i + 1); // literals after the rest parameter
      const restEnd = parts.length - tail.length;
      if (restEnd < i) return undefined;
      for (let t = 0; t < tail.length; t++) if (parts[restEnd + t] !== tail[t].value) return undefined;
      const rest = parts.slice(i, restEnd);
      if (seg.kind === "rest1" && rest.length === 0) return undefined;
      // Empty segments are allowed inside a rest parameter, as OpenBao's `.+` patterns allow them (an
      // OCSP GET request is base64 and may contain "//"); engines validate their own paths.
      if (seg.kind === "rest1" && rest.every((r) => r === "")) return undefined;
      params[seg.value] = rest.join("/") + (trailingSlash && rest.length > 0 && tail.length === 0 ? "/" : "");
      return params;
    }
    const part = parts[i];
    if (part === undefined || part === "") return undefined;
    if (seg.kind === "literal") {
      if (part !== seg.value) return undefined;
    } else {
      params[seg.value] = part;
    }
  }
  return parts.length === p.segments.length ? params : undefined;
}

const NO_FIELDS: Fields = {};

/**
 * One request's view of its path, built once and shared by the existence check and the handler. Fields
 * are parsed on first use (and then kept): a malformed field is reported only once the caller is
 * authorised, never to a caller the policy would refuse.
 *
 * A class rather than an object literal with a getter and closures: every request builds one, and a
 * literal with an accessor costs a fresh shape and two closures each time (it showed in profiles).
 */
class RequestContext implements HandlerContext<Fields> {
  /**
   * Held in an object of its own so that a context derived with `withStorage` (a prototype link to this
   * one) parses into, and reads from, the same slot.
   */
  private readonly parsed: { values?: FieldValues<Fields> } = {};

  constructor(
    readonly req: Request,
    private readonly match: PathMatch,
    readonly storage: KeyValueStore,
  ) {}

  get params(): Record<string, string> {
    return this.match.params;
  }

  get fields(): FieldValues<Fields> {
    this.parsed.values ??= parseFields(this.match.path.spec.fields ?? NO_FIELDS, this.req.data, this.match.params);
    return this.parsed.values;
  }

  has(name: string): boolean {
    return name in this.match.params || (this.req.data[name] !== undefined && this.req.data[name] !== null);
  }
}

export function buildContext(req: Request, match: PathMatch, storage: KeyValueStore): HandlerContext<Fields> {
  return new RequestContext(req, match, storage);
}

/**
 * A transaction seen as the mount's storage, for a handler that declared `transaction: true`: its reads and
 * writes are the transaction's, and a `transaction(...)` inside it joins this one (helpers that open their
 * own for standalone use then stay atomic with the rest of the handler).
 */
export function joinedStorage(txn: KeyValueTxn): KeyValueStore {
  return {
    get: (key) => txn.get(key),
    list: (prefix, opts) => txn.list(prefix, opts),
    put: (key, value) => txn.put(key, value),
    delete: (key) => txn.delete(key),
    transaction: (fn) => fn(txn),
  };
}

/** The same request context over other storage (the fields, parsed or not, are shared with `ctx`). */
export function withStorage(ctx: HandlerContext<Fields>, storage: KeyValueStore): HandlerContext<Fields> {
  // A prototype link rather than a spread: a spread would read `fields` and so parse them here, before
  // the handler asks (and parse errors belong to the handler's turn).
  const scoped = Object.create(ctx) as HandlerContext<Fields>;
  Object.defineProperty(scoped, "storage", { value: storage, enumerable: true });
  return scoped;
}
