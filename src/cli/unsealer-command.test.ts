// Flag handling of `arca unsealer`; the working paths run against SoftHSM and real servers in
// src/unsealer/unsealer-servers.test.ts.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

  it("warns when its config holds a PIN and every user can read it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "arca-unsealer-pin-"));
    try {
      const config = join(dir, "unsealer.hcl");
      writeFileSync(
        config,
        `unsealer { servers = ["http://127.0.0.1:1"] }\nhsm "soft" {\n  lib = "/nonexistent/libsofthsm2.so"\n  token_label = "u"\n  pin = "1234"\n}\nshare {\n  key = "pkcs11:token=u;object=s"\n  file = "${join(dir, "share.sealed")}"\n}\n`,
      );
      chmodSync(config, 0o644);
      const out: string[] = [];
      await unsealerCommand(["seal-share", "-config", config], io(out)).catch(() => undefined);
      expect(out.join("")).toMatch(/holds an HSM PIN and is readable by every user/);
      expect(out.join("")).not.toContain("1234");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reports an unreadable config", async () => {
    await expect(unsealerCommand(["-config", "/nonexistent/unsealer.hcl"], io())).rejects.toThrow(/cannot read config file/);
  });
});
