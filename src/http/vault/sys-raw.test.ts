/**
 * sys/health status overrides (`activecode`, `sealedcode`, `uninitcode`, `standbycode`): only final
 * statuses that carry a response (200–599) are accepted. A 1xx is an interim response that the client
 * then waits past (and one sent with a Content-Length and body desynchronises the connection); anything
 * outside 100–999 is not an HTTP status at all. 204 and 304 are answered without a body.
 */
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devServer } from "../../../test/servers.js";
import type { RunningServer } from "../../server/server.js";

let s: RunningServer;
beforeAll(async () => {
  s = await devServer();
});
afterAll(async () => s.stop());

/** The response head (status line and headers) and whatever followed it within a short while. */
function rawGet(target: string): Promise<{ status: number; head: string; rest: string }> {
  const { hostname, port } = new URL(s.url);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(port), hostname);
    let text = "";
    const finish = (): void => {
      sock.destroy();
      const sep = text.indexOf("\r\n\r\n");
      if (sep === -1) return reject(new Error(`no response head: ${JSON.stringify(text.slice(0, 200))}`));
      resolve({ status: Number(text.split(" ")[1]), head: text.slice(0, sep), rest: text.slice(sep + 4) });
    };
    sock.setTimeout(5_000, finish);
    sock.on("data", (d: Buffer) => (text += d.toString("latin1")));
    sock.on("end", finish);
    sock.on("error", reject);
    sock.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  });
}

describe("sys/health status overrides", () => {
  it("refuses codes that are not final statuses with a body (400)", async () => {
    for (const code of ["100", "101", "103", "199", "600", "999", "1000", "0", "99999999999999999999"]) {
      const r = await rawGet(`/v1/sys/health?activecode=${code}`);
      expect(r.status, `activecode=${code}`).toBe(400);
      expect(JSON.parse(r.rest)).toHaveProperty("errors");
    }
    for (const name of ["sealedcode", "uninitcode", "standbycode"]) {
      expect((await rawGet(`/v1/sys/health?${name}=101`)).status, name).toBe(400);
    }
  });

  it("answers a code in range, and 204/304 without a body or a Content-Length", async () => {
    expect((await rawGet("/v1/sys/health?activecode=299")).status).toBe(299);
    expect((await rawGet("/v1/sys/health?activecode=599")).status).toBe(599);
    for (const code of [204, 304]) {
      const r = await rawGet(`/v1/sys/health?activecode=${code}`);
      expect(r.status).toBe(code);
      expect(r.head.toLowerCase()).not.toContain("content-length");
      expect(r.rest).toBe("");
    }
  });
});
