// The project's single HCL entry point (policies, server config, anything else HCL-shaped).
//
// We parse with @cdktf/hcl2json, HashiCorp's HCL2 parser compiled to WASM. OpenBao itself still uses
// HCL1, so a few HCL1-only spellings are rejected here (see "Known HCL1 differences" below); JSON input
// (text whose first non-blank character is `{`) is parsed with JSON.parse and never touches the WASM.
//
// hcl2json output shape, which the helpers below hide from callers:
//   attribute                   a = 1                 -> { a: 1 }
//   unlabelled block            a { x = 1 }           -> { a: [ { x: 1 } ] }         (one array item per block)
//   labelled block              a "l1" "l2" { x = 1 } -> { a: { l1: { l2: [ { x: 1 } ] } } }
//   non-literal expressions     a = b, a = 1 + 2      -> { a: "${b}" }, { a: "${1 + 2}" }
//   templates                   a = "x${y}"           -> { a: "x${y}" } (escapes decoded, `$${` kept)
// Labelled blocks come back grouped and sorted by label (a Go map), so document order is only kept
// among blocks with the same labels. Nothing here may depend on the order of differently-labelled blocks.
// The same data in JSON form usually has objects instead of one-element arrays, so every helper accepts
// both an object and an array of objects wherever a block may appear.
//
// Known HCL1 differences (HCL2 is stricter): two attributes on one line, quoted attribute names inside a
// block body (`allowed_parameters { "foo" = [] }` — the `= { "foo" = [] }` object form is fine), and
// `${` inside a block label are syntax errors here but accepted by OpenBao.
//
// Cost, measured on Node 20.20 (2-vCPU container, other jobs running) with a 21-line, 6-block policy:
//   first call (worker start, gunzip of the 1.7 MB → 6.5 MB WASM, WebAssembly.instantiate and Go runtime
//     start, all in the worker) plus the parse: a few hundred ms;
//   steady state: ~0.7 ms per parse plus a postMessage round trip; large documents ~0.1 ms per line
//     (20,000 one-line path rules: ~2 s), spent in the worker, never on the event loop.
// The first call is still worth moving off the request path: the server calls warmUpHcl() at start.
// Text is pre-scanned for nesting depth (hcl-prescan.ts) before it reaches the parser: deep nesting
// overflows the parser's stack and kills its Go runtime.

import { readFile } from "node:fs/promises";
import { checkHclNesting, HclLimitError } from "./hcl-prescan.js";
import { HclParserDiagnostic, HclParserFailure, HclWorker } from "./hcl-worker.js";

export type HclScalar = string | number | boolean | null;
export type HclValue = HclScalar | HclValue[] | HclObject;
export interface HclObject {
  [key: string]: HclValue;
}
/** A parsed document: the top-level body. */
export type HclDocument = HclObject;

/** One block occurrence: `listener "tcp" { ... }` → `{ labels: ["tcp"], body: {...} }`. */
export interface HclBlock {
  labels: string[];
  body: HclObject;
}

/** Malformed HCL/JSON text. The message never contains source text, only positions and the parser's
 * diagnostic summary, because config files and policies may hold secrets (PINs, passwords). */
export class HclSyntaxError extends Error {
  override readonly name = "HclSyntaxError";
  constructor(
    message: string,
    readonly filename: string,
    readonly line?: number,
    readonly column?: number,
  ) {
    super(message);
  }
}

/** Well-formed text whose data has the wrong shape (a string where a list was expected, …). `field` is
 * the dotted path of the offending value, e.g. `listener.tcp[1].address`. */
export class HclShapeError extends Error {
  override readonly name = "HclShapeError";
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

// Name handed to the WASM parser. Using our own fixed name (not the caller's filename) keeps the
// diagnostic format predictable for the regex below.
const WASM_FILENAME = "input.hcl";
// Deeper nesting than this is not a plausible config/policy and would only risk stack exhaustion (in
// the WASM parser, checked before parsing by hcl-prescan.ts; in normalise below, after).
const MAX_DEPTH = 64;
// hcl2json returns at most this much diagnostic detail; HCL diagnostics are short, this is a backstop.
const MAX_DETAIL = 300;

// Every HCL parse runs in one worker thread (see hcl-worker.ts): a parse neither blocks the event loop
// nor, when an input kills or hangs the parser, takes the server's policy handling with it.
// A parse needs ~0.1 ms per policy line; the budget is for a parser that hangs, not a slow one.
const PARSE_TIMEOUT_MS = 10_000;
const MAX_QUEUED_PARSES = 64;
let worker: HclWorker | undefined;

function parser(): HclWorker {
  worker ??= new HclWorker({ filename: WASM_FILENAME, timeoutMs: PARSE_TIMEOUT_MS, maxQueued: MAX_QUEUED_PARSES });
  return worker;
}

/** Start the parser worker and its WASM ahead of the first real parse (see timings above). */
export async function warmUpHcl(): Promise<void> {
  await parser().warmUp();
}

/** Too many HCL documents are waiting to be parsed: a transient condition (503), not bad input. */
export { HclParserBusy } from "./hcl-worker.js";

/**
 * Parse HCL (or JSON, if the text starts with `{`) into a plain object tree.
 * Throws HclSyntaxError for malformed, too deeply nested or unparseable text, HclParserBusy when the
 * parser's queue is full.
 */
export async function parseHcl(text: string, filename = "input.hcl"): Promise<HclDocument> {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.trimStart().startsWith("{")) return parseJsonDocument(body, filename);

  try {
    checkHclNesting(body, MAX_DEPTH);
  } catch (err) {
    if (err instanceof HclLimitError) throw new HclSyntaxError(`${filename}: ${err.message}`, filename, err.line);
    throw err;
  }
  let raw: unknown;
  try {
    raw = await parser().parse(body);
  } catch (err) {
    if (err instanceof HclParserDiagnostic) throw hclError(err, filename);
    if (err instanceof HclParserFailure) throw new HclSyntaxError(`${filename}: ${err.message}`, filename);
    throw err;
  }
  if (!isHclObject(raw)) throw new HclSyntaxError(`${filename}: document is not an object`, filename);
  return normalise(raw, filename, true, 0) as HclDocument;
}

function parseJsonDocument(text: string, filename: string): HclDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw jsonError(err, text, filename);
  }
  if (!isHclObject(raw)) throw new HclSyntaxError(`${filename}: JSON document must be an object`, filename);
  return normalise(raw, filename, false, 0) as HclDocument;
}

// hcl2json error text: "parse config: [input.hcl:3,21-24: Summary; Detail. input.hcl:…]".
const HCL_DIAG = /input\.hcl:(\d+),(\d+)(?:-\d+(?:,\d+)?)?: ([^;\]]*)(?:; )?(.*)$/s;

function hclError(err: unknown, filename: string): HclSyntaxError {
  const msg = err instanceof Error ? err.message : String(err);
  const m = HCL_DIAG.exec(msg);
  if (!m) return new HclSyntaxError(`${filename}: invalid HCL`, filename);
  const line = Number(m[1]);
  const column = Number(m[2]);
  // Keep only the first diagnostic; later ones start with the file name again.
  let detail = m[4].split(` ${WASM_FILENAME}:`)[0].replace(/\]$/, "").trim();
  if (detail.length > MAX_DETAIL) detail = `${detail.slice(0, MAX_DETAIL)}…`;
  const summary = m[3].trim();
  return new HclSyntaxError(
    `${filename}:${line}:${column}: ${summary}${detail ? `: ${detail}` : ""}`,
    filename,
    line,
    column,
  );
}

function jsonError(err: unknown, text: string, filename: string): HclSyntaxError {
  const msg = err instanceof Error ? err.message : String(err);
  // V8 messages look like `Unexpected token 'x', "…source…" is not valid JSON` or
  // `Expected ',' or '}' after property value in JSON at position 42`: keep the part before any quoted
  // source excerpt, and turn the position into line/column.
  const pos = /position (\d+)/.exec(msg);
  let reason = msg.split(/, "|, \.\.\.|\sin JSON/)[0].replace(/\s+/g, " ").trim() || "invalid JSON";
  if (reason.length > 80) reason = "invalid JSON";
  const offset = Math.min(pos ? Number(pos[1]) : jsonErrorOffset(text), text.length);
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - before.lastIndexOf("\n");
  return new HclSyntaxError(`${filename}:${line}:${column}: ${reason}`, filename, line, column);
}

// Offset of the first JSON syntax error, for V8 messages that quote source instead of giving a position.
// Only called on text JSON.parse has already rejected, so it need not be a full validator: it tracks
// strings, literals and structure closely enough to stop at the offending character.
function jsonErrorOffset(text: string): number {
  const ws = /[ \t\n\r]*/y;
  // Raw control characters are exactly what JSON forbids inside strings, so the class must name them.
  // eslint-disable-next-line no-control-regex
  const str = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
  const num = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const lit = /true|false|null/y;
  let i = 0;
  const skip = (): void => {
    ws.lastIndex = i;
    ws.exec(text);
    i = ws.lastIndex;
  };
  const eat = (re: RegExp): boolean => {
    re.lastIndex = i;
    if (!re.test(text)) return false;
    i = re.lastIndex;
    return true;
  };
  // Explicit stack of open containers, so hostile nesting cannot exhaust the call stack.
  const stack: string[] = [];
  for (;;) {
    skip();
    // Expect a value.
    if (text[i] === "{" || text[i] === "[") {
      const open = text[i++];
      stack.push(open);
      skip();
      if (text[i] === (open === "{" ? "}" : "]")) {
        i++;
        stack.pop();
      } else {
        if (open === "{") {
          if (!eat(str)) return i;
          skip();
          if (text[i++] !== ":") return i - 1;
        }
        continue;
      }
    } else if (!(eat(str) || eat(num) || eat(lit))) {
      return i;
    }
    // After a value: close containers or continue with the next element.
    for (;;) {
      skip();
      const top = stack[stack.length - 1];
      if (top === undefined) return i; // trailing garbage (or nothing wrong found)
      if (text[i] === ",") {
        i++;
        if (top === "{") {
          skip();
          if (!eat(str)) return i;
          skip();
          if (text[i++] !== ":") return i - 1;
        }
        break;
      }
      if (text[i] === (top === "{" ? "}" : "]")) {
        i++;
        stack.pop();
        continue;
      }
      return i;
    }
  }
}

// Copies the tree into fresh objects: strips prototype tricks (`__proto__` keys become ordinary own
// properties), bounds the depth, and for HCL input un-escapes the `$${` / `%%{` template escapes that
// hcl2json leaves in string values. Live interpolations (`${x}`) are left as-is: the caller sees the
// same text OpenBao's HCL1 parser would have kept literally.
function normalise(v: unknown, filename: string, fromHcl: boolean, depth: number): HclValue {
  if (depth > MAX_DEPTH) throw new HclSyntaxError(`${filename}: nesting deeper than ${MAX_DEPTH} levels`, filename);
  if (v === null || typeof v === "number" || typeof v === "boolean") return v;
  if (typeof v === "string") return fromHcl ? v.replace(/\$\$\{/g, "${").replace(/%%\{/g, "%{") : v;
  if (Array.isArray(v)) return v.map((x) => normalise(x, filename, fromHcl, depth + 1));
  if (typeof v === "object") {
    const out: HclObject = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      setOwn(out, k, normalise(x, filename, fromHcl, depth + 1));
    }
    return out;
  }
  throw new HclSyntaxError(`${filename}: unsupported value`, filename);
}

function setOwn(o: HclObject, k: string, v: HclValue): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

// ---------------------------------------------------------------------------------------------------
// Normalisation helpers. All take a `field` (dotted path used in error messages) and throw HclShapeError.

export function isHclObject(v: unknown): v is HclObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** True if a string came from (or contains) an HCL interpolation such as `${var.x}`, which we never
 * evaluate. Callers that need a literal can reject such values. */
export function hasInterpolation(s: string): boolean {
  return /(^|[^$])\$\{/.test(s);
}

export function hasKey(body: HclObject, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(body, key);
}

/** The bodies of a block or object-valued attribute: accepts `{…}`, `[{…}, …]` (several blocks). */
export function hclBodies(v: HclValue, field: string): HclObject[] {
  if (isHclObject(v)) return [v];
  if (Array.isArray(v)) {
    return v.map((x, i) => {
      if (!isHclObject(x)) throw new HclShapeError(`${field}[${i}]: expected a block/object`, field);
      return x;
    });
  }
  throw new HclShapeError(`${field}: expected a block/object`, field);
}

/**
 * All occurrences of the block `key` with exactly `labelCount` labels, in document order per label.
 * Accepts hcl2json's shape (`{key: {label: [body]}}`), plain JSON (`{key: {label: body}}`) and the HCL1
 * JSON list form (`{key: [{label: body}, {label: body}]}`).
 */
export function hclBlocks(doc: HclObject, key: string, labelCount: number): HclBlock[] {
  if (!hasKey(doc, key)) return [];
  const out: HclBlock[] = [];
  const walk = (v: HclValue, labels: string[], field: string): void => {
    if (labels.length === labelCount) {
      for (const body of hclBodies(v, field)) out.push({ labels, body });
      return;
    }
    for (const obj of hclBodies(v, field)) {
      for (const [label, inner] of Object.entries(obj)) {
        walk(inner, [...labels, label], `${field}.${label}`);
      }
    }
  };
  walk(doc[key], [], key);
  return out;
}

/** Reject keys outside `valid` (OpenBao's `CheckHCLKeys`), so typos fail loudly. */
export function checkHclKeys(body: HclObject, valid: readonly string[], field: string): void {
  for (const k of Object.keys(body)) {
    if (!valid.includes(k)) {
      throw new HclShapeError(`${field ? `${field}: ` : ""}invalid key "${k}"`, field ? `${field}.${k}` : k);
    }
  }
}

/** A single attribute value; if written as a repeated block (`a {…}` twice) the last one wins, as HCL1. */
export function hclAttr(body: HclObject, key: string): HclValue | undefined {
  return hasKey(body, key) ? body[key] : undefined;
}

export function hclString(body: HclObject, key: string, field: string): string | undefined {
  const v = hclAttr(body, key);
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v;
  // HCL1 decodes numbers and bools into string fields; configs in the wild rely on it (`port = 8200`).
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  throw new HclShapeError(`${field}: expected a string`, field);
}

export function hclBool(body: HclObject, key: string, field: string): boolean | undefined {
  const v = hclAttr(body, key);
  if (v === undefined || v === null) return undefined;
  if (typeof v === "boolean") return v;
  // Vault/OpenBao configs commonly spell booleans as strings or 0/1 (`tls_disable = "true"`, `= 1`).
  if (typeof v === "number" && (v === 0 || v === 1)) return v === 1;
  if (typeof v === "string") {
    const s = v.trim().toLowerCase();
    if (["true", "1", "t", "yes"].includes(s)) return true;
    if (["false", "0", "f", "no", ""].includes(s)) return false;
  }
  throw new HclShapeError(`${field}: expected a boolean`, field);
}

export function hclNumber(body: HclObject, key: string, field: string): number | undefined {
  const v = hclAttr(body, key);
  if (v === undefined || v === null) return undefined;
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(v)) return Number(v);
  throw new HclShapeError(`${field}: expected a number`, field);
}

/** A list of strings; a lone string is accepted as a one-element list (HCL1 does the same). */
export function hclStringList(body: HclObject, key: string, field: string): string[] | undefined {
  const v = hclAttr(body, key);
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return [v];
  if (!Array.isArray(v)) throw new HclShapeError(`${field}: expected a list of strings`, field);
  return v.map((x, i) => {
    if (typeof x === "string") return x;
    if (typeof x === "number" || typeof x === "boolean") return String(x);
    throw new HclShapeError(`${field}[${i}]: expected a string`, field);
  });
}

/** An object-valued attribute, written either `k = { … }` or as a block `k { … }` (merged if repeated). */
export function hclMap(body: HclObject, key: string, field: string): HclObject | undefined {
  const v = hclAttr(body, key);
  if (v === undefined || v === null) return undefined;
  const merged: HclObject = {};
  for (const part of hclBodies(v, field)) {
    for (const [k, x] of Object.entries(part)) setOwn(merged, k, x);
  }
  return merged;
}

/**
 * The one way a config file is read and turned into a typed config: read the file, parse HCL or JSON,
 * build. Every failure becomes the caller's own error type through `fail` (never echoing file content,
 * which may hold a PIN).
 */
export async function loadHclConfig<T>(
  path: string,
  build: (doc: HclObject, filename: string) => T,
  fail: (message: string, field?: string, line?: number) => Error,
): Promise<T> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw fail(`${path}: cannot read config file (${(err as NodeJS.ErrnoException).code ?? "unknown error"})`);
  }
  return parseHclConfig(text, path, build, fail);
}

export async function parseHclConfig<T>(
  text: string,
  filename: string,
  build: (doc: HclObject, filename: string) => T,
  fail: (message: string, field?: string, line?: number) => Error,
): Promise<T> {
  let doc: HclObject;
  try {
    doc = await parseHcl(text, filename);
  } catch (err) {
    if (err instanceof HclSyntaxError) throw fail(err.message, undefined, err.line);
    throw err;
  }
  try {
    return build(doc, filename);
  } catch (err) {
    if (err instanceof HclShapeError) throw fail(`${filename}: ${err.message}`, err.field);
    throw err;
  }
}
