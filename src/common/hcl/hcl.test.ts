import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  checkHclKeys,
  hasInterpolation,
  hclBlocks,
  hclBool,
  hclMap,
  HclShapeError,
  hclStringList,
  HclSyntaxError,
  parseHcl,
  warmUpHcl,
} from "./hcl.js";

async function syntaxError(text: string, filename?: string): Promise<HclSyntaxError> {
  try {
    await parseHcl(text, filename);
  } catch (err) {
    expect(err).toBeInstanceOf(HclSyntaxError);
    return err as HclSyntaxError;
  }
  throw new Error("expected HclSyntaxError");
}

describe("parseHcl", () => {
  it("warms up and parses attributes and blocks", async () => {
    await warmUpHcl();
    const doc = await parseHcl(`ui = true\nn = 5\nlistener "tcp" {\n  address = "a:1"\n}\nlistener "tcp" {\n  address = "b:2"\n}\nx {\n  y = [1, "two"]\n}\n`);
    expect(doc.ui).toBe(true);
    expect(doc.n).toBe(5);
    expect(hclBlocks(doc, "listener", 1)).toEqual([
      { labels: ["tcp"], body: { address: "a:1" } },
      { labels: ["tcp"], body: { address: "b:2" } },
    ]);
    expect(hclBlocks(doc, "x", 0)).toEqual([{ labels: [], body: { y: [1, "two"] } }]);
    expect(hclBlocks(doc, "missing", 1)).toEqual([]);
  });

  it("accepts JSON, in object and list block forms", async () => {
    const a = await parseHcl(`  {"listener": {"tcp": {"address": "a:1"}}}`);
    const b = await parseHcl(`{"listener": [{"tcp": {"address": "a:1"}}, {"tcp": [{"address": "b:2"}]}]}`);
    expect(hclBlocks(a, "listener", 1)).toEqual([{ labels: ["tcp"], body: { address: "a:1" } }]);
    expect(hclBlocks(b, "listener", 1).map((x) => x.body.address)).toEqual(["a:1", "b:2"]);
  });

  it("keeps interpolations as text and un-escapes $${", async () => {
    const doc = await parseHcl(`a = "x\${y}"\nb = "$\${lit}"\nc = z\nd = "%%{w}"\n`);
    expect(doc).toEqual({ a: "x${y}", b: "${lit}", c: "${z}", d: "%{w}" });
    expect(hasInterpolation(doc.a as string)).toBe(true);
    expect(hasInterpolation("$${x}")).toBe(false);
  });

  it("does not let __proto__ keys touch prototypes", async () => {
    const doc = await parseHcl(`{"__proto__": {"polluted": true}}`);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(doc)).toBe(Object.prototype);
    expect(Object.keys(doc)).toEqual(["__proto__"]);
  });

  it("reports HCL syntax errors with line and column, without source text", async () => {
    const err = await syntaxError(`a = 1\npin = "s3cr3t-pin" oops\n`, "server.hcl");
    expect(err.line).toBe(2);
    expect(err.column).toBeGreaterThan(0);
    expect(err.filename).toBe("server.hcl");
    expect(err.message).toMatch(/^server\.hcl:2:\d+: /);
    expect(err.message).not.toContain("s3cr3t");
  });

  it("reports JSON syntax errors with a line, without source text", async () => {
    const err = await syntaxError(`{\n  "pin": "s3cr3t-pin",\n  "x": tru\n}`, "c.json");
    expect(err.column).toBe(8);
    expect((await syntaxError(`{"a": [1, 2,]}`)).column).toBe(13);
    expect((await syntaxError(`{"a": 1,\n\n "b" 2}`)).line).toBe(3);
    expect(err.line).toBe(3);
    expect(err.message).not.toContain("s3cr3t");
    await expect(parseHcl(`[1]`)).rejects.toBeInstanceOf(HclSyntaxError);
  });

  it("rejects absurd nesting as a syntax error", async () => {
    await expect(parseHcl("{\"a\":" + "[".repeat(200) + "]".repeat(200) + "}")).rejects.toBeInstanceOf(HclSyntaxError);
  });

  it("throws only HclSyntaxError on arbitrary text", async () => {
    const tokens = fc.array(fc.constantFrom("{", "}", "[", "]", "=", ":", ",", '"', "a", "1", "\n", "${", "$${", "<<EOF", "#", "/*", "true", "null", '"k"'), { maxLength: 25 }).map((x) => x.join(""));
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.json(), tokens, tokens.map((t) => `{${t}`)), async (text) => {
        try {
          await parseHcl(text);
        } catch (err) {
          if (!(err instanceof HclSyntaxError)) throw err;
          if (err.line !== undefined) expect(err.line).toBeGreaterThanOrEqual(1);
        }
      }),
      { numRuns: 400 },
    );
  });

  it("parses an empty document", async () => {
    expect(await parseHcl("")).toEqual({});
  });
});

describe("helpers", () => {
  it("check keys, booleans, lists and maps", () => {
    expect(() => checkHclKeys({ a: 1, b: 2 }, ["a"], "blk")).toThrow(HclShapeError);
    expect(hclBool({ t: "true", f: 0, y: true }, "t", "t")).toBe(true);
    expect(hclBool({ f: 0 }, "f", "f")).toBe(false);
    expect(() => hclBool({ x: "maybe" }, "x", "x")).toThrow(/x: expected a boolean/);
    expect(hclStringList({ l: "one" }, "l", "l")).toEqual(["one"]);
    expect(() => hclStringList({ l: [{}] }, "l", "l")).toThrow(HclShapeError);
    expect(hclMap({ m: [{ a: 1 }, { b: 2 }] }, "m", "m")).toEqual({ a: 1, b: 2 });
  });
});
