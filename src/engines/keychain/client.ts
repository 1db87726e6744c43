/**
 * The keychain for other front doors in the same process (Barbican encrypting a project's secrets under
 * an L3, a KMS plugin): data keys and decryption for a system, as ordinary requests through the core's
 * pipeline — so policies, namespaces and audit apply exactly as for HTTP callers. Nothing here reaches into
 * the engine; it only builds requests.
 *
 *   const kc = new KeychainClient(core, { mount: "keychain", token, namespace: "tenant-a" });
 *   const { plaintext, ciphertext } = await kc.dataKey("project-42");   // plaintext: Buffer, wipe after use
 *   const key = await kc.decrypt("project-42", ciphertext);
 */
import { ArcaError } from "../../common/errors.js";
import type { Operation, Request, Response } from "../../core/framework/request.js";

/** What the client needs of the core (Core has both): build a request, run it through the pipeline. */
export interface RequestPipeline {
  newRequest(init: Partial<Request> & Pick<Request, "operation" | "path">): Request;
  /** `namespaceHeader`: X-Vault-Namespace. */
  handleRequest(req: Request, namespaceHeader?: string): Promise<Response | undefined>;
}

export interface KeychainClientOptions {
  /** The keychain mount's path, without slashes (e.g. "keychain"). */
  mount: string;
  /** The token the calls run as (its policies decide what it may do). */
  token: string;
  /** The namespace the mount lives in (as X-Vault-Namespace would say it); default the root. */
  namespace?: string;
}

export interface ClientDataKey {
  /** The data key in the clear: the caller owns it and should fill(0) it when done. */
  plaintext: Buffer;
  /** The data key wrapped by the system's L3 (what to store). */
  ciphertext: string;
}

export class KeychainClient {
  constructor(
    private readonly pipeline: RequestPipeline,
    private readonly opts: KeychainClientOptions,
  ) {}

  /** One request through the pipeline, as the client's token, in its namespace. */
  private run(operation: Operation, path: string, data: Record<string, unknown> = {}): Promise<Response | undefined> {
    const req = this.pipeline.newRequest({ operation, path: `${this.opts.mount}/${path}`, data, clientToken: this.opts.token });
    return this.pipeline.handleRequest(req, this.opts.namespace);
  }

  private async call(operation: Operation, path: string, data: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const resp = await this.run(operation, path, data);
    if (!resp?.data) throw new ArcaError("internal", `keychain ${path}: no data in the response`);
    return resp.data;
  }

  /** Links `system` to a key configuration (a new L3) unless it exists already. */
  async ensureSystem(system: string, keyConfiguration: string, extra: { type?: string; region?: string; labels?: Record<string, string> } = {}): Promise<void> {
    if ((await this.run("read", `systems/${system}`))?.data) return;
    await this.run("create", `systems/${system}`, { key_configuration: keyConfiguration, ...extra });
  }

  /** A new data key (128 or 256 bits) for `system`. */
  async dataKey(system: string, bits: 128 | 256 = 256): Promise<ClientDataKey> {
    const d = await this.call("update", `systems/${system}/datakey`, { bits });
    return { plaintext: Buffer.from(String(d.plaintext), "base64"), ciphertext: String(d.ciphertext) };
  }

  /** The data key inside `ciphertext` (a Buffer the caller should fill(0) when done). */
  async decrypt(system: string, ciphertext: string): Promise<Buffer> {
    const d = await this.call("update", `systems/${system}/decrypt`, { ciphertext });
    return Buffer.from(String(d.plaintext), "base64");
  }

  /** `ciphertext` wrapped again under the system's latest L3 version. */
  async rewrap(system: string, ciphertext: string): Promise<string> {
    return String((await this.call("update", `systems/${system}/rewrap`, { ciphertext })).ciphertext);
  }
}
