// Newline-delimited JSON over a stream socket, with a bound on the line length. Both ends of the keystore
// plugin protocol use it. A line longer than the bound, or one that is not JSON, fails the channel at once:
// nothing waits for the end of an endless line, and the buffer never holds more than the bound.
import type { Socket } from "node:net";
import { PluginProtocolError } from "./protocol.js";

export interface LineChannelHandlers {
  message(value: unknown): void;
  /** Called once: the peer closed, the socket failed or the peer broke the framing. The socket is destroyed. */
  closed(err: Error): void;
}

export class LineChannel {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private done = false;

  constructor(
    private readonly socket: Socket,
    private readonly maxFrameBytes: number,
    private readonly handlers: LineChannelHandlers,
  ) {
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("error", (err) => this.fail(err));
    socket.on("close", () => this.fail(new Error("connection closed")));
  }

  /** False when the channel is closed or the line is over the bound (nothing is sent then). */
  send(value: unknown): boolean {
    if (this.done) return false;
    const line = JSON.stringify(value);
    if (Buffer.byteLength(line) > this.maxFrameBytes) return false;
    this.socket.write(`${line}\n`);
    return true;
  }

  get isOpen(): boolean {
    return !this.done;
  }

  close(reason = new Error("connection closed")): void {
    this.fail(reason);
  }

  private receive(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1 && !this.done; nl = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.buffered + piece.length > this.maxFrameBytes) return this.fail(new PluginProtocolError("frame too large"));
      const line = this.buffered === 0 ? piece : Buffer.concat([...this.chunks, piece]);
      this.chunks = [];
      this.buffered = 0;
      this.deliver(line);
    }
    if (this.done || start >= chunk.length) return;
    const rest = chunk.subarray(start);
    if (this.buffered + rest.length > this.maxFrameBytes) return this.fail(new PluginProtocolError("frame too large"));
    // Copy: the socket may reuse its buffer.
    this.chunks.push(Buffer.from(rest));
    this.buffered += rest.length;
  }

  private deliver(line: Buffer): void {
    if (line.length === 0 || (line.length === 1 && line[0] === 0x0d)) return;
    let value: unknown;
    try {
      value = JSON.parse(line.toString("utf8"));
    } catch {
      return this.fail(new PluginProtocolError("a frame is not JSON"));
    }
    this.handlers.message(value);
  }

  private fail(err: Error): void {
    if (this.done) return;
    this.done = true;
    this.chunks = [];
    this.buffered = 0;
    this.socket.destroy();
    this.handlers.closed(err);
  }
}
