/**
 * Audit devices: where entries go. Each device chains its own lines (chain.ts) and writes them strictly
 * in order; a line that could not be written does not advance the chain.
 */
import { open, type FileHandle } from "node:fs/promises";
import { createSocket } from "node:dgram";
import { connect, type Socket } from "node:net";
import { ArcaError } from "../../common/errors.js";
import { chainLine, GENESIS, stateAfter, type ChainState } from "./chain.js";

export interface AuditDevice {
  write(entry: Record<string, unknown>): Promise<void>;
  /** Where the device's chain stands: the last line written, and the sequence number its log starts at. */
  head(): ChainHead;
  close(): Promise<void>;
}

export interface ChainHead extends ChainState {
  /** Sequence number of the first line of this device's log (1 for a new log). */
  firstSeq: number;
}

/** Serialises writes and keeps the chain state; subclasses only know how to emit one line. */
abstract class ChainedDevice implements AuditDevice {
  private state: ChainState = GENESIS;
  private firstSeq = 1;
  private tail: Promise<void> = Promise.resolve();

  protected setState(s: ChainState, firstSeq: number): void {
    this.state = s;
    this.firstSeq = firstSeq;
  }

  head(): ChainHead {
    return { ...this.state, firstSeq: this.firstSeq };
  }

  write(entry: Record<string, unknown>): Promise<void> {
    const task = this.tail.then(async () => {
      const { line, next } = chainLine(this.state, entry);
      await this.emit(line + "\n");
      this.state = next;
    });
    this.tail = task.catch(() => undefined);
    return task;
  }

  protected abstract emit(line: string): Promise<void>;
  abstract close(): Promise<void>;
}

const TAIL_WINDOW = 1 << 20;

/**
 * Cuts a line left incomplete at the end of the log (a crash or a full disk in the middle of a write): it
 * was never acknowledged (the request it recorded was refused), and a verifier must be able to read the
 * log. Returns the size after the repair.
 */
async function dropIncompleteLastLine(fh: FileHandle): Promise<number> {
  const { size } = await fh.stat();
  if (size === 0) return 0;
  const len = Math.min(size, TAIL_WINDOW);
  const buf = Buffer.alloc(len);
  await fh.read(buf, 0, len, size - len);
  if (buf[len - 1] === 0x0a) return size;
  const nl = buf.lastIndexOf(0x0a);
  const keep = nl === -1 ? (len === size ? 0 : size) : size - len + nl + 1;
  if (keep !== size) await fh.truncate(keep);
  return keep;
}

async function lastLineOf(fh: FileHandle, size: number): Promise<string | undefined> {
  if (size === 0) return undefined;
  const len = Math.min(size, TAIL_WINDOW);
  const buf = Buffer.alloc(len);
  await fh.read(buf, 0, len, size - len);
  const text = buf.toString("utf8").replace(/\n+$/, "");
  const nl = text.lastIndexOf("\n");
  return nl === -1 ? (len === size ? text : undefined) : text.slice(nl + 1);
}

/** The sequence number of the log's first line (1 for an empty log or one without chain fields). */
async function firstSeqOf(fh: FileHandle, size: number): Promise<number> {
  if (size === 0) return 1;
  const len = Math.min(size, TAIL_WINDOW);
  const buf = Buffer.alloc(len);
  await fh.read(buf, 0, len, 0);
  const nl = buf.indexOf(0x0a);
  try {
    const seq = (JSON.parse(buf.subarray(0, nl === -1 ? len : nl).toString("utf8")) as { seq?: unknown }).seq;
    return typeof seq === "number" ? seq : 1;
  } catch {
    return 1;
  }
}

export class FileAuditDevice extends ChainedDevice {
  private constructor(
    private readonly fh: FileHandle | undefined,
    private readonly target: "file" | "stdout" | "discard",
  ) {
    super();
  }

  static async open(options: Record<string, string>): Promise<FileAuditDevice> {
    const path = options.file_path ?? options.path;
    if (!path) throw new ArcaError("invalid_request", "file_path is required");
    if (path === "stdout") return new FileAuditDevice(undefined, "stdout");
    if (path === "discard") return new FileAuditDevice(undefined, "discard");
    // OpenBao's option: an octal mode the log is given, also when it exists already; "0000" leaves the mode
    // of an existing file alone. Never world-writable: anyone could then cut the log short or interleave lines.
    const mode = options.mode ? (/^[0-7]{1,4}$/.test(options.mode) ? parseInt(options.mode, 8) : NaN) : 0o600;
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) throw new ArcaError("invalid_request", "mode must be an octal file mode");
    if (mode & 0o002) throw new ArcaError("invalid_request", "mode must not make the audit log world-writable");
    let fh: FileHandle;
    try {
      fh = await open(path, "a+", mode === 0 ? 0o600 : mode);
    } catch (err) {
      throw new ArcaError("invalid_request", `cannot open audit file: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
    }
    try {
      // A device file (/dev/null) or FIFO is left as it is, as OpenBao does.
      const st = await fh.stat();
      if (st.isFile() && mode !== 0) await fh.chmod(mode);
      else if (st.isFile() && st.mode & 0o002) throw new ArcaError("invalid_request", "the audit log is world-writable: set a mode or fix the file's permissions");
    } catch (err) {
      await fh.close();
      if (err instanceof ArcaError) throw err;
      throw new ArcaError("invalid_request", `cannot set the audit file's mode: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
    }
    const device = new FileAuditDevice(fh, "file");
    const size = await dropIncompleteLastLine(fh);
    const state = stateAfter(await lastLineOf(fh, size));
    device.setState(state, size === 0 ? state.seq + 1 : await firstSeqOf(fh, size));
    return device;
  }

  protected async emit(line: string): Promise<void> {
    if (this.target === "stdout") {
      process.stdout.write(line);
      return;
    }
    if (this.target === "discard" || !this.fh) return;
    // A line is in the log whole or not at all: a failed or short write (a full disk) is cut back, so the
    // log stays verifiable and the next line follows the last complete one.
    const { size } = await this.fh.stat();
    try {
      await this.fh.appendFile(line);
    } catch (err) {
      await this.fh.truncate(size).catch(() => undefined);
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.fh?.close();
  }
}

function splitHostPort(address: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  if (!m) throw new ArcaError("invalid_request", "address must be host:port");
  return { host: m[1], port: Number(m[2]) };
}

/** Sends each line to a TCP, UDP or unix socket (a log collector on another host keeps the copy safe). */
export class SocketAuditDevice extends ChainedDevice {
  private socket: Socket | undefined;

  constructor(
    private readonly address: string,
    private readonly socketType: "tcp" | "udp" | "unix",
    private readonly timeoutMs: number,
  ) {
    super();
  }

  static create(options: Record<string, string>): SocketAuditDevice {
    const address = options.address;
    if (!address) throw new ArcaError("invalid_request", "address is required");
    const type = (options.socket_type ?? "tcp") as "tcp" | "udp" | "unix";
    if (!["tcp", "udp", "unix"].includes(type)) throw new ArcaError("invalid_request", "socket_type must be tcp, udp or unix");
    if (type !== "unix") splitHostPort(address);
    const timeout = options.write_timeout ? Number.parseFloat(options.write_timeout) * (options.write_timeout.endsWith("ms") ? 1 : 1000) : 2000;
    return new SocketAuditDevice(address, type, Number.isFinite(timeout) && timeout > 0 ? timeout : 2000);
  }

  private connectStream(): Promise<Socket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    return new Promise((resolve, reject) => {
      const opts = this.socketType === "unix" ? { path: this.address } : splitHostPort(this.address);
      const s = connect(opts as { path: string } & { host: string; port: number });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error("audit socket connect timeout"));
      }, this.timeoutMs);
      s.once("connect", () => {
        clearTimeout(timer);
        this.socket = s;
        resolve(s);
      });
      s.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      s.on("close", () => {
        if (this.socket === s) this.socket = undefined;
      });
    });
  }

  protected async emit(line: string): Promise<void> {
    if (this.socketType === "udp") {
      const { host, port } = splitHostPort(this.address);
      const sock = createSocket(host.includes(":") ? "udp6" : "udp4");
      try {
        await new Promise<void>((resolve, reject) => sock.send(line, port, host, (err) => (err ? reject(err) : resolve())));
      } finally {
        sock.close();
      }
      return;
    }
    const s = await this.connectStream();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error("audit socket write timeout"));
      }, this.timeoutMs);
      s.write(line, (err) => {
        clearTimeout(timer);
        if (err) {
          s.destroy();
          reject(err);
        } else resolve();
      });
    });
  }

  async close(): Promise<void> {
    this.socket?.destroy();
  }
}
