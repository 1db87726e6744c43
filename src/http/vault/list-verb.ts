/**
 * Support for OpenBao's non-standard HTTP verbs LIST and SCAN (hvac sends `LIST /v1/...`).
 *
 * Node's HTTP parser (llhttp) rejects unknown methods before any JavaScript sees the request, so a
 * connection that sends one is taken over when the parser reports HPE_INVALID_METHOD: Node's parser is
 * detached (as Node itself does for protocol upgrades) and the connection is handed back to the server
 * through a stream that rewrites `LIST /p?q HTTP/1.1` to `GET /p?q&list=true HTTP/1.1` — exactly what the
 * Go client sends for a list, so both reach the same code. Bodies pass through untouched: the rewriter
 * tracks message framing (Content-Length and chunked encoding) so it only ever edits a request line.
 * Connections that never use the verbs keep Node's native fast path.
 */
import { Duplex } from "node:stream";
import type { Server } from "node:http";
import type { Socket } from "node:net";

const VERBS: Record<string, string> = { LIST: "list", SCAN: "scan" };
const MAX_HEAD = 64 * 1024;

type State =
  | { kind: "head" }
  | { kind: "body"; left: number }
  | { kind: "chunk-size" }
  | { kind: "chunk-data"; left: number }
  | { kind: "trailers" }
  | { kind: "passthrough" };

/** Rewrites request lines in an HTTP/1.1 request stream; everything else is copied unchanged. */
export class RequestLineRewriter {
  private state: State = { kind: "head" };
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    let buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    while (buf.length > 0) {
      const s = this.state;
      if (s.kind === "passthrough") {
        out.push(buf);
        break;
      }
      if (s.kind === "body" || s.kind === "chunk-data") {
        const n = Math.min(s.left, buf.length);
        out.push(buf.subarray(0, n));
        buf = buf.subarray(n);
        s.left -= n;
        if (s.left === 0) this.state = s.kind === "body" ? { kind: "head" } : { kind: "chunk-size" };
        continue;
      }
      const terminator = s.kind === "head" || s.kind === "trailers" ? "\r\n\r\n" : "\r\n";
      // Trailers may be empty: then the message ends right after "0\r\n" with "\r\n".
      if (s.kind === "trailers" && buf.length >= 2 && buf[0] === 0x0d && buf[1] === 0x0a) {
        out.push(buf.subarray(0, 2));
        buf = buf.subarray(2);
        this.state = { kind: "head" };
        continue;
      }
      const end = buf.indexOf(terminator);
      if (end === -1) {
        if (buf.length > MAX_HEAD) {
          this.state = { kind: "passthrough" };
          continue;
        }
        this.pending = Buffer.from(buf);
        break;
      }
      const piece = buf.subarray(0, end + terminator.length);
      buf = buf.subarray(end + terminator.length);
      if (s.kind === "head") out.push(this.onHead(piece));
      else if (s.kind === "trailers") {
        out.push(piece);
        this.state = { kind: "head" };
      } else {
        out.push(piece);
        const size = parseInt(piece.toString("latin1").split(";")[0].trim(), 16);
        if (!Number.isFinite(size) || size < 0) this.state = { kind: "passthrough" };
        else this.state = size === 0 ? { kind: "trailers" } : { kind: "chunk-data", left: size + 2 };
      }
    }
    return out.length === 1 ? out[0] : Buffer.concat(out);
  }

  private onHead(head: Buffer): Buffer {
    const text = head.toString("latin1");
    const lineEnd = text.indexOf("\r\n");
    const [method, target, version, ...extra] = text.slice(0, lineEnd).split(" ");
    const lower = text.toLowerCase();
    if (/\r\ntransfer-encoding:[^\r]*chunked/.test(lower)) this.state = { kind: "chunk-size" };
    else {
      const m = /\r\ncontent-length:\s*(\d+)\s*\r\n/.exec(lower);
      const len = m ? Number(m[1]) : 0;
      this.state = len > 0 ? { kind: "body", left: len } : { kind: "head" };
    }
    const flag = VERBS[method];
    if (!flag || extra.length > 0 || !target || !version) return head;
    const sep = target.includes("?") ? "&" : "?";
    return Buffer.from(`GET ${target}${sep}${flag}=true ${version}${text.slice(lineEnd)}`, "latin1");
  }
}

/** The connection after takeover: a socket-like stream whose incoming bytes pass the rewriter. */
class RewritingConnection extends Duplex {
  private readonly rewriter = new RequestLineRewriter();

  constructor(
    private readonly socket: Socket,
    first: Buffer,
  ) {
    super({ allowHalfOpen: true });
    socket.on("data", (chunk: Buffer) => {
      if (!this.push(this.rewriter.push(chunk))) socket.pause();
    });
    socket.on("end", () => this.push(null));
    socket.on("close", () => this.destroy());
    socket.on("error", (err) => this.destroy(err));
    socket.on("timeout", () => this.emit("timeout"));
    socket.on("drain", () => this.emit("drain"));
    process.nextTick(() => this.push(this.rewriter.push(first)));
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }
  get localAddress(): string | undefined {
    return this.socket.localAddress;
  }
  get localPort(): number | undefined {
    return this.socket.localPort;
  }
  get encrypted(): boolean {
    return (this.socket as Socket & { encrypted?: boolean }).encrypted === true;
  }
  setTimeout(ms: number): this {
    this.socket.setTimeout(ms);
    return this;
  }
  setNoDelay(noDelay?: boolean): this {
    this.socket.setNoDelay(noDelay);
    return this;
  }
  setKeepAlive(enable?: boolean, delay?: number): this {
    this.socket.setKeepAlive(enable, delay);
    return this;
  }

  override _read(): void {
    this.socket.resume();
  }
  override _write(chunk: Buffer, encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.socket.write(chunk, encoding, cb);
  }
  override _final(cb: (err?: Error | null) => void): void {
    this.socket.end(cb);
  }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.socket.destroy(err ?? undefined);
    cb(err);
  }
}

/** Node's internal parser object on a server socket (not public API; used the way Node's own upgrade path does). */
interface NodeParser {
  unconsume?: () => void;
  finish?: () => void;
  remove?: () => void;
  close?: () => void;
  _consumed?: boolean;
}

function adopt(server: Server, socket: Socket, first: Buffer): void {
  const parser = (socket as Socket & { parser?: NodeParser | null }).parser;
  for (const ev of ["data", "end", "close", "drain", "error", "timeout", "pause", "resume"]) socket.removeAllListeners(ev);
  try {
    if (parser?._consumed) parser.unconsume?.();
    parser?.finish?.();
    parser?.remove?.(); // leave the server's connection list, or its header timeout would close us
  } catch {
    // A parser that is already gone is fine: all we need is that it no longer reads this socket.
  }
  // Never free the native parser here: we are inside its own read callback, and Node's C++ stream code
  // still uses it after we return (closing it synchronously crashed the process with SIGSEGV under
  // load). Node's own upgrade path defers the close the same way (closeParserInstance).
  if (parser?.close) setImmediate(() => parser.close?.());
  (socket as Socket & { parser?: NodeParser | null }).parser = null;
  socket.on("error", () => undefined);
  server.emit("connection", new RewritingConnection(socket, first));
}

function startsWithVerb(raw: Buffer | undefined): raw is Buffer {
  if (!raw) return false;
  const head = raw.subarray(0, 5).toString("latin1");
  return head === "LIST " || head === "SCAN ";
}

/** Installs LIST/SCAN support and Node's default client-error behaviour for everything else. */
export function supportListVerbs(server: Server): void {
  server.on("clientError", (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => {
    if (err.code === "HPE_INVALID_METHOD" && startsWithVerb(err.rawPacket)) {
      adopt(server, socket, err.rawPacket);
      return;
    }
    if (socket.writable) {
      const status = err.code === "HPE_HEADER_OVERFLOW" ? "431 Request Header Fields Too Large" : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? "408 Request Timeout" : "400 Bad Request";
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: application/json\r\n\r\n`);
    }
    socket.destroy();
  });
}
