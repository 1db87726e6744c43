// Test support for the PKI engine: drives a backend the way the core does, and runs openssl on files.
import { spawnSync } from "node:child_process";
import { afterAll, afterEach } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KeyManager } from "../../hsm/key-manager.js";
import { backendHarness, type Call } from "../../../test/backend-harness.js";
import { createPkiBackendWith } from "./backend.js";

export type { Call };

/** A PKI backend driven as the core drives it (test/backend-harness.ts), plus PKI conveniences. */
export function pkiHarness(keyManager?: KeyManager) {
  const { storage, view, backend, call, fails, dump, close } = backendHarness(createPkiBackendWith({ keyManager }), { point: "pki/", type: "pki" });

  async function data(op: Call, path: string, body: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const r = await call(op, path, body);
    if (!r?.data) throw new Error(`no data from ${op} ${path}`);
    return r.data;
  }

  return { storage, view, backend, call, data, fails, dump, close };
}

export type PkiHarness = ReturnType<typeof pkiHarness>;

/** A scratch directory with helpers to write files and run openssl in it. */
export function scratch() {
  const dir = mkdtempSync(join(tmpdir(), "arca-pki-"));
  const file = (name: string, content: string | Buffer): string => {
    const p = join(dir, name);
    writeFileSync(p, content);
    return p;
  };
  /** Runs openssl; returns stdout+stderr, and the exit status (never throws on a non-zero exit). */
  const openssl = (args: string[]): { out: string; status: number } => {
    const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
    return { out: `${r.stdout}${r.stderr}`, status: r.status ?? 1 };
  };
  return { dir, file, openssl, path: (n: string) => join(dir, n), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The per-file setup of the PKI suites: harnesses made by `pki()` are closed after each test, the scratch
 * directory is removed after the file, and `uniq` makes names no other test uses.
 */
export function pkiSuite() {
  const open: PkiHarness[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((h) => h.close()));
  });
  const tmp = scratch();
  afterAll(() => tmp.cleanup());
  let n = 0;
  const pki = (keyManager?: KeyManager): PkiHarness => {
    const h = pkiHarness(keyManager);
    open.push(h);
    return h;
  };
  return { pki, tmp, uniq: (base: string): string => `${base}-${++n}` };
}
