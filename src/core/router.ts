/**
 * The mount router: longest-prefix match of a request path against the mounted backends. A lookup tries
 * each "/"-terminated prefix of the path from the longest down, so its cost depends on the path's depth,
 * not on the number of mounts.
 */
import { ArcaError } from "../common/errors.js";
import type { LogicalBackend } from "./framework/backend.js";
import { routePath, type MountEntry } from "./mounts.js";
import { StorageView } from "./view.js";

export interface MountedBackend {
  entry: MountEntry;
  backend: LogicalBackend;
  storage: StorageView;
}

export interface RouteMatch extends MountedBackend {
  /** The path inside the mount. */
  relPath: string;
  /** The mount's route ("secret/", "auth/token/"). */
  mountPoint: string;
}

export class Router {
  private readonly mounts = new Map<string, MountedBackend>();

  add(m: MountedBackend): void {
    const key = routePath(m.entry);
    if (this.mounts.has(key)) throw new ArcaError("invalid_request", `path is already in use at ${key}`);
    this.mounts.set(key, m);
  }

  remove(route: string): MountedBackend | undefined {
    const m = this.mounts.get(route);
    this.mounts.delete(route);
    return m;
  }

  get(route: string): MountedBackend | undefined {
    return this.mounts.get(route);
  }

  clear(): void {
    this.mounts.clear();
  }

  all(): MountedBackend[] {
    return [...this.mounts.values()];
  }

  /** A new mount may neither sit inside nor contain an existing one. */
  conflicts(route: string): string | undefined {
    for (const existing of this.mounts.keys()) {
      if (existing.startsWith(route) || route.startsWith(existing)) return existing;
    }
    return undefined;
  }

  match(path: string): RouteMatch | undefined {
    let end = path.length;
    // The whole path may itself be a mount point ("secret/" or "secret" for LIST at the root).
    const whole = path.endsWith("/") ? path : path + "/";
    const direct = this.mounts.get(whole);
    if (direct) return routeMatch(direct, "", whole);
    for (;;) {
      const slash = path.lastIndexOf("/", end - 1);
      if (slash <= 0) return undefined;
      const prefix = path.slice(0, slash + 1);
      const m = this.mounts.get(prefix);
      if (m) return routeMatch(m, path.slice(slash + 1), prefix);
      end = slash;
    }
  }
}

/** Built field by field: an object spread of the mount here cost several times the whole lookup. */
function routeMatch(m: MountedBackend, relPath: string, mountPoint: string): RouteMatch {
  return { entry: m.entry, backend: m.backend, storage: m.storage, relPath, mountPoint };
}
