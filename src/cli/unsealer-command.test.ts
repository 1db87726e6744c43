// Flag handling of `arca unsealer`; the working paths run against SoftHSM and real servers in
// src/unsealer/unsealer-servers.test.ts.
import { describe, expect, it } from "vitest";
import { UsageError } from "./context.js";
import type { CliIo } from "./io.js";
import { unsealerCommand } from "./unsealer-command.js";

function io(out: string[] = []): CliIo {
  return {
    env: {},
    homeDir: "/nonexistent",
    stdout: (t) => void out.push(t),
    stderr: (t) => void out.push(t),
    stdoutIsTty: false,
    stdinIsTty: false,
    readStdin: async () => "",
    readSecretLine: async () => "",
  };
}

describe("arca unsealer", () => {
  it("prints its usage", async () => {
    const out: string[] = [];
    expect(await unsealerCommand(["-h"], io(out))).toBe(0);
    expect(out.join("")).toContain("seal-share");
  });

  it("never takes a share as an argument", async () => {
    await expect(unsealerCommand(["seal-share", "-config", "/x", "0123abcd"], io())).rejects.toThrow(/stdin only/);
    await expect(unsealerCommand(["seal-share", "-config", "/x", "-share", "0123abcd"], io())).rejects.toThrow(UsageError);
  });

  it("needs -config and knows its flags", async () => {
    await expect(unsealerCommand([], io())).rejects.toThrow(/-config/);
    await expect(unsealerCommand(["-config", "/x", "-key", "abc"], io())).rejects.toThrow(/unknown flag -key/);
    await expect(unsealerCommand(["start", "-config", "/x"], io())).rejects.toThrow(UsageError);
  });

  it("reports an unreadable config", async () => {
    await expect(unsealerCommand(["-config", "/nonexistent/unsealer.hcl"], io())).rejects.toThrow(/cannot read config file/);
  });
});
