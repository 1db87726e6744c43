import { describe, expect, it } from "vitest";
import { parseArgs } from "./args.js";
import { HelpRequested, parseCommand, parseDurationSeconds, resolveClientConfig, UsageError } from "./context.js";
import type { CliIo } from "./io.js";

function io(env: Record<string, string> = {}): CliIo {
  return {
    env,
    homeDir: "/nonexistent-home",
    stdout: () => undefined,
    stderr: () => undefined,
    stdoutIsTty: false,
    stdinIsTty: false,
    readStdin: async () => "",
    readSecretLine: async () => "",
  };
}

describe("parseArgs", () => {
  it("keeps every value of a repeated flag and the last one as the value", () => {
    const p = parseArgs(["-policy=a", "-policy", "b", "--ttl=1h", "pos", "-orphan", "k=v"], new Set(["orphan"]));
    expect(p.multi.get("policy")).toEqual(["a", "b"]);
    expect(p.flags.get("policy")).toBe("b");
    expect(p.flags.get("ttl")).toBe("1h");
    expect(p.flags.get("orphan")).toBe("true");
    expect(p.positional).toEqual(["pos", "k=v"]);
  });

  it("treats '-' and negative numbers as positional and stops at '--'", () => {
    const p = parseArgs(["-", "-5", "--", "-x"]);
    expect(p.positional).toEqual(["-", "-5", "-x"]);
  });
});

describe("parseCommand", () => {
  it("rejects unknown flags as usage errors", () => {
    expect(() => parseCommand(["-nope=1"], io())).toThrow(UsageError);
  });

  it("accepts global flags everywhere and validates -format", () => {
    const ctx = parseCommand(["-format=json", "-address=http://x:1", "path"], io());
    expect(ctx.format).toBe("json");
    expect(ctx.args).toEqual(["path"]);
    expect(() => parseCommand(["-format=yaml"], io())).toThrow(/invalid output format/);
    expect(parseCommand([], io({ VAULT_FORMAT: "json" })).format).toBe("json");
  });

  it("keeps a boolean flag from swallowing the next argument", () => {
    const ctx = parseCommand(["-orphan", "secret/foo"], io(), { bool: ["orphan"] });
    expect(ctx.bool("orphan")).toBe(true);
    expect(ctx.args).toEqual(["secret/foo"]);
    expect(parseCommand(["-orphan=false"], io(), { bool: ["orphan"] }).bool("orphan")).toBe(false);
    expect(() => parseCommand(["-orphan=maybe"], io(), { bool: ["orphan"] }).bool("orphan")).toThrow(UsageError);
  });

  it("turns -h into a help request", () => {
    expect(() => parseCommand(["-h"], io())).toThrow(HelpRequested);
  });
});

describe("resolveClientConfig", () => {
  it("prefers ARCA_* over VAULT_* over BAO_*, and flags over the environment", () => {
    const env = { VAULT_ADDR: "http://vault:1", BAO_ADDR: "http://bao:1", BAO_TOKEN: "b", VAULT_TOKEN: "v", VAULT_NAMESPACE: "ns1", VAULT_SKIP_VERIFY: "1" };
    const cfg = resolveClientConfig(io(env), () => undefined);
    expect(cfg).toMatchObject({ address: "http://vault:1", token: "v", namespace: "ns1", skipVerify: true });
    const arca = resolveClientConfig(io({ ...env, ARCA_ADDR: "http://arca:1", ARCA_TOKEN: "a" }), (n) => (n === "namespace" ? "team" : undefined));
    expect(arca).toMatchObject({ address: "http://arca:1", token: "a", namespace: "team" });
    expect(resolveClientConfig(io(), () => undefined)).toMatchObject({ address: "http://127.0.0.1:8200", token: undefined, skipVerify: false });
  });

  it("parses client timeouts", () => {
    expect(parseDurationSeconds("90", "t")).toBe(90);
    expect(parseDurationSeconds("1h30m", "t")).toBe(5400);
    expect(() => parseDurationSeconds("soon", "t")).toThrow(UsageError);
  });
});
