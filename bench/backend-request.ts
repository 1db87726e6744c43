/**
 * The Request an in-process bench hands a backend directly (no HTTP, no router): root namespace, no token,
 * loopback caller, the backend mounted at `pki/`-style `mountPoint`.
 */
import type { Operation, Request } from "../dist/core/framework/request.js";

export function backendRequest(mount: { point: string; type: string }, operation: Operation, path: string, data: Record<string, unknown>, body?: Request["body"]): Request {
  return {
    id: "b",
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
    mountAccessor: `${mount.type}_b`,
    mountType: mount.type,
  };
}
