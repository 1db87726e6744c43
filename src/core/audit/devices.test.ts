// The file device on its own: the log's file mode (created or tightened to the device's `mode`, 0600
// unless set), and a log left with a half-written last line (a crash, a full disk) repaired when the
// device opens, the chain continuing from the last whole line.
import { appendFileSync, chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { verifyChain } from "./chain.js";
import { FileAuditDevice } from "./devices.js";

const dir = mkdtempSync(join(tmpdir(), "arca-audit-device-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const modeOf = (p: string): number => statSync(p).mode & 0o777;

describe("file audit device", () => {
  it("drops a half-written last line when it opens, and the chain follows the last whole line", async () => {
    const path = join(dir, "torn.log");
    const first = await FileAuditDevice.open({ file_path: path });
    await first.write({ n: 1 });
    await first.write({ n: 2 });
    expect(first.head()).toMatchObject({ seq: 2, firstSeq: 1 });
    await first.close();
    appendFileSync(path, '{"n":3,"seq":3,"prev_ha');
    const second = await FileAuditDevice.open({ file_path: path });
    expect(second.head()).toMatchObject({ seq: 2, firstSeq: 1 });
    await second.write({ n: 3 });
    await second.close();
    const text = readFileSync(path, "utf8");
    expect(verifyChain(text)).toEqual({ ok: true, entries: 3 });
  });

  it("sets the mode of an existing log (0600 by default, or the device's mode)", async () => {
    const file = join(dir, "existing.log");
    writeFileSync(file, "");
    chmodSync(file, 0o666);
    await (await FileAuditDevice.open({ file_path: file })).close();
    expect(modeOf(file)).toBe(0o600);
    await (await FileAuditDevice.open({ file_path: file, mode: "0640" })).close();
    expect(modeOf(file)).toBe(0o640);
  });

  it("refuses a world-writable mode, and a world-writable log it was told not to touch (mode 0000)", async () => {
    const file = join(dir, "open.log");
    await expect(FileAuditDevice.open({ file_path: file, mode: "0666" })).rejects.toThrow(/world-writable/);
    writeFileSync(file, "");
    chmodSync(file, 0o646);
    await expect(FileAuditDevice.open({ file_path: file, mode: "0000" })).rejects.toThrow(/world-writable/);
    chmodSync(file, 0o644);
    await (await FileAuditDevice.open({ file_path: file, mode: "0000" })).close();
    expect(modeOf(file)).toBe(0o644);
  });

  it("leaves a device file such as /dev/null as it is", async () => {
    await (await FileAuditDevice.open({ file_path: "/dev/null" })).close();
    expect(modeOf("/dev/null")).toBe(0o666);
  });
});
