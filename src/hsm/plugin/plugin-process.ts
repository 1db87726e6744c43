// A keystore plugin the server runs itself: spawned without a shell from an argv list, given a socket path
// inside a fresh private directory (mode 0700, so no other user can connect or plant a socket there), and a
// minimal environment (PATH plus what the operator's config sets; never the server's own secrets).
import { spawn, type ChildProcess } from "node:child_process";
import { lstat, mkdtemp, rm } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KeyUnavailableError } from "../key-errors.js";
import { SOCKET_ENV } from "./protocol.js";

/** How long a stopped plugin gets between SIGTERM and SIGKILL. */
const STOP_GRACE_MS = 2000;
const CONNECT_POLL_MS = 25;

export class PluginProcess {
  private exited = false;
  private readonly exitPromise: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly socketPath: string,
  ) {
    this.exitPromise = new Promise((resolve) => {
      child.once("exit", () => {
        this.exited = true;
        resolve();
      });
      // A missing executable is an 'error' without 'exit'.
      child.once("error", () => {
        this.exited = true;
        resolve();
      });
    });
  }

  static async spawn(command: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<PluginProcess> {
    if (command.length === 0) throw new KeyUnavailableError("keystore plugin command is empty");
    const dir = await mkdtemp(join(tmpdir(), "arca-keystore-plugin-"));
    const socketPath = join(dir, "plugin.sock");
    const child = spawn(command[0], command.slice(1), {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env, [SOCKET_ENV]: socketPath },
      // The plugin's stdout is not ours to print (it might echo anything); its stderr is its own log.
      stdio: ["ignore", "ignore", "inherit"],
      shell: false,
    });
    return new PluginProcess(child, dir, socketPath);
  }

  /** Connects once the plugin listens; fails if it exits first or the deadline passes. */
  async connect(timeoutMs: number): Promise<Socket> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.exited) throw new KeyUnavailableError("keystore plugin exited before it listened");
      try {
        return await connectUnix(this.socketPath);
      } catch {
        if (Date.now() >= deadline) throw new KeyUnavailableError("keystore plugin did not listen in time");
        await new Promise((r) => setTimeout(r, CONNECT_POLL_MS));
      }
    }
  }

  async stop(): Promise<void> {
    if (!this.exited) {
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), STOP_GRACE_MS);
      await this.exitPromise;
      clearTimeout(timer);
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

export function connectUnix(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once("connect", () => {
      s.removeListener("error", reject);
      resolve(s);
    });
    s.once("error", reject);
  });
}

/**
 * A socket somebody else runs must be a socket owned by this user or root: another local user must not be
 * able to stand in for the keystore by planting a socket where the operator pointed.
 */
export async function checkPluginSocket(path: string): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch {
    throw new KeyUnavailableError("keystore plugin socket does not exist");
  }
  if (!st.isSocket()) throw new KeyUnavailableError("keystore plugin socket path is not a socket");
  const me = process.getuid?.();
  if (me !== undefined && st.uid !== me && st.uid !== 0) throw new KeyUnavailableError("keystore plugin socket is owned by another user");
}
