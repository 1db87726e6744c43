/**
 * A server in a process of its own (for kill -9 tests): started from the TypeScript sources with tsx,
 * from a ServerConfig; resolves once it listens. The caller kills it (SIGKILL is the point of most uses).
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { join } from "node:path";
import type { ServerConfig } from "../src/server/config.js";

const root = join(import.meta.dirname, "..");

export interface ServerProcess {
  url: string;
  child: ChildProcessWithoutNullStreams;
  /** kill -9, resolved once the process is gone. */
  kill(): Promise<void>;
}

export async function startServerProcess(config: ServerConfig): Promise<ServerProcess> {
  const script = [
    `const { startServer } = await import(${JSON.stringify(join(root, "src/server/server.ts"))});`,
    `const { createLogger } = await import(${JSON.stringify(join(root, "src/server/log.ts"))});`,
    `const s = await startServer(JSON.parse(process.env.ARCA_TEST_CONFIG), { logger: createLogger("error", () => undefined) });`,
    `process.stdout.write(JSON.stringify({ url: s.url }) + "\\n");`,
  ].join("\n");
  const child = spawn(process.execPath, ["--max-old-space-size=512", "--import", "tsx", "--input-type=module", "-e", script], {
    cwd: root,
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, ARCA_TEST_CONFIG: JSON.stringify(config) },
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
      const line = /^(\{.*\})\n/m.exec(out);
      if (line) resolve((JSON.parse(line[1]) as { url: string }).url);
    });
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    child.on("exit", (code) => reject(new Error(`server process exited with ${code}: ${err}`)));
  });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  return {
    url,
    child,
    kill: async () => {
      child.kill("SIGKILL");
      await exited;
    },
  };
}
