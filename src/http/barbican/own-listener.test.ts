/**
 * The Barbican API on its own listener (`listener "tcp" { serve = "barbican" }`): served at the root, so a
 * client configured with a plain Barbican endpoint (http://host:9311) works; OpenBao's API is not there.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BARBICANCLIENT_SKIP_REASON, PYTHON, hasBarbicanClient } from "../../../test/barbican.js";
import { quietLogger } from "../../../test/servers.js";
import { startDevServer, type RunningServer } from "../../server/server.js";

const run = promisify(execFile);
const SCRIPT = join(import.meta.dirname, "../../../test/barbican/barbicanclient-flow.py");
let s: RunningServer;
let endpoint: string;

beforeAll(async () => {
  s = await startDevServer({ listenAddress: "127.0.0.1:0", barbicanListenAddress: "127.0.0.1:0", logger: quietLogger });
  endpoint = s.listeners[1].url;
});
afterAll(async () => {
  await s.stop();
});

describe("Barbican on its own listener", () => {
  it("serves version discovery and secrets at the root, with refs to that endpoint", async () => {
    const versions = await fetch(`${endpoint}/`, { headers: { Accept: "application/json" } });
    expect(versions.status).toBe(300);
    expect(((await versions.json()) as { versions: { values: Array<{ links: Array<{ href: string }> }> } }).versions.values[0].links[0].href).toBe(`${endpoint}/v1/`);
    const created = await fetch(`${endpoint}/v1/secrets`, { method: "POST", headers: { "X-Project-Id": "own-l", "Content-Type": "application/json" }, body: JSON.stringify({ payload: "root", payload_content_type: "text/plain" }) });
    expect(created.status).toBe(201);
    const ref = ((await created.json()) as { secret_ref: string }).secret_ref;
    expect(ref).toMatch(new RegExp(`^${endpoint}/v1/secrets/[0-9a-f-]{36}$`));
    expect(await (await fetch(`${ref}/payload`, { headers: { "X-Project-Id": "own-l", Accept: "text/plain" } })).text()).toBe("root");
    // The same project through the prefixed door of the main listener.
    const listed = await fetch(`${s.url}/barbican/v1/secrets`, { headers: { "X-Project-Id": "own-l" } });
    expect(((await listed.json()) as { total: number }).total).toBe(1);
  });

  it("does not serve OpenBao's API", async () => {
    const health = await fetch(`${endpoint}/v1/sys/health`);
    expect(health.status).toBe(404);
    expect(health.headers.get("openstack-api-version")).toBe("key-manager 1.0");
    expect((await fetch(`${s.url}/v1/sys/health`)).status).toBe(200);
  });
});

const available = hasBarbicanClient();
if (!available) console.warn(BARBICANCLIENT_SKIP_REASON);

describe.skipIf(!available)("python-barbicanclient with a plain Barbican endpoint", () => {
  it("runs the full flow against the listener's root", async () => {
    const { stdout } = await run(PYTHON, [SCRIPT, endpoint, "--project", "own-client", "full"], { timeout: 60_000 });
    expect(JSON.parse(stdout)).toMatchObject({ text_payload: "hello from barbicanclient", binary_equal: true, order_status: "ACTIVE", container_secrets: ["a", "b"], deleted_gone: true });
  }, 120_000);
});
