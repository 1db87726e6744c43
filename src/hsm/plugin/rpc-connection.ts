// The client end of one connection to a keystore plugin: JSON-RPC 2.0 calls with ids, a deadline per call,
// and strict reading of replies. Anything the plugin sends that is not a well-formed reply to a call we are
// waiting for breaks the connection (every waiting call fails with PluginProtocolError); it never throws
// out of an event handler, so a hostile plugin cannot crash the server.
import type { Socket } from "node:net";
import { KeyUnavailableError, KeyUnsupportedError, type KeyError } from "../key-errors.js";
import { LineChannel } from "./line-channel.js";
import { isErrorKind, isObject, keyErrorFromWire, PluginProtocolError, RPC_METHOD_NOT_FOUND, sanitizeMessage, type Method, type WireObject } from "./protocol.js";

interface Pending {
  resolve(v: WireObject): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/** A call ran out of time: the plugin is taken to be stuck, and the owner replaces it. */
export class PluginTimeoutError extends KeyUnavailableError {}

export class RpcConnection {
  private readonly channel: LineChannel;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor(
    socket: Socket,
    private readonly plugin: string,
    maxFrameBytes: number,
    /** Called once when the connection ends, for whatever reason. */
    private readonly onClosed: (err: Error) => void,
  ) {
    this.channel = new LineChannel(socket, maxFrameBytes, {
      message: (m) => this.receive(m),
      closed: (err) => this.closed(err),
    });
  }

  get isOpen(): boolean {
    return this.channel.isOpen;
  }

  call(method: Method, params: WireObject, timeoutMs: number): Promise<WireObject> {
    if (!this.channel.isOpen) return Promise.reject(new KeyUnavailableError(`keystore plugin ${this.plugin} is not connected`));
    const id = this.nextId++;
    return new Promise<WireObject>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new PluginTimeoutError(`keystore plugin ${this.plugin} did not answer ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      if (!this.channel.send({ jsonrpc: "2.0", id, method, params })) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new KeyUnsupportedError(`request to keystore plugin ${this.plugin} is too large`));
      }
    });
  }

  close(reason: Error = new KeyUnavailableError(`keystore plugin ${this.plugin} connection closed`)): void {
    this.channel.close(reason);
  }

  private receive(msg: unknown): void {
    if (!isObject(msg) || msg.jsonrpc !== "2.0" || typeof msg.id !== "number") return this.violation("a reply is not a JSON-RPC 2.0 response");
    const call = this.pending.get(msg.id);
    if (!call) return this.violation("a reply answers no call");
    const hasResult = Object.hasOwn(msg, "result");
    const hasError = Object.hasOwn(msg, "error");
    if (hasResult === hasError) return this.violation("a reply must have exactly one of result and error");
    if (hasResult && !isObject(msg.result)) return this.violation("a result is not an object");
    const err = hasError ? this.errorOf(msg.error) : undefined;
    if (hasError && !err) return this.violation("an error is malformed");
    this.pending.delete(msg.id);
    clearTimeout(call.timer);
    if (err) call.reject(err);
    else call.resolve(msg.result as WireObject);
  }

  private errorOf(e: unknown): KeyError | undefined {
    if (!isObject(e) || typeof e.code !== "number" || typeof e.message !== "string") return undefined;
    const kind = isObject(e.data) ? e.data.kind : undefined;
    if (isErrorKind(kind)) return keyErrorFromWire(kind, e.message, this.plugin);
    if (e.code === RPC_METHOD_NOT_FOUND) return new KeyUnsupportedError(`keystore plugin ${this.plugin} does not implement this operation`);
    return new KeyUnavailableError(`keystore plugin ${this.plugin}: ${sanitizeMessage(e.message)}`);
  }

  private violation(what: string): void {
    this.channel.close(new PluginProtocolError(`keystore plugin ${this.plugin} broke the protocol: ${what}`));
  }

  private closed(err: Error): void {
    // Socket errors may quote paths or system detail: callers get our own wording.
    const reason =
      err instanceof PluginProtocolError
        ? err.message.startsWith("keystore plugin")
          ? err
          : new PluginProtocolError(`keystore plugin ${this.plugin} broke the protocol: ${err.message}`)
        : err instanceof KeyUnavailableError
          ? err
          : new KeyUnavailableError(`keystore plugin ${this.plugin} connection lost`);
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(reason);
    }
    this.pending.clear();
    this.onClosed(reason);
  }
}
