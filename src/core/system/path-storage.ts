/**
 * sys/ha-status: the HA nodes. sys/storage/snapshot (GET, sudo): the storage snapshot, streamed from one read transaction. Restoring
 * (POST) is answered by the wire format before the pipeline, because the server it restores into is
 * uninitialised and has no token to check (http/vault/sys-raw.ts).
 */
import { definePath, type PathSpec } from "../framework/path.js";
import type { Core } from "../core.js";
import { snapshotStream } from "../storage-snapshot.js";

export const SNAPSHOT_PATH = "storage/snapshot";

export function storagePaths(core: Core): PathSpec[] {
  return [
    definePath({
      pattern: "ha-status",
      synopsis: "The servers sharing this storage and which one holds background work (HA).",
      operations: {
        read: async () => ({
          data: {
            nodes: (core.ha?.nodes ?? []).map((n) => ({
              hostname: n.node,
              api_address: n.apiAddr,
              cluster_address: "",
              active_node: n.active,
              last_echo: n.lastEcho.toISOString(),
            })),
          },
        }),
      },
    }),
    definePath({
      pattern: SNAPSHOT_PATH,
      sudo: true,
      synopsis: "A consistent snapshot of the encrypted storage and the seal metadata (never plaintext).",
      operations: {
        read: async () => ({
          raw: {
            status: 200,
            contentType: "application/octet-stream",
            body: "",
            stream: snapshotStream(core),
          },
        }),
      },
    }),
  ];
}
