/**
 * The Request a test or an in-process bench hands a backend directly (no HTTP, no router, no token): root
 * namespace, loopback caller, the backend mounted at `mount.point`. Types only from src, so the benches
 * (which run the built dist/) can use it too.
 */
import type { Operation, RawBody, Request } from "../src/core/framework/request.js";

export function backendRequest(mount: { point: string; type: string }, operation: Operation, path: string, data: Record<string, unknown>, body?: RawBody): Request {
  return {
    id: "req-1",
    operation,
    path: `${mount.point}${path}`,
    data,
    ...(body ? { body } : {}),
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
}
