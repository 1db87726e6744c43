/**
 * sys/remount {from, to} and sys/remount/status/:migration_id: move a secrets engine or an auth method to
 * another path, within its namespace or into another one below the caller's, with its data. Policies are
 * not rewritten (as in OpenBao): a policy naming the old path no longer matches the moved mount.
 *
 * Within a namespace a move changes the mount table and the router only (data is stored by mount uuid),
 * so it is done before the answer; a move to another namespace copies the mount's storage first. Either
 * way the answer carries a migration_id whose status (in-progress, success, failure) is kept in memory, as
 * OpenBao keeps it. Moves are serialised per server, so two concurrent moves of one mount, or onto one
 * path, cannot both pass their checks.
 *
 * Not moved, as a difference from OpenBao: tokens issued through a moved auth method keep their creation
 * path and stay valid (OpenBao revokes the leases under the old path).
 */
import { randomUUID } from "node:crypto";
import { ArcaError } from "../../common/errors.js";
import { definePath, type PathSpec } from "../framework/path.js";
import { normaliseMountPath, routePath, type MountEntry, type MountTable } from "../mounts.js";
import type { Core } from "../core.js";
import type { Namespace } from "../namespaces/namespace.js";
import type { KeyValueStore } from "../../storage/storage.js";

type MigrationStatus = "in-progress" | "success" | "failure";

interface MigrationInfo {
  source_mount: string;
  target_mount: string;
  status: MigrationStatus;
}

/** OpenBao's protected paths: nothing moves from or onto them. */
const PROTECTED_SECRET = ["audit/", "auth/", "sys/", "cubbyhole/", "identity/"];
const PROTECTED_AUTH = ["auth/token/"];
/** Kept migrations per server; the oldest are forgotten beyond this (OpenBao keeps them until restart). */
const MAX_MIGRATIONS = 1000;

interface RemountState {
  migrations: Map<string, MigrationInfo>;
  /** The tail of the queue of moves: each waits for the one before it. */
  queue: Promise<void>;
}

const states = new WeakMap<Core, RemountState>();

function stateOf(core: Core): RemountState {
  let s = states.get(core);
  if (!s) states.set(core, (s = { migrations: new Map(), queue: Promise.resolve() }));
  return s;
}

/** Runs `fn` after every move queued before it has finished. */
function serialised<T>(state: RemountState, fn: () => Promise<T>): Promise<T> {
  const run = state.queue.then(fn);
  state.queue = run.then(
    () => undefined,
    () => undefined,
  );
  return run;
}

interface Place {
  ns: Namespace;
  table: MountTable;
  /** The mount path inside its table ("kv/" for both "kv/" and "auth/kv/"). */
  path: string;
}

/** Splits "team-a/auth/userpass" (relative to `ns`) into the namespace, the table and the mount path. */
function place(core: Core, ns: Namespace, raw: string, which: "from" | "to"): Place {
  if (/\s/.test(raw)) throw new ArcaError("invalid_request", `'${which}' path cannot contain whitespace`);
  const resolved = core.namespaces.resolve(ns.isRoot ? undefined : ns.path, normaliseMountPath(raw));
  const route = normaliseMountPath(resolved.path);
  if (route.startsWith("auth/")) {
    const path = route.slice("auth/".length);
    if (path === "") throw new ArcaError("invalid_request", `invalid ${which === "from" ? "source" : "destination"} mount: auth/`);
    return { ns: resolved.ns, table: "auth", path };
  }
  return { ns: resolved.ns, table: "secret", path: route };
}

function displayed(p: Place): string {
  return `${p.ns.path}${routePath(p)}`;
}

/** OpenBao's refusals: auth only to auth, nothing from or onto a protected path. */
function checkAllowed(from: Place, to: Place): void {
  if (from.table === "auth") {
    if (to.table !== "auth") throw new ArcaError("invalid_request", `cannot remount auth mount to non-auth mount "${routePath(to)}"`);
    for (const p of PROTECTED_AUTH) {
      if (routePath(from).startsWith(p)) throw new ArcaError("invalid_request", `cannot remount "${routePath(from)}"`);
      if (routePath(to).startsWith(p)) throw new ArcaError("invalid_request", `cannot remount to destination "${routePath(to)}"`);
    }
    return;
  }
  for (const p of PROTECTED_SECRET) {
    if (from.path.startsWith(p)) throw new ArcaError("invalid_request", `cannot remount "${from.path}"`);
    if (to.path.startsWith(p)) throw new ArcaError("invalid_request", `cannot remount to destination "${to.path}"`);
  }
}

/** Every key below a storage view, read a level at a time. */
async function allKeys(store: KeyValueStore, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for (const name of await store.list(prefix)) {
    if (name.endsWith("/")) out.push(...(await allKeys(store, prefix + name)));
    else out.push(prefix + name);
  }
  return out;
}

/** Moves a mount into another namespace: its storage is copied, then it is mounted there and removed here. */
async function moveAcross(core: Core, entry: MountEntry, from: Place, to: Place): Promise<void> {
  // HSM keys a mount created are recorded as owned by its namespace and mount: in another namespace the
  // moved engine could no longer use them, so such engines move only within their namespace.
  if (core.custody && (entry.type === "transit" || entry.type === "pki")) {
    throw new ArcaError("invalid_request", `cannot move a ${entry.type} mount to another namespace: its HSM keys are bound to its namespace`);
  }
  to.ns.checkFree(routePath(to));
  const source = from.ns.mountStorage(entry);
  const moved: MountEntry = { ...entry, path: to.path };
  const target = to.ns.mountStorage(moved);
  for (const key of await allKeys(source)) {
    const value = await source.get(key);
    if (value !== undefined) await target.put(key, value);
  }
  try {
    await to.ns.mount(moved);
  } catch (err) {
    await target.clear();
    throw err;
  }
  await from.ns.unmount(from.table, from.path);
}

export function remountPaths(ns: Namespace, core: Core): PathSpec[] {
  const state = stateOf(core);
  return [
    definePath({
      pattern: "remount",
      fields: {
        from: { type: "string", description: "The previous mount point." },
        to: { type: "string", description: "The new mount point." },
      },
      synopsis: "Move the mount point of an already-mounted backend, within or across namespaces.",
      operations: {
        update: async ({ fields }) => {
          if (!fields.from || !fields.to) throw new ArcaError("invalid_request", "both 'from' and 'to' path must be specified as a string");
          const from = place(core, ns, fields.from, "from");
          const to = place(core, ns, fields.to, "to");
          checkAllowed(from, to);
          const id = randomUUID();
          const info: MigrationInfo = { source_mount: displayed(from), target_mount: displayed(to), status: "in-progress" };
          await serialised(state, async () => {
            const entry = from.ns.mounts(from.table).find((m) => m.path === from.path);
            if (!entry) throw new ArcaError("invalid_request", `no matching mount at "${routePath(from)}"`);
            if (entry.builtin) throw new ArcaError("invalid_request", `cannot remount "${routePath(from)}"`);
            state.migrations.set(id, info);
            if (state.migrations.size > MAX_MIGRATIONS) state.migrations.delete(state.migrations.keys().next().value as string);
            try {
              if (from.ns === to.ns) await from.ns.moveMount(entry, to.path);
              else await moveAcross(core, entry, from, to);
              info.status = "success";
            } catch (err) {
              info.status = "failure";
              throw err;
            }
          });
          return {
            data: { migration_id: id },
            warnings: ["Mount move has been queued. Progress will be reported in the server log, tagged with the returned migration_id"],
          };
        },
      },
    }),
    definePath({
      pattern: "remount/status/:migration_id",
      fields: { migration_id: { type: "string", required: true, description: "The ID of the migration operation." } },
      synopsis: "The status of a mount move.",
      operations: {
        read: async ({ fields }) => {
          const info = state.migrations.get(fields.migration_id);
          if (!info) return undefined;
          return { data: { migration_id: fields.migration_id, migration_info: { ...info } } };
        },
      },
    }),
  ];
}
