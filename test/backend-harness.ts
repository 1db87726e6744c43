/**
 * Drives one logical backend the way the core does (route, existence check for writes, handle) over a
 * real SQLite storage view, without HTTP, tokens or policy. Shared by the engines' unit tests.
 */
import { ArcaError } from "../src/common/errors.js";
import type { LogicalBackend } from "../src/core/framework/backend.js";
import type { Operation, RawBody, Response } from "../src/core/framework/request.js";
import { StorageView } from "../src/core/view.js";
import { SqliteStorage } from "../src/storage/sqlite.js";
import { backendRequest } from "./backend-request.js";

/** "write" is POST/PUT: update, or create when the path's existence check says the entry is new. */
export type Call = Operation | "write";

/**
 * `shared` lets several harnesses use one storage (each gets its own view); by default each has its own
 * in-memory SQLite, closed by `close()`.
 */
export function backendHarness(backend: LogicalBackend, mount: { point: string; type: string }, shared?: SqliteStorage) {
  const storage = shared ?? new SqliteStorage({ path: ":memory:" });
  const view = new StorageView(storage, `logical/${mount.type}-${Math.random().toString(36).slice(2)}/`);
  /** The operation each call ran as (after the existence check turned a write into create or update). */
  const ops: Operation[] = [];

  /** `body`: a raw body, as a wire format hands it over for a path that declares `rawBody`. */
  async function call(op: Call, path: string, data: Record<string, unknown> = {}, body?: RawBody): Promise<Response | undefined> {
    const operation: Operation = op === "write" ? "update" : op;
    const m = backend.resolve(path, operation);
    const req = backendRequest(mount, operation, path, data, body);
    if (op === "write" && (await backend.exists(req, m, view)) === false) req.operation = "create";
    ops.push(req.operation);
    return backend.handle(req, m, view);
  }

  /** The ArcaError a call fails with (a TypeError or a success fails the test). */
  async function fails(op: Call, path: string, data: Record<string, unknown> = {}): Promise<ArcaError> {
    try {
      await call(op, path, data);
    } catch (err) {
      if (err instanceof ArcaError) return err;
      throw err;
    }
    throw new Error(`expected ${op} ${path} to fail`);
  }

  /** Every stored value below the view, for custody scans and "nothing was stored" checks. */
  async function dump(prefix = ""): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    const walk = async (p: string): Promise<void> => {
      for (const name of await view.list(p)) {
        if (name.endsWith("/")) await walk(p + name);
        else out.set(p + name, (await view.get(p + name))!);
      }
    };
    await walk(prefix);
    return out;
  }

  return { storage, view, backend, call, fails, dump, ops, close: () => (shared ? Promise.resolve() : storage.close()) };
}
