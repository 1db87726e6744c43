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
 *
 * The rules that keep one hostile packet from costing more than its connection:
 * - A connection is taken over at most once. Whatever the rewriter does not rewrite reaches Node's parser
 *   as sent; when that parser refuses it, the connection gets a 4xx and is closed. (Taking a refused
 *   connection over again once looped forever on a malformed LIST line, starving the event loop.)
 * - The rewriter holds at most one incomplete line, of at most MAX_LINE bytes, for at most the server's
 *   headersTimeout; everything else streams through as it arrives.
 */
import { Duplex } from "node:stream";
import type { Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { Server as TlsServer, type DetailedPeerCertificate } from "node:tls";

const VERBS: Record<string, string> = { LIST: "list", SCAN: "scan" };

/**
 * The longest line held while waiting for its end. Above Node's limit for a whole head (16 KiB unless
 * configured), so the parser refuses whatever the rewriter gives up on.
 */
const MAX_LINE = 64 * 1024;

type State =
  | { kind: "request-line" }
  | { kind: "headers"; contentLength: number; chunked: boolean }
  | { kind: "body"; left: number }
  | { kind: "chunk-size" }
  | { kind: "chunk-data"; left: number }
  | { kind: "trailers" }
  /** Not interpreted any more: Node's parser refuses what came, or (past a limit) judges the rest alone. */
  | { kind: "passthrough" };

/**
 * `LIST /p?q HTTP/1.1` → `GET /p?q&list=true HTTP/1.1`; undefined unless the line is exactly a verb, one
 * space, an origin-form target without a fragment, one space and HTTP/1.0 or HTTP/1.1. Anything looser
 * (no version, extra spaces or tokens, tabs) reaches Node's parser unchanged, which refuses the method.
 */
export function rewriteRequestLine(line: string): string | undefined {
  const m = /^(LIST|SCAN) (\/[^\s#]*) (HTTP\/1\.[01])$/.exec(line);
  if (!m) return undefined;
  const [, verb, target, version] = m;
  return `GET ${target}${target.includes("?") ? "&" : "?"}${VERBS[verb]}=true ${version}`;
}

const PASSTHROUGH: State = { kind: "passthrough" };

/** Rewrites request lines in an HTTP/1.1 request stream; everything else is copied unchanged. */
export class RequestLineRewriter {
  private state: State = { kind: "request-line" };
  /** The incomplete line, in the pieces it arrived in (joined once, when its end arrives). */
  private held: Buffer[] = [];
  private heldBytes = 0;
  private linesDone = 0;

  constructor(private readonly maxLine = MAX_LINE) {}

  /** A number naming the incomplete line being held, if any; each line gets a new one. */
  get heldLine(): number | undefined {
    return this.heldBytes > 0 ? this.linesDone : undefined;
  }

  push(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    let rest = chunk;
    while (rest.length > 0) {
      const s = this.state;
      if (s.kind === "passthrough") {
        out.push(rest);
        break;
      }
      if (s.kind === "body" || s.kind === "chunk-data") {
        const n = Math.min(s.left, rest.length);
        out.push(rest.subarray(0, n));
        rest = rest.subarray(n);
        s.left -= n;
        if (s.left === 0) this.state = s.kind === "body" ? { kind: "request-line" } : { kind: "chunk-size" };
        continue;
      }
      const lf = rest.indexOf(0x0a);
      if (lf === -1) {
        this.held.push(Buffer.from(rest)); // a copy: the socket's buffer is not ours to keep
        this.heldBytes += rest.length;
        if (this.heldBytes > this.maxLine) {
          out.push(this.takeHeld());
          this.state = PASSTHROUGH;
        }
        break;
      }
      const line = this.takeHeld(rest.subarray(0, lf + 1));
      rest = rest.subarray(lf + 1);
      this.linesDone++;
      // Past the limit whether or not its end came in the same read, so packet sizes do not change the answer.
      if (line.length > this.maxLine) this.state = PASSTHROUGH;
      out.push(line.length > this.maxLine ? line : this.onLine(line));
    }
    return out.length === 1 ? out[0] : Buffer.concat(out);
  }

  private takeHeld(tail?: Buffer): Buffer {
    const parts = tail ? [...this.held, tail] : this.held;
    this.held = [];
    this.heldBytes = 0;
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  /** One whole line (ending in LF) in a line-oriented state; returns what goes on to Node's parser. */
  private onLine(line: Buffer): Buffer {
    const s = this.state;
    const text = line.toString("latin1");
    // Node's parser refuses a bare LF anywhere in a request; nothing after it is read.
    if (!text.endsWith("\r\n")) {
      this.state = PASSTHROUGH;
      return line;
    }
    const content = text.slice(0, -2);
    switch (s.kind) {
      case "request-line": {
        if (content === "") return line; // empty lines before a request are allowed (RFC 9112 §2.2)
        const rewritten = rewriteRequestLine(content);
        if (rewritten !== undefined) {
          this.state = { kind: "headers", contentLength: 0, chunked: false };
          return Buffer.from(`${rewritten}\r\n`, "latin1");
        }
        // A verb line we would not rewrite: Node's parser refuses its method (no method it knows starts
        // with LIS or SC), and the connection closes. Any other line is Node's parser's to judge.
        this.state = /^(LIST|SCAN)/.test(content) ? PASSTHROUGH : { kind: "headers", contentLength: 0, chunked: false };
        return line;
      }
      case "headers": {
        if (content === "") {
          this.state = s.chunked ? { kind: "chunk-size" } : s.contentLength > 0 ? { kind: "body", left: s.contentLength } : { kind: "request-line" };
          return line;
        }
        const colon = content.indexOf(":");
        if (colon < 0) return line; // refused by Node's parser
        const name = content.slice(0, colon).toLowerCase();
        const value = content.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
        // The same reading as llhttp's; where they could differ (duplicates, CL with TE) llhttp refuses.
        if (name === "content-length" && /^\d+$/.test(value)) s.contentLength = Number(value);
        if (name === "transfer-encoding") s.chunked = value.split(",").pop()?.trim().toLowerCase() === "chunked";
        return line;
      }
      case "chunk-size": {
        const m = /^([0-9a-fA-F]+)(;.*)?$/.exec(content);
        const size = m ? parseInt(m[1], 16) : NaN;
        // A size llhttp also refuses (or one too big to count): it closes the connection on it.
        if (!Number.isSafeInteger(size)) this.state = PASSTHROUGH;
        else this.state = size === 0 ? { kind: "trailers" } : { kind: "chunk-data", left: size + 2 }; // data, CRLF
        return line;
      }
      case "trailers":
        if (content === "") this.state = { kind: "request-line" };
        return line;
      default:
        return line;
    }
  }
}

/** The connection after takeover: a socket-like stream whose incoming bytes pass the rewriter. */
class RewritingConnection extends Duplex {
  private readonly rewriter = new RequestLineRewriter();
  private lineTimer: NodeJS.Timeout | undefined;
  private timedLine: number | undefined;

  constructor(
    private readonly socket: Socket,
    first: Buffer,
    private readonly headersTimeout: number,
  ) {
    super({ allowHalfOpen: true });
    socket.on("data", (chunk: Buffer) => this.feed(chunk));
    socket.on("end", () => this.push(null));
    socket.on("close", () => this.destroy());
    socket.on("error", (err) => this.destroy(err));
    socket.on("timeout", () => this.emit("timeout"));
    socket.on("drain", () => this.emit("drain"));
    process.nextTick(() => this.feed(first));
  }

  private feed(chunk: Buffer): void {
    if (this.destroyed) return;
    const out = this.rewriter.push(chunk);
    this.watchHeldLine();
    if (out.length > 0 && !this.push(out)) this.socket.pause();
  }

  /**
   * A held line must be complete within headersTimeout: until the rewriter lets it go, Node's parser has
   * not seen it, so Node's own header timeout cannot (a request line sent a byte a minute would otherwise
   * keep the connection forever).
   */
  private watchHeldLine(): void {
    const held = this.rewriter.heldLine;
    if (held === this.timedLine) return;
    clearTimeout(this.lineTimer);
    this.timedLine = held;
    this.lineTimer = held !== undefined && this.headersTimeout > 0 ? setTimeout(() => refuse(this, 408), this.headersTimeout).unref() : undefined;
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
  /** The TLS peer's certificate (the cert auth method reads it); undefined on a plain socket. */
  getPeerCertificate(detailed: true): DetailedPeerCertificate | undefined {
    const tls = this.socket as Socket & { getPeerCertificate?: (d: true) => DetailedPeerCertificate };
    return typeof tls.getPeerCertificate === "function" ? tls.getPeerCertificate(detailed) : undefined;
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
    clearTimeout(this.lineTimer);
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

/** Sockets and connections taken over: never again (see the file comment). */
const adopted = new WeakSet<Duplex>();

function adopt(server: Server, socket: Socket, first: Buffer): void {
  adopted.add(socket);
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
  socket.pause(); // bytes wait in the socket until the connection below reads them
  afterPendingResponses(socket, () => {
    const conn = new RewritingConnection(socket, first, server.headersTimeout);
    adopted.add(conn);
    // The bytes are plain HTTP by now. An HTTPS server runs Node's HTTP connection handler on
    // "secureConnection"; its "connection" would start a TLS handshake on them.
    server.emit(server instanceof TlsServer ? "secureConnection" : "connection", conn);
  });
}

type HttpSocket = Duplex & { _httpMessage?: ServerResponse | null };

/**
 * Runs `then` once Node's server has answered the requests it already parsed on this socket (pipelined
 * before the request at hand): answers go out in request order. Not for a request still missing part of
 * its body: Node's parser has stopped, so that answer would never come. Node hands the socket to the
 * next queued response in its own "finish" listener, which runs before ours.
 */
function afterPendingResponses(socket: HttpSocket, then: () => void): void {
  if (socket.destroyed) return;
  const res = socket._httpMessage;
  if (!res || !res.req.complete) return then();
  const next = (): void => {
    res.off("finish", next);
    socket.off("close", next);
    afterPendingResponses(socket, then);
  };
  res.once("finish", next);
  socket.once("close", next);
}

/** How a verb's request line begins. */
const VERB_LINES = Object.keys(VERBS).map((verb) => `${verb} `);

function isTokenChar(byte: number | undefined): boolean {
  return byte !== undefined && ((byte >= 0x41 && byte <= 0x5a) || byte === 0x2d); // A-Z, "-": method characters
}

/**
 * Where the refused request line starts in the packet Node's parser was reading, if it is a verb line:
 * the packet may begin with requests already parsed (pipelined), so the start is worked back from the
 * byte the method match failed on. A packet that ends inside the verb ("LIS") still counts: the rewriter
 * waits for the rest. A verb whose first bytes came in an earlier packet cannot be seen and is refused.
 */
function verbLineStart(packet: Buffer, failedAt: number): number | undefined {
  for (const verb of VERB_LINES) {
    for (let back = 0; back < verb.length; back++) {
      const start = failedAt - back;
      if (start < 0) break;
      const seen = packet.subarray(start, start + verb.length).toString("latin1");
      // The verb must begin the method: "UNLIST" is not LIST (a body ending in capitals right before a
      // pipelined LIST is refused too — the price of not re-parsing the packet).
      if (verb.startsWith(seen) && seen.length > back && !isTokenChar(packet[start - 1])) return start;
    }
  }
  return undefined;
}

const REFUSALS = {
  400: ["Bad Request", "malformed request"],
  408: ["Request Timeout", "request timeout"],
  413: ["Payload Too Large", "chunk extensions too large"],
  431: ["Request Header Fields Too Large", "request header fields too large"],
} as const;

/** Node's parser codes with their own status (as in Node's default answer); any other refusal is a 400. */
const STATUS_FOR_CODE: Record<string, keyof typeof REFUSALS> = { HPE_HEADER_OVERFLOW: 431, HPE_CHUNK_EXTENSIONS_OVERFLOW: 413, ERR_HTTP_REQUEST_TIMEOUT: 408 };

/** Sockets refused already: Node's parser reports every later packet again. */
const refused = new WeakSet<Duplex>();

/**
 * A refusal in the API's error envelope, then the connection is closed. Nothing after the refused request
 * is read; requests before it (pipelined) are answered first, as Node would if it had not stopped, and
 * the refusal never goes into the middle of a response already on its way.
 */
function refuse(socket: HttpSocket, status: keyof typeof REFUSALS): void {
  if (refused.has(socket)) return;
  refused.add(socket);
  socket.pause();
  afterPendingResponses(socket, () => {
    const [reason, message] = REFUSALS[status];
    const body = JSON.stringify({ errors: [message] });
    if (socket.writable && !socket._httpMessage?.headersSent) socket.write(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    socket.destroy();
  });
}

type ClientError = NodeJS.ErrnoException & { rawPacket?: Buffer; bytesParsed?: number };

/** Installs LIST/SCAN support, and refusals in the API's envelope for every request Node's parser refuses. */
export function supportListVerbs(server: Server): void {
  server.on("clientError", (err: ClientError, socket: Duplex) => {
    if (err.code === "HPE_INVALID_METHOD" && !adopted.has(socket) && err.rawPacket) {
      const start = verbLineStart(err.rawPacket, err.bytesParsed ?? 0);
      if (start !== undefined) {
        adopt(server, socket as Socket, err.rawPacket.subarray(start));
        return;
      }
    }
    if (err.code === "ECONNRESET") socket.destroy(); // nobody left to answer
    else refuse(socket, STATUS_FOR_CODE[err.code ?? ""] ?? 400);
  });
}
