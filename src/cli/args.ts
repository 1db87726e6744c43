/**
 * Flag parsing in the style of the bao/vault CLI: `-flag=value`, `-flag value`, `--flag=value`, and
 * boolean `-flag`. Flags may come before or after positional arguments until a bare `--`.
 */
export interface ParsedArgs {
  /** The last value of each flag. */
  flags: Map<string, string>;
  /** Every value of each flag in order, for repeatable flags such as `-policy`. */
  multi: Map<string, string[]>;
  positional: string[];
}

export function parseArgs(argv: string[], booleanFlags: ReadonlySet<string> = new Set()): ParsedArgs {
  const flags = new Map<string, string>();
  const multi = new Map<string, string[]>();
  const set = (name: string, value: string) => {
    flags.set(name, value);
    const all = multi.get(name);
    if (all) all.push(value);
    else multi.set(name, [value]);
  };
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith("-") && a.length > 1 && !/^-\d/.test(a)) {
      const body = a.replace(/^--?/, "");
      const eq = body.indexOf("=");
      if (eq !== -1) set(body.slice(0, eq), body.slice(eq + 1));
      else if (booleanFlags.has(body) || i + 1 >= argv.length || argv[i + 1].startsWith("-")) set(body, "true");
      else set(body, argv[++i]);
      continue;
    }
    positional.push(a);
  }
  return { flags, multi, positional };
}
