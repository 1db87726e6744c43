/**
 * Drives one logical backend the way the core does (route, existence check for writes, handle) over a
 * real SQLite storage view, without HTTP, tokens or policy. Shared by the engines' unit tests.
 */
import { ArcaError } from "../src/core/errors.js";
import type { LogicalBackend } from "../src/core/framework/backend.js";
import type { Operation, Request, Response } from "../src/core/framework/request.js";
import { StorageView } from "../src/core/view.js";
import { SqliteStorage } from "../src/storage/sqlite.js";

/** "write" is POST/PUT: update, or create when the path's existence check says the entry is new. */
export type Call = Operation | "write";

export function backendHarness(backend: LogicalBackend, mount: { point: string; type: string }) {
  const storage = new SqliteStorage({ path: ":memory:" });
  const view = new StorageView(storage, `logical/${mount.type}/`);

  async function call(op: Call, path: string, data: Record<string, unknown> = {}): Promise<Response | undefined> {
    const operation: Operation = op === "write" ? "update" : op;
    const m = backend.resolve(path, operation);
    const req: Request = {
      id: "req-1",
      operation,
      path: `${mount.point}${path}`,
      data,
      clientToken: undefined,
      namespace: { id: "root", path: "" },
      caller: undefined,
      remoteAddress: "127.0.0.1",
      wrapTtl: undefined,
      mountPoint: mount.point,
      mountPath: path,
      mountAccessor: `${mount.type}_1234`,
      mountType: mount.type,
    };
    if (op === "write" && (await backend.exists(req, m, view)) === false) req.operation = "create";
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

  return { storage, view, backend, call, fails, close: () => storage.close() };
}
