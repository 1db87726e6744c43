/** Runs the `arca` command in process with captured output (no terminal, no stdin). */
import { tmpdir } from "node:os";
import { run } from "../src/cli/main.js";

export async function runCli(args: string[], env: Record<string, string> = {}, homeDir = tmpdir()): Promise<{ code: number; out: string }> {
  let out = "";
  const code = await run(args, {
    env,
    homeDir,
    stdout: (t) => (out += t),
    stderr: (t) => (out += t),
    stdoutIsTty: false,
    stdinIsTty: false,
    readStdin: async () => "",
    readSecretLine: async () => "",
  });
  return { code, out };
}
