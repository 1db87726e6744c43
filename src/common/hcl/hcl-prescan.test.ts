import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkHclNesting, HclLimitError } from "./hcl-prescan.js";
import { HclSyntaxError, parseHcl } from "./hcl.js";
import { DEFAULT_POLICY_TEXT } from "../../core/policy/builtin.js";

const depthOk = (text: string, max = 64): boolean => {
  try {
    checkHclNesting(text, max);
    return true;
  } catch (err) {
    if (err instanceof HclLimitError) return false;
    throw err;
  }
};

describe("checkHclNesting", () => {
  it("refuses the deep nesting that kills the parser, naming the line", () => {
    expect(() => checkHclNesting(`path "a" {\n  capabilities = ${"(".repeat(3000)}\n}\n`, 64)).toThrow(/nesting deeper than 64 levels \(line 2\)/);
    for (const open of ["(", "[", "{", '"${', "!", "- ", "a ? b : "]) {
      expect(depthOk(`x = ${open.repeat(65)}`), open).toBe(false);
      expect(depthOk(`x = ${open.repeat(10)}`), open).toBe(true);
    }
    expect(depthOk(`x = "${"%{ if a }".repeat(65)}"`)).toBe(false);
  });

  it("accepts real policies, and brackets inside strings, comments and heredocs", () => {
    expect(depthOk(DEFAULT_POLICY_TEXT)).toBe(true);
    const text = [
      `# ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((`,
      `// [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[`,
      `/* {{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{`,
      `   ))))) */`,
      `path "secret/${"(".repeat(100)}\\"{{identity.entity.id}}/*" {`,
      `  capabilities = ["read", "list"]`,
      `  allowed_parameters = { "x" = ["-1", -1, "$\${literal"] }`,
      `  comment = <<-EOT`,
      `    ${"[".repeat(100)}`,
      `    EOT`,
      `}`,
    ].join("\n");
    expect(depthOk(text, 8)).toBe(true);
  });

  it("counts what a template interpolation opens, even inside a heredoc or string", () => {
    expect(depthOk(`x = <<EOT\n\${${"(".repeat(70)}\nEOT\n`)).toBe(false);
    // A heredoc only ends at a line holding just its marker; `EOTX` does not end it.
    expect(depthOk(`x = <<EOT\nEOTX\n\${${"(".repeat(70)}\nEOT\n`)).toBe(false);
    // `}` ends an interpolation at its own brace level, so text after it is template text again.
    expect(depthOk(`x = "\${ {} } ${"(".repeat(70)}"`)).toBe(true);
    // An unterminated block comment is not a comment to HCL: what follows is code.
    expect(depthOk(`/* x = ${"(".repeat(70)}`)).toBe(false);
  });

  it("is linear: a megabyte of hostile text is scanned at once", () => {
    // Not a speed test: each of these would take minutes if any step were quadratic.
    for (const piece of ['"', "<<EOT\n", "/*", "${", "\\", " ", "$$${", "<<", "<<A", "\n"]) {
      const text = `x = ${piece.repeat(Math.floor(1_000_000 / piece.length))}`;
      depthOk(text);
    }
  });

  // Fuzz: whatever the scanner lets through, the parser survives (a diagnostic is fine; the parser
  // dying or hanging — HclParserFailure, surfaced as "failed on this input" — is not).
  it("lets nothing through that kills the parser", async () => {
    const atoms = ["(", ")", "[", "]", "{", "}", '"', "${", "%{", "$${", "\\", "#", "//", "/*", "*/", "<<EOT\n", "\nEOT\n", "\n", "!", "-", "?", ":", "a", "1", " ", "=", ","];
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(...atoms), { maxLength: 400 }), fc.nat({ max: 2000 }), async (parts, repeat) => {
        const text = `x = ${parts.join("")}${"(".repeat(repeat % 3 === 0 ? repeat : 0)}`;
        try {
          await parseHcl(text, "fuzz.hcl");
        } catch (err) {
          expect(err).toBeInstanceOf(HclSyntaxError);
          expect((err as Error).message).not.toMatch(/failed on this input|longer than/);
        }
      }),
      { numRuns: 150 },
    );
  });
});
