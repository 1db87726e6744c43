/**
 * The audit broker: the pipeline offers it every request before the engine runs and every response
 * after. Strings in entries are HMAC'd per device (hash.ts). When devices are enabled and none of them
 * records an entry, the request fails: no unaudited operation (fail closed).
 *
 * Layout (barrier): `core/audit` = the device table; `sys/audit-salt/<path>` = each device's HMAC key.
 */
import { randomBytes } from "node:crypto";
import { ArcaError } from "../../common/errors.js";
import { getJson, putJson } from "../view.js";
import type { KeyValueStore } from "../../storage/storage.js";
import type { AuthResponse, Request, Response } from "../framework/request.js";
import type { AuditBroker } from "../audit.js";
import { hashStructure, hmacString } from "./hash.js";
import { FileAuditDevice, SocketAuditDevice, type AuditDevice } from "./devices.js";
import { CheckpointRecorder, type Checkpoint } from "./checkpoints.js";
import type { Signer } from "../../hsm/key-manager.js";

export interface AuditTableEntry {
  path: string;
  type: string;
  description: string;
  options: Record<string, string>;
  local: boolean;
}

interface Enabled {
  entry: AuditTableEntry;
  salt: Buffer;
  /** Undefined when the device could not be opened: it then counts as a failed write. */
  device: AuditDevice | undefined;
}

export interface MountAuditKeys {
  request: ReadonlySet<string>;
  response: ReadonlySet<string>;
}

const TABLE = "core/audit";
const saltKey = (path: string) => `sys/audit-salt/${path}`;
const NO_KEYS: MountAuditKeys = { request: new Set(), response: new Set() };

async function openDevice(entry: AuditTableEntry): Promise<AuditDevice> {
  if (entry.type === "file") return FileAuditDevice.open(entry.options);
  if (entry.type === "socket") return SocketAuditDevice.create(entry.options);
  throw new ArcaError("invalid_request", `unknown audit backend type: ${entry.type}`);
}

export class DeviceAuditBroker implements AuditBroker {
  private readonly enabled = new Map<string, Enabled>();
  private store: KeyValueStore | undefined;
  private checkpoints: CheckpointRecorder | undefined;
  private mountKeys: (req: Pick<Request, "namespace" | "mountAccessor">) => MountAuditKeys = () => NO_KEYS;

  async setup(
    store: KeyValueStore,
    mountKeys?: (req: Pick<Request, "namespace" | "mountAccessor">) => MountAuditKeys,
    checkpointSigner: () => Promise<Signer | undefined> = () => Promise.resolve(undefined),
  ): Promise<void> {
    this.store = store;
    this.checkpoints = new CheckpointRecorder(store, checkpointSigner);
    if (mountKeys) this.mountKeys = mountKeys;
    for (const entry of (await getJson<AuditTableEntry[]>(store, TABLE)) ?? []) {
      const salt = (await store.get(saltKey(entry.path))) ?? randomBytes(32);
      let device: AuditDevice | undefined;
      try {
        device = await openDevice(entry);
      } catch {
        device = undefined;
      }
      this.enabled.set(entry.path, { entry, salt, device });
    }
  }

  async teardown(): Promise<void> {
    // The last heads go to the barrier before it seals: lines cut from the end after this are noticed.
    await this.checkpoints?.close();
    this.checkpoints = undefined;
    await Promise.allSettled([...this.enabled.values()].map(async (e) => e.device?.close()));
    for (const e of this.enabled.values()) e.salt.fill(0);
    this.enabled.clear();
    this.store = undefined;
  }

  list(): AuditTableEntry[] {
    return [...this.enabled.values()].map((e) => e.entry);
  }

  async enable(entry: AuditTableEntry): Promise<void> {
    const store = this.requireStore();
    if (this.enabled.has(entry.path)) throw new ArcaError("invalid_request", `path already in use: ${entry.path}`);
    const device = await openDevice(entry);
    const salt = randomBytes(32);
    await store.put(saltKey(entry.path), salt);
    await putJson(store, TABLE, [...this.list(), entry]);
    this.enabled.set(entry.path, { entry, salt, device });
  }

  async disable(path: string): Promise<void> {
    const store = this.requireStore();
    const e = this.enabled.get(path);
    if (!e) return;
    await putJson(store, TABLE, this.list().filter((x) => x.path !== path));
    await store.delete(saltKey(path));
    this.enabled.delete(path);
    await e.device?.close();
    await this.checkpoints?.forget(path);
  }

  /** The device's latest checkpoint (recorded now, so it covers every line written so far). */
  async checkpoint(path: string): Promise<Checkpoint | undefined> {
    if (!this.enabled.has(path)) throw new ArcaError("invalid_request", "unknown audit backend");
    return this.checkpoints?.read(path);
  }

  hash(path: string, input: string): string {
    const e = this.enabled.get(path);
    if (!e) throw new ArcaError("invalid_request", "unknown audit backend");
    return hmacString(e.salt, input);
  }

  async logRequest(req: Request): Promise<void> {
    if (this.enabled.size === 0) return;
    const keys = this.mountKeys(req).request;
    await this.broadcast((salt, hmacAccessor) => ({
      time: new Date().toISOString(),
      type: "request",
      auth: this.authOf(req, salt, hmacAccessor),
      request: this.requestOf(req, salt, keys, hmacAccessor),
    }));
  }

  async logResponse(req: Request, resp: Response | undefined, err: unknown): Promise<void> {
    if (this.enabled.size === 0) return;
    const reqKeys = this.mountKeys(req).request;
    const respKeys = this.mountKeys(req).response;
    const error = err === undefined ? "" : err instanceof ArcaError ? err.message : "internal error";
    await this.broadcast((salt, hmacAccessor) => ({
      time: new Date().toISOString(),
      type: "response",
      auth: this.authOf(req, salt, hmacAccessor),
      request: this.requestOf(req, salt, reqKeys, hmacAccessor),
      response: resp
        ? {
            mount_type: req.mountType,
            mount_accessor: req.mountAccessor,
            data: resp.raw ? undefined : hashStructure(salt, resp.data ?? null, respKeys),
            auth: resp.auth ? this.responseAuth(resp.auth, salt, hmacAccessor) : undefined,
            warnings: resp.warnings,
            wrap_info: resp.wrapInfo
              ? {
                  token: hmacString(salt, resp.wrapInfo.token),
                  accessor: hmacAccessor ? hmacString(salt, resp.wrapInfo.accessor) : resp.wrapInfo.accessor,
                  ttl: resp.wrapInfo.ttl,
                  creation_path: resp.wrapInfo.creationPath,
                }
              : undefined,
          }
        : undefined,
      error,
    }));
  }

  private authOf(req: Request, salt: Buffer, hmacAccessor: boolean): Record<string, unknown> | undefined {
    const c = req.caller;
    // No token, but the path established who called (an ACME account's key, a Barbican project): that
    // identity is on record instead. Set by the handler, so only the response entry carries it.
    if (!c && req.auditIdentity) {
      const id = req.auditIdentity;
      return { display_name: id.displayName ?? `${id.kind}-${id.id}`, identity: { kind: id.kind, id: id.id }, policies: [], token_policies: [], metadata: null };
    }
    if (!c) return undefined;
    return {
      client_token: req.clientToken ? hmacString(salt, req.clientToken) : "",
      accessor: hmacAccessor ? hmacString(salt, c.accessor) : c.accessor,
      display_name: c.displayName,
      policies: c.policies,
      token_policies: c.policies,
      metadata: Object.keys(c.metadata).length > 0 ? hashStructure(salt, c.metadata) : null,
      entity_id: c.entityId,
      token_type: c.tokenType,
    };
  }

  private requestOf(req: Request, salt: Buffer, keys: ReadonlySet<string>, hmacAccessor: boolean): Record<string, unknown> {
    return {
      id: req.id,
      operation: req.operation,
      mount_point: req.mountPoint,
      mount_type: req.mountType,
      mount_accessor: req.mountAccessor,
      client_token: req.clientToken ? hmacString(salt, req.clientToken) : "",
      client_token_accessor: req.caller ? (hmacAccessor ? hmacString(salt, req.caller.accessor) : req.caller.accessor) : "",
      namespace: { id: req.namespace.id, path: req.namespace.path },
      path: req.path,
      data: Object.keys(req.data).length > 0 ? hashStructure(salt, req.data, keys) : null,
      remote_address: req.remoteAddress,
      wrap_ttl: req.wrapTtl ?? 0,
    };
  }

  private responseAuth(a: AuthResponse, salt: Buffer, hmacAccessor: boolean): Record<string, unknown> {
    return {
      client_token: hmacString(salt, a.clientToken),
      accessor: hmacAccessor ? hmacString(salt, a.accessor) : a.accessor,
      policies: a.policies,
      token_policies: a.tokenPolicies,
      metadata: Object.keys(a.metadata).length > 0 ? hashStructure(salt, a.metadata) : null,
      lease_duration: a.leaseDuration,
      renewable: a.renewable,
      token_type: a.tokenType,
    };
  }

  /** Writes to every device; fails the request when none of them recorded it. */
  private async broadcast(build: (salt: Buffer, hmacAccessor: boolean) => Record<string, unknown>): Promise<void> {
    const results = await Promise.allSettled(
      [...this.enabled.values()].map(async (e) => {
        const device = e.device;
        if (!device) throw new Error("device unavailable");
        await device.write(build(e.salt, e.entry.options.hmac_accessor !== "false"));
        this.checkpoints?.touched(e.entry.path, () => device.head());
      }),
    );
    if (!results.some((r) => r.status === "fulfilled")) {
      throw new ArcaError("internal", "no audit device could record the request");
    }
  }

  private requireStore(): KeyValueStore {
    if (!this.store) throw new ArcaError("sealed", "Vault is sealed");
    return this.store;
  }
}
