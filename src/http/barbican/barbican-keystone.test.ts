// The Barbican API with Keystone tokens, as an OpenStack cloud uses it: the `openstack` CLI authenticates at a
// real Keystone (Debian's python3-keystone), finds Arca's /barbican in Keystone's service catalog, and sends
// its Keystone token as X-Auth-Token; the front door exchanges it through the `keystone` auth method for an
// Arca token of the project's namespace, with the policies its Keystone roles map to.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDevServer, type RunningServer } from "../../server/server.js";
import { KEYSTONE_ADMIN, KEYSTONE_SKIP_REASON, keystoneAvailable, startKeystone, type RunningKeystone } from "../../../test/keystone.js";
import { api, quietLogger } from "../../../test/servers.js";
import { barbican } from "../../../test/barbican.js";

const run = promisify(execFile);
const OPENSTACK = "/usr/bin/openstack";
const available = keystoneAvailable() && existsSync(OPENSTACK);
if (!available) {
  if (process.env.CI === "true") throw new Error(`${KEYSTONE_SKIP_REASON}; the openstack CLI (python3-openstackclient) is needed too`);
  console.warn(KEYSTONE_SKIP_REASON);
}

describe.skipIf(!available)("Barbican API with Keystone tokens (real Keystone, openstack CLI)", () => {
  let ks: RunningKeystone;
  let s: RunningServer;
  let root: string;
  let projectA: string;
  let projectB: string;
  const password = "member-pw-41d2";

  const keystone = async (method: string, path: string, body: unknown): Promise<Record<string, Record<string, string>>> => {
    const res = await fetch(`${ks.url}${path}`, { method, headers: { "X-Auth-Token": ks.adminToken, "Content-Type": "application/json" }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`keystone ${method} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as Record<string, Record<string, string>>;
  };
  const os = async (user: string, project: string, ...args: string[]): Promise<string> =>
    (
      await run(
        OPENSTACK,
        ["--os-auth-url", ks.url, "--os-identity-api-version", "3", "--os-username", user, "--os-password", password, "--os-project-id", project, "--os-user-domain-id", "default", "--os-region-name", "RegionOne", ...args],
        { timeout: 90_000 },
      )
    ).stdout.trim();

  beforeAll(async () => {
    ks = await startKeystone();
    s = await startDevServer({ listenAddress: "127.0.0.1:0", logger: quietLogger, barbican: { keystoneMount: "keystone" } });
    root = s.rootToken ?? "";
    // Keystone's catalog names Arca as the cloud's key manager.
    const service = (await keystone("POST", "/services", { service: { type: "key-manager", name: "barbican", enabled: true } })).service;
    await keystone("POST", "/endpoints", { endpoint: { service_id: service.id, interface: "public", region_id: "RegionOne", url: `${s.url}/barbican` } });
    projectA = await ks.createProject("cloud-project-a");
    projectB = await ks.createProject("cloud-project-b");
    const member = await ks.roleId("member");
    await ks.createUser("member-a", password, projectA, [member]);
    await ks.createUser("member-b", password, projectB, [member]);

    const sys = async (path: string, body: Record<string, unknown>) => expect((await api(s.url, "POST", path, { token: root, body })).status).toBeLessThan(300);
    await sys("sys/namespaces/project-a", {});
    await sys("sys/namespaces/project-b", {});
    await sys("sys/auth/keystone", { type: "keystone" });
    await sys("auth/keystone/config", {
      keystone_url: ks.url,
      service_username: KEYSTONE_ADMIN.user,
      service_password: KEYSTONE_ADMIN.password,
      service_project_name: KEYSTONE_ADMIN.project,
    });
    await sys(`auth/keystone/projects/${projectA}`, { namespace: "project-a" });
    await sys(`auth/keystone/projects/${projectB}`, { namespace: "project-b" });
    await sys("auth/keystone/roles/member", { policies: "barbican-creator" });
  }, 300_000);

  afterAll(async () => {
    await s?.stop();
    await ks?.stop();
  }, 30_000);

  it("a project member stores, lists, reads and deletes a secret with `openstack secret …` (SCS flow)", async () => {
    const ref = await os("member-a", projectA, "secret", "store", "--name", "scs-secret", "--payload", "scs-payload", "-f", "value", "-c", "Secret href");
    expect(ref).toMatch(new RegExp(`^${s.url}/barbican/v1/secrets/`));
    expect((await os("member-a", projectA, "secret", "list", "-f", "value", "-c", "Name")).split("\n")).toContain("scs-secret");
    expect(await os("member-a", projectA, "secret", "get", "--payload", "-f", "value", ref)).toBe("scs-payload");

    // Another project's member neither sees nor reads it.
    // (An empty list with `-c Name` is an error in the CLI: JSON instead.)
    const others = JSON.parse(await os("member-b", projectB, "secret", "list", "-f", "json")) as Array<{ Name: string }>;
    expect(others.map((x) => x.Name)).not.toContain("scs-secret");
    await expect(os("member-b", projectB, "secret", "get", "--payload", "-f", "value", ref)).rejects.toThrow(/403|Forbidden/i);

    await os("member-a", projectA, "secret", "delete", ref);
    const left = JSON.parse(await os("member-a", projectA, "secret", "list", "-f", "json")) as Array<{ Name: string }>;
    expect(left.map((x) => x.Name)).not.toContain("scs-secret");
  }, 300_000);

  it("a forged Keystone token is a 403 and stores nothing; a real one works over plain HTTP too", async () => {
    const forged = await barbican(s.url, "POST", "/v1/secrets", { token: "gAAAAABforged-keystone-token", body: { name: "forged", payload: "x", payload_content_type: "text/plain" } });
    expect(forged.status).toBe(403);
    const kt = await ks.issueToken("member-a", password, projectA);
    const stored = await barbican(s.url, "POST", "/v1/secrets", { token: kt.token, body: { name: "real", payload: "y", payload_content_type: "text/plain" } });
    expect(stored.status).toBe(201);
    const names = (await barbican(s.url, "GET", "/v1/secrets", { token: kt.token })).json?.secrets as Array<{ name: string }>;
    expect(names.map((n) => n.name)).toContain("real");
    expect(names.map((n) => n.name)).not.toContain("forged");
  }, 120_000);
});
