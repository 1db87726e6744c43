// Child processes for integration tests that drive external programs (openssl, nginx, curl, swtpm,
// tpm2-tools): is a command installed, a free port, start and wait for a long-running process, run one to
// completion. Used by the agent's and the unsealer's token tests.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";

export function hasCommand(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}


/** A TCP port free right now on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const a = srv.address();
      const port = typeof a === "object" && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface Spawned {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Starts a long-running process, collecting stdout+stderr. */
export function startProcess(cmd: string, args: string[], env: NodeJS.ProcessEnv): Spawned {
  const child = spawn(cmd, args, { env, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  return {
    child,
    output: () => out,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

/** Waits until something accepts connections on the port (or the process died). */
export async function waitForPort(port: number, proc: Spawned, timeoutMs = 15_000): Promise<void> {
  const { connect } = await import("node:net");
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (proc.child.exitCode !== null) throw new Error(`process exited early: ${proc.output()}`);
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${port}: ${proc.output()}`);
}

/** Runs a command to completion; never throws (the test reads status and output). */
export function runCommand(cmd: string, args: string[], env: NodeJS.ProcessEnv, input?: string, timeoutMs = 20_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = startProcess(cmd, args, env);
    const timer = setTimeout(() => p.child.kill("SIGKILL"), timeoutMs);
    p.child.stdin?.end(input ?? "");
    p.child.once("exit", (code) => {
      clearTimeout(timer);
      // Let the pipes drain.
      setImmediate(() => resolve({ code, out: p.output() }));
    });
  });
}
