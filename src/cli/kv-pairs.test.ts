import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { UsageError } from "./context.js";
import { parsePairs, parseStringPairs } from "./kv-pairs.js";

const noStdin = { readStdin: () => Promise.reject(new Error("stdin not expected")) };

describe("parsePairs", () => {
  it("parses k=v, keeps '=' inside values and collects repeated keys", async () => {
    expect(await parsePairs(["a=1", "b=x=y", "c=", "p=one", "p=two", "p=three"], noStdin)).toEqual({
      a: "1",
      b: "x=y",
      c: "",
      p: ["one", "two", "three"],
    });
  });

  it("reads k=@file, honours \\@ escapes and reads k=- from stdin once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "arca-cli-"));
    writeFileSync(join(dir, "v.txt"), "from-file\n");
    const data = await parsePairs([`f=@${join(dir, "v.txt")}`, "lit=\\@home", "s=-"], { readStdin: async () => "piped" });
    expect(data).toEqual({ f: "from-file\n", lit: "@home", s: "piped" });
    await expect(parsePairs(["a=-", "b=-"], { readStdin: async () => "x" })).rejects.toBeInstanceOf(UsageError);
  });

  it("reads a JSON object from '-' and from @file.json", async () => {
    expect(await parsePairs(["-"], { readStdin: async () => '{"a":"b","n":2}' })).toEqual({ a: "b", n: 2 });
    expect(await parsePairs(["@x.json", "k=v"], { ...noStdin, readFile: () => '{"a":1}' })).toEqual({ a: 1, k: "v" });
    await expect(parsePairs(["-"], { readStdin: async () => "[1]" })).rejects.toThrow(/must be an object/);
    await expect(parsePairs(["-"], { readStdin: async () => "{" })).rejects.toThrow(/invalid JSON/);
  });

  it("rejects a bare word without echoing it (it may be a secret)", async () => {
    const err = await parsePairs(["hunter2"], noStdin).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).not.toContain("hunter2");
    await expect(parsePairs(["=v"], noStdin)).rejects.toBeInstanceOf(UsageError);
  });

  it("parseStringPairs keeps strings and rejects pairs without a key", () => {
    expect(parseStringPairs(["team=a", "x=1=2"], "-metadata")).toEqual({ team: "a", x: "1=2" });
    expect(() => parseStringPairs(["nokey"], "-metadata")).toThrow(UsageError);
  });
});
