/** The file audit device's file mode: the log is created or tightened to the device's `mode` (0600 unless set). */
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FileAuditDevice } from "./devices.js";

const dir = mkdtempSync(join(tmpdir(), "arca-audit-mode-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const modeOf = (p: string): number => statSync(p).mode & 0o777;

describe("file audit device mode", () => {
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
