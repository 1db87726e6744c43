/**
 * `k=v` argument data as vault's kvbuilder reads it: `k=v`, `k=@file` (file contents), `k=-` (stdin),
 * `\@` for a literal leading `@`, `-` alone for a JSON object on stdin, `@file.json` for a JSON object from
 * a file. A repeated key collects its values into a list (`policies=a policies=b`).
 */
import { readFileSync } from "node:fs";
import { isRecord } from "./client.js";
import { UsageError } from "./context.js";

export interface PairSources {
  readStdin: () => Promise<string>;
  readFile?: (path: string) => string;
}

function jsonObject(text: string, from: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch (err) {
    throw new UsageError(`invalid JSON from ${from}: ${(err as Error).message}`);
  }
  if (!isRecord(parsed)) throw new UsageError(`JSON from ${from} must be an object`);
  return parsed;
}

export async function parsePairs(args: readonly string[], sources: PairSources): Promise<Record<string, unknown>> {
  const readFile = sources.readFile ?? ((p: string) => readFileSync(p, "utf8"));
  const result: Record<string, unknown> = {};
  let stdinUsed = false;
  const stdin = async () => {
    // stdin can be read once; a second `-` would silently get an empty value.
    if (stdinUsed) throw new UsageError("stdin can only be used once (as '-' or 'key=-')");
    stdinUsed = true;
    return sources.readStdin();
  };
  const file = (path: string) => {
    try {
      return readFile(path);
    } catch (err) {
      throw new UsageError(`cannot read ${path}: ${(err as Error).message}`);
    }
  };
  const add = (key: string, value: unknown) => {
    if (!Object.hasOwn(result, key)) result[key] = value;
    else {
      const existing = result[key];
      result[key] = Array.isArray(existing) ? [...(existing as unknown[]), value] : [existing, value];
    }
  };
  for (const [i, arg] of args.entries()) {
    if (arg === "-") {
      Object.assign(result, jsonObject(await stdin(), "stdin"));
      continue;
    }
    if (arg.startsWith("@")) {
      Object.assign(result, jsonObject(file(arg.slice(1)), arg.slice(1)));
      continue;
    }
    const eq = arg.indexOf("=");
    // The argument is not echoed: a value typed without its key may be a secret.
    if (eq <= 0) throw new UsageError(`invalid key/value pair (argument ${i + 1}): expected key=value`);
    const key = arg.slice(0, eq);
    let value = arg.slice(eq + 1);
    if (value === "-") value = await stdin();
    else if (value.startsWith("@")) value = file(value.slice(1));
    else if (value.startsWith("\\@")) value = value.slice(1);
    add(key, value);
  }
  return result;
}

/** `k=v` pairs that must stay strings (token metadata, custom_metadata). */
export function parseStringPairs(args: readonly string[], what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [i, arg] of args.entries()) {
    const eq = arg.indexOf("=");
    if (eq <= 0) throw new UsageError(`invalid ${what} (value ${i + 1}): expected key=value`);
    out[arg.slice(0, eq)] = arg.slice(eq + 1);
  }
  return out;
}
