import { describe, expect, it } from "vitest";
import { createLogger } from "./log.js";

describe("logger", () => {
  it("writes JSON lines with level and message, and redacts secret-bearing fields", () => {
    const lines: string[] = [];
    const log = createLogger("info", (l) => lines.push(l));
    log.debug({}, "hidden");
    log.info({ path: "secret/data/x", token: "hvs.SECRET", nested: { password: "p" } }, "request");
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(entry).toMatchObject({ level: "info", msg: "request", path: "secret/data/x", token: "[redacted]", nested: { password: "[redacted]" } });
    expect(lines[0]).not.toContain("hvs.SECRET");
  });
});
