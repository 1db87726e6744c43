/**
 * Where `arca login` keeps the token between runs: `~/.arca-token` (or ARCA_TOKEN_FILE), readable by the
 * owner only, like vault's default token helper.
 */
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CliIo } from "./io.js";

export function tokenFilePath(io: Pick<CliIo, "env" | "homeDir">): string {
  const custom = io.env.ARCA_TOKEN_FILE;
  return custom && custom !== "" ? custom : join(io.homeDir, ".arca-token");
}

export function readTokenFile(path: string): string | undefined {
  try {
    const token = readFileSync(path, "utf8").trim();
    return token === "" ? undefined : token;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

export function writeTokenFile(path: string, token: string): void {
  writeFileSync(path, token, { mode: 0o600 });
  // `mode` applies only when the file is created; tighten a file that already existed.
  chmodSync(path, 0o600);
}
