// The file device on its own: a log left with a half-written last line (a crash, a full disk) is repaired
// when the device opens, and the chain continues from the last whole line.
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { verifyChain } from "./chain.js";
import { FileAuditDevice } from "./devices.js";

const dir = mkdtempSync(join(tmpdir(), "arca-devices-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

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
});
