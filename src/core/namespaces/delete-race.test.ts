// Deleting a namespace while requests run in it (issue 12, namespace delete races): the delete fences the
// namespace, waits for the requests already inside, then clears its prefix, so nothing is left behind;
// and a child created at the same moment either stops the delete or is refused, never both succeed.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allStorageKeys, api, devServer } from "../../../test/servers.js";
import type { RunningServer } from "../../server/server.js";

let server: RunningServer;
let root: string;

const call = (method: string, path: string, ns?: string, body?: unknown) =>
  api(server.url, method, path, { token: root, body, headers: ns !== undefined ? { "X-Vault-Namespace": ns } : {} });

beforeAll(async () => {
  server = await devServer();
  root = server.rootToken ?? "";
});
afterAll(async () => {
  await server.stop();
});

describe("namespace delete under load", () => {
  it("leaves nothing of the namespace in storage while writers keep writing into it (4 rounds)", async () => {
    for (let round = 0; round < 4; round++) {
      const name = `busy${randomUUID().slice(0, 6)}`;
      const created = await call("POST", `sys/namespaces/${name}`, undefined, {});
      expect(created.status).toBe(200);
      const uuid = String((created.body?.data as { uuid: string }).uuid);
      expect((await call("POST", "sys/mounts/kv", name, { type: "kv" })).status).toBe(204);
      expect((await call("POST", "sys/mounts/transit", name, { type: "transit" })).status).toBe(204);
      let stop = false;
      const writer = async (w: number): Promise<void> => {
        for (let i = 0; !stop; i++) {
          await call("PUT", `kv/w${w}-${i}`, name, { v: "x".repeat(64) });
          // RSA generation runs between admission and the write: the write lands after a bare prefix clear.
          await call("POST", `transit/keys/k${w}-${i}`, name, { type: "rsa-2048" });
        }
      };
      const writers = Array.from({ length: 6 }, (_, w) => writer(w));
      await new Promise((r) => setTimeout(r, 30));
      const deleted = await call("DELETE", `sys/namespaces/${name}`);
      expect(deleted.status, JSON.stringify(deleted.body)).toBe(204);
      stop = true;
      await Promise.all(writers);
      const left = (await allStorageKeys(server.core.storage)).filter((k) => k.includes(uuid));
      expect(left, `round ${round}`).toEqual([]);
      expect((await call("GET", "sys/mounts", name)).status).not.toBe(200);
    }
  });

  it("a child created while its parent is deleted: either the delete is refused or the child is, never both succeed", async () => {
    for (let round = 0; round < 12; round++) {
      const parent = `par${randomUUID().slice(0, 6)}`;
      expect((await call("POST", `sys/namespaces/${parent}`, undefined, {})).status).toBe(200);
      // One create from inside the parent, one from the root: both race the delete.
      const [inside, fromRoot, del] = await Promise.all([
        call("POST", "sys/namespaces/a", parent, {}),
        call("POST", `sys/namespaces/${parent}/b`, undefined, {}),
        // Staggered, so that some rounds land the delete in the middle of a create.
        new Promise((r) => setTimeout(r, round % 6)).then(() => call("DELETE", `sys/namespaces/${parent}`)),
      ]);
      const childMade = inside.status === 200 || fromRoot.status === 200;
      if (del.status === 204) {
        expect(childMade, JSON.stringify([inside.body, fromRoot.body])).toBe(false);
        expect(server.core.namespaces.find(server.core.root, parent)).toBeUndefined();
        expect((await allStorageKeys(server.core.storage)).filter((k) => k.includes("core/namespaces/")).length).toBe(
          server.core.root.descendants().length,
        );
      } else {
        expect(del.status).toBe(400);
        expect(childMade).toBe(true);
        // The parent is usable again after the refused delete.
        expect((await call("GET", "sys/mounts", parent)).status).toBe(200);
      }
    }
  });
});
