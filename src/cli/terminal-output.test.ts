/**
 * What the server sends is data, not terminal commands: on a terminal, C0/C1 control characters in secret
 * names and values (ESC sequences that retitle the window, rewrite lines, or hide text) are shown escaped.
 * Piped output stays byte for byte, as scripts expect.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliIo } from "./io.js";
import { run } from "./main.js";
import { escapeTerminalControls } from "./format.js";

const HOSTILE = { "name\u001b]0;owned\u0007": "value\u001b[2J\r\u009b31m\u0000", plain: "line1\nline2\ttab" };

const server = http.createServer((_req, res) => {
  res.setHeader("Content-Type", "application/json");
  res.end(JSON.stringify({ data: HOSTILE, lease_duration: 0 }));
});
let address = "";
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

async function arca(args: string[], stdoutIsTty: boolean): Promise<string> {
  let out = "";
  const io: CliIo = {
    env: { ARCA_ADDR: address, ARCA_TOKEN: "t" },
    homeDir: "/nonexistent",
    stdout: (t) => (out += t),
    stderr: () => undefined,
    stdoutIsTty,
    stdinIsTty: false,
    readStdin: async () => "",
    readSecretLine: async () => "",
  };
  expect(await run(args, io)).toBe(0);
  return out;
}

describe("terminal output", () => {
  it("escapes control characters in table output on a terminal", async () => {
    const out = await arca(["read", "secret/x"], true);
    expect([...out].filter((c) => c !== "\n" && c !== "\t" && (c < " " || (c >= "\u007f" && c <= "\u009f")))).toEqual([]);
    expect(out).toContain("name\\x1b]0;owned\\x07");
    expect(out).toContain("value\\x1b[2J\\r\\u009b31m\\x00");
    expect(out).toContain("line1\nline2\ttab");
  });

  it("leaves piped output untouched", async () => {
    const out = await arca(["read", "secret/x"], false);
    expect(out).toContain("name\u001b]0;owned\u0007");
  });

  it("escapes each control character visibly and keeps newlines and tabs", () => {
    expect(escapeTerminalControls("a\u001bb\u007fc\u0085d\n\t")).toBe("a\\x1bb\\x7fc\\u0085d\n\t");
  });
});
