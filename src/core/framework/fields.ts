/**
 * Typed request fields with OpenBao's lenient coercions: clients send booleans as "true", integers as
 * strings, lists as comma-separated strings and durations as Go strings. Handlers get values of the
 * declared TypeScript type; a value that cannot be coerced is a 400 naming the field.
 */
import { ArcaError } from "../../common/errors.js";
import { DurationError, parseDuration } from "./duration.js";
import { setOwn } from "../own-keys.js";

export type FieldType = "string" | "int" | "bool" | "duration" | "strings" | "map" | "object" | "any";

export interface FieldSpec {
  type: FieldType;
  description?: string;
  required?: boolean;
  default?: unknown;
  /** For "string": the accepted values. */
  allowed?: readonly string[];
  /** Hidden from help/OpenAPI (deprecated aliases). */
  deprecated?: boolean;
}

export type Fields = Record<string, FieldSpec>;

type ValueOf<T extends FieldType> = T extends "string"
  ? string
  : T extends "int" | "duration"
    ? number
    : T extends "bool"
      ? boolean
      : T extends "strings"
        ? string[]
        : T extends "map"
          ? Record<string, string>
          : T extends "object"
            ? Record<string, unknown>
            : unknown;

/** Field values as handlers see them: present when required or defaulted, else possibly undefined. */
export type FieldValues<F extends Fields> = {
  [K in keyof F]: F[K] extends { required: true } | { default: unknown }
    ? ValueOf<F[K]["type"]>
    : ValueOf<F[K]["type"]> | undefined;
};

function fieldError(name: string, message: string): ArcaError {
  return new ArcaError("invalid_request", `error converting input for field "${name}": ${message}`);
}

const TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"]);

export function parseBool(v: unknown): boolean | undefined {
  if (typeof v === "boolean") return v;
  if (typeof v === "number") return v === 1 ? true : v === 0 ? false : undefined;
  if (typeof v === "string") return TRUE.has(v) ? true : FALSE.has(v) ? false : undefined;
  return undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function coerceField(name: string, spec: FieldSpec, raw: unknown): unknown {
  switch (spec.type) {
    case "string": {
      let s: string;
      if (typeof raw === "string") s = raw;
      else if (typeof raw === "number" || typeof raw === "boolean") s = String(raw);
      else throw fieldError(name, "expected a string");
      if (spec.allowed && !spec.allowed.includes(s)) {
        throw new ArcaError("invalid_request", `invalid value "${s.slice(0, 64)}" for field "${name}"; allowed: ${spec.allowed.join(", ")}`);
      }
      return s;
    }
    case "int": {
      const n = typeof raw === "number" ? raw : typeof raw === "string" && /^[-+]?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n)) throw fieldError(name, "expected an integer");
      return n;
    }
    case "bool": {
      const b = parseBool(raw);
      if (b === undefined) throw fieldError(name, "expected a boolean");
      return b;
    }
    case "duration":
      try {
        const d = parseDuration(raw);
        if (d < 0) throw fieldError(name, "duration must not be negative");
        return d;
      } catch (err) {
        if (err instanceof DurationError) throw fieldError(name, err.message);
        throw err;
      }
    case "strings": {
      if (typeof raw === "string") return raw === "" ? [] : raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
      if (Array.isArray(raw)) {
        return raw.map((item) => {
          if (typeof item === "string") return item;
          if (typeof item === "number" || typeof item === "boolean") return String(item);
          throw fieldError(name, "expected a list of strings");
        });
      }
      throw fieldError(name, "expected a list of strings");
    }
    case "map": {
      let obj: unknown = raw;
      if (typeof raw === "string") {
        try {
          obj = raw === "" ? {} : JSON.parse(raw);
        } catch {
          throw fieldError(name, "expected a map of strings");
        }
      }
      if (!isPlainObject(obj)) throw fieldError(name, "expected a map of strings");
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(obj)) {
        if (typeof v === "string") setOwn(out, k, v);
        else if (typeof v === "number" || typeof v === "boolean") setOwn(out, k, String(v));
        else throw fieldError(name, "expected a map of strings");
      }
      return out;
    }
    case "object": {
      let obj: unknown = raw;
      if (typeof raw === "string") {
        try {
          obj = JSON.parse(raw);
        } catch {
          throw fieldError(name, "expected an object");
        }
      }
      if (!isPlainObject(obj)) throw fieldError(name, "expected an object");
      return obj;
    }
    case "any":
      return raw;
  }
}

/** Field declarations are static: their entries are listed once per declaration, not once per request. */
const ENTRIES = new WeakMap<Fields, Array<[string, FieldSpec]>>();

function entriesOf(fields: Fields): Array<[string, FieldSpec]> {
  let entries = ENTRIES.get(fields);
  if (entries === undefined) {
    entries = Object.entries(fields);
    ENTRIES.set(fields, entries);
  }
  return entries;
}

/** Coerces all declared fields from request data (URL parameters take precedence over the body). */
export function parseFields<F extends Fields>(fields: F, data: Record<string, unknown>, params: Record<string, string>): FieldValues<F> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of entriesOf(fields)) {
    const raw = name in params ? params[name] : data[name];
    if (raw === undefined || raw === null) {
      if (spec.required) throw new ArcaError("invalid_request", `missing required field "${name}"`);
      out[name] = spec.default;
      continue;
    }
    out[name] = coerceField(name, spec, raw);
  }
  return out as FieldValues<F>;
}
