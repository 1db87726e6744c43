/**
 * python-barbicanclient (Debian's python3-barbicanclient, the library OpenStack services use through
 * Castellan) against a dev server's Barbican API: in noauth mode with X-Project-Id, and with an Arca token
 * as X-Auth-Token through keystoneauth (the SCS Key-Manager flow: a project member stores, lists and
 * deletes a secret). Skipped when the client is not installed; required on CI.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BARBICANCLIENT_SKIP_REASON, PYTHON, hasBarbicanClient } from "../../../test/barbican.js";
import { api, devServer } from "../../../test/servers.js";
import type { RunningServer } from "../../server/server.js";

const run = promisify(execFile);
const SCRIPT = join(import.meta.dirname, "../../../test/barbican/barbicanclient-flow.py");
const available = hasBarbicanClient();
if (!available) console.warn(BARBICANCLIENT_SKIP_REASON);

let s: RunningServer;
let root: string;

/** Runs a flow of the script (asynchronously: the server answers from this same process). */
async function flow(args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run(PYTHON, [SCRIPT, `${s.url}/barbican`, ...args], { timeout: 60_000 });
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe.skipIf(!available)("python-barbicanclient against Arca", () => {
  beforeAll(async () => {
    s = await devServer();
    root = s.rootToken ?? "";
  });
  afterAll(async () => {
    await s.stop();
  });

  it("stores, reads, lists and deletes secrets; binary payloads; orders; containers with consumers; ACLs (noauth, X-Project-Id)", async () => {
    const out = await flow(["--project", "client-full", "full"]);
    expect(out).toMatchObject({
      text_payload: "hello from barbicanclient",
      text_name: "text-secret",
      binary_equal: true,
      binary_meta: ["aes", 256, "symmetric"],
      order_status: "ACTIVE",
      order_key_len: 32,
      asymmetric_container: ["private_key", "public_key"],
      private_pem: "-----BEGIN PRIVATE KEY-----",
      container_secrets: ["a", "b"],
      container_consumers: ["service-x"],
      container_consumers_after: 0,
      acl_users: ["user-a", "user-b"],
      acl_project_access: false,
      acl_after_remove: true,
      deleted_gone: true,
    });
    expect(out.listed_names).toEqual(["binary", "text-secret"]);
    expect(out.list_by_name).toHaveLength(1);
  }, 120_000);

  it("runs the SCS flow with an Arca token through keystoneauth: a project member stores, lists and deletes a secret; another project is refused", async () => {
    await api(s.url, "POST", "sys/namespaces/scs-project", { token: root });
    await api(s.url, "POST", "sys/namespaces/scs-other", { token: root });
    // The first Barbican request into a namespace writes the role policies there.
    for (const ns of ["scs-project", "scs-other"]) await fetch(`${s.url}/barbican/v1/secrets`, { headers: { "X-Auth-Token": root, "X-Project-Id": ns } });
    const tokenIn = async (ns: string): Promise<string> =>
      ((await api(s.url, "POST", "auth/token/create", { token: root, headers: { "X-Vault-Namespace": ns }, body: { policies: ["barbican-creator"] } })).body?.auth as { client_token: string }).client_token;
    const member = await tokenIn("scs-project");
    const out = await flow(["--token", member, "scs"]);
    expect(out).toMatchObject({ listed: true, payload: "scs payload", deleted: true });

    const stored = await run(PYTHON, ["-c", storeOne, `${s.url}/barbican`, member], { timeout: 60_000 });
    const ref = stored.stdout.trim();
    const outsider = await tokenIn("scs-other");
    expect(await flow(["--token", outsider, "read", ref])).toEqual({ status: 403 });
    expect(await flow(["--project", "scs-noauth-other", "read", ref])).toEqual({ status: 403 });
    expect(await flow(["--token", member, "read", ref])).toEqual({ payload: "kept" });
  }, 120_000);
});

const OPENSTACK = "/usr/bin/openstack";
const hasOpenstackCli = existsSync(OPENSTACK);
if (!hasOpenstackCli && process.env.CI === "true") throw new Error("the openstack CLI is required on CI (apt-get install python3-openstackclient)");

describe.skipIf(!available || !hasOpenstackCli)("the openstack CLI against Arca", () => {
  beforeAll(async () => {
    s = await devServer();
    root = s.rootToken ?? "";
  });
  afterAll(async () => {
    await s.stop();
  });

  it("stores, reads, lists and deletes a secret with `openstack secret …` and an Arca token", async () => {
    await api(s.url, "POST", "sys/namespaces/cli-project", { token: root });
    await fetch(`${s.url}/barbican/v1/secrets`, { headers: { "X-Auth-Token": root, "X-Project-Id": "cli-project" } });
    const member = ((await api(s.url, "POST", "auth/token/create", { token: root, headers: { "X-Vault-Namespace": "cli-project" }, body: { policies: ["barbican-creator"] } })).body?.auth as { client_token: string }).client_token;
    const os = async (...args: string[]): Promise<string> =>
      (await run(OPENSTACK, ["--os-auth-type", "admin_token", "--os-token", member, "--os-endpoint", `${s.url}/barbican/v1`, ...args], { timeout: 60_000 })).stdout.trim();
    const ref = await os("secret", "store", "--name", "cli-secret", "--payload", "cli-payload", "-f", "value", "-c", "Secret href");
    expect(ref).toMatch(new RegExp(`^${s.url}/barbican/v1/secrets/`));
    expect(await os("secret", "get", "--payload", "-f", "value", ref)).toBe("cli-payload");
    expect((await os("secret", "list", "-f", "value", "-c", "Name")).split("\n")).toContain("cli-secret");
    await os("secret", "delete", ref);
    expect(JSON.parse(await os("secret", "list", "-f", "json"))).toEqual([]);
  }, 120_000);
});

/** Stores one secret with a token and prints its ref. */
const storeOne = `
import sys
from barbicanclient import client
from keystoneauth1 import session, token_endpoint
bc = client.Client(session=session.Session(auth=token_endpoint.Token(sys.argv[1], sys.argv[2])), endpoint=sys.argv[1])
print(bc.secrets.create(name="kept", payload="kept").store())
`;
