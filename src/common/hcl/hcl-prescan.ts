// A linear pre-scan of HCL text, run before the text reaches the WASM parser.
//
// HashiCorp's HCL2 parser is recursive descent: every `(`, `[`, `{`, template interpolation, template
// directive, unary operator and `?:` conditional costs stack frames, and a few thousand of them (a 3 KB
// policy of `(((…`) overflow the stack inside the WASM and leave the Go runtime dead ("malloc deadlock").
// So nesting is measured here first, in one pass with an explicit stack, and deep text is refused.
//
// The scanner follows hclsyntax's scanner (scan_tokens.rl) for the things that decide whether a
// character is code or text — quoted templates with their `\` escapes and `$${`/`%%{` escapes,
// heredocs (`<<EOT` / `<<-EOT`, ended by a line holding only the marker), `#`, `//` and `/* */`
// comments (an unterminated `/*` is not a comment) and the brace counting that ends an interpolation —
// so a bracket it skips as text is text to the parser too. Where it cannot be exact it over-counts,
// which only ever refuses: unary `!`/`-` and `?` conditionals (chains of which recurse in the parser)
// and template directives (`%{ if }` nests until `%{ endif }`) are counted and never uncounted, and a
// closer that does not match the innermost open bracket closes nothing.
//
// Cost: one pass, O(length), no regex backtracking; at most `maxDepth + 1` stack entries.

/** Text that is too deep (or otherwise too costly) to hand to the parser. */
export class HclLimitError extends Error {
  override readonly name = "HclLimitError";
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

type Frame =
  | { kind: "bracket"; close: ")" | "]" }
  | { kind: "brace" }
  // `${`/`%{` inside a template: code until the `}` at this brace level, then back to the template.
  | { kind: "interp" }
  | { kind: "quoted" }
  | { kind: "heredoc"; marker: string; atLineStart: boolean };

const IDENT_START = /[\p{ID_Start}_]/u;
const IDENT_CONTINUE = /[\p{ID_Continue}-]/u;
// Characters after which `-` is a unary minus rather than subtraction (counted conservatively).
const UNARY_CONTEXT = new Set(["", "=", "(", "[", "{", ",", ":", "?", "!", "-", "+", "*", "/", "%", "<", ">", "&", "|"]);

/**
 * Throws HclLimitError when the nesting depth of `text` (brackets, braces, templates, interpolations,
 * unary operators, conditionals and template directives, counted as described above) exceeds `maxDepth`.
 */
export function checkHclNesting(text: string, maxDepth: number): void {
  const stack: Frame[] = [];
  // Counted once and never released (see the header): unary operators, `?`, template directives, and
  // brackets abandoned by a `}` that closed their enclosing brace.
  let sticky = 0;
  let line = 1;
  let lastSignificant = "";
  let noCommentEnd = false;
  const check = (): void => {
    if (stack.length + sticky > maxDepth) {
      throw new HclLimitError(`nesting deeper than ${maxDepth} levels (line ${line})`, line);
    }
  };
  const push = (f: Frame): void => {
    stack.push(f);
    check();
  };
  const n = text.length;
  let i = 0;
  while (i < n) {
    const top = stack[stack.length - 1];
    const c = text[i];
    if (c === "\n") line++;

    if (top?.kind === "quoted" || top?.kind === "heredoc") {
      if (top.kind === "heredoc" && top.atLineStart) {
        const eol = text.indexOf("\n", i);
        if (eol !== -1) {
          const content = text.slice(i, eol).replace(/\r$/, "");
          if (goTrimSpace(content) === top.marker) {
            stack.pop();
            i = eol; // the newline itself belongs to the enclosing code
            continue;
          }
        }
        top.atLineStart = false;
      }
      if ((c === "$" || c === "%") && text[i + 1] === "{") {
        if (top.kind === "heredoc") top.atLineStart = false;
        if (c === "%") sticky++;
        push({ kind: "interp" });
        i += 2;
        continue;
      }
      if ((c === "$" || c === "%") && text[i + 1] === c && text[i + 2] === "{") {
        i += 3; // `$${` / `%%{`: a literal `${` / `%{`
        continue;
      }
      if (top.kind === "quoted") {
        if (c === '"') stack.pop();
        else if (c === "\\" && i + 1 < n && text[i + 1] !== "\n" && text[i + 1] !== "\r") i++;
      } else if (c === "\n") {
        top.atLineStart = true;
      }
      i++;
      continue;
    }

    // Code.
    if (c === " " || c === "\t" || c === "\r" || c === "\n") {
      i++;
      continue;
    }
    if (c === "#" || (c === "/" && text[i + 1] === "/")) {
      const eol = text.indexOf("\n", i);
      i = eol === -1 ? n : eol;
      continue;
    }
    if (c === "/" && text[i + 1] === "*" && !noCommentEnd) {
      const end = text.indexOf("*/", i + 2);
      if (end !== -1) {
        for (let j = i; j < end; j++) if (text[j] === "\n") line++;
        i = end + 2;
        continue;
      }
      // Unterminated: not a comment to the HCL scanner either, just `/` and `*`. No later `/*` can be
      // terminated either, and searching again for each would make the scan quadratic.
      noCommentEnd = true;
    }
    if (c === "<" && text[i + 1] === "<") {
      const marker = heredocMarker(text, i + 2);
      if (marker) {
        push({ kind: "heredoc", marker: marker.name, atLineStart: true });
        line++;
        i = marker.end;
        lastSignificant = "";
        continue;
      }
    }
    if (c === '"') push({ kind: "quoted" });
    else if (c === "(") push({ kind: "bracket", close: ")" });
    else if (c === "[") push({ kind: "bracket", close: "]" });
    else if (c === "{") push({ kind: "brace" });
    else if (c === ")" || c === "]") {
      if (top?.kind === "bracket" && top.close === c) stack.pop();
    } else if (c === "}") {
      // The scanner counts only braces: `}` closes the innermost brace or interpolation, whatever
      // brackets are still open inside it (the parser will reject those, but may recurse first).
      let k = stack.length - 1;
      while (k >= 0 && stack[k].kind === "bracket") k--;
      if (k >= 0) {
        sticky += stack.length - 1 - k;
        stack.length = k;
      }
    } else if (c === "?" || (c === "!" && text[i + 1] !== "=") || (c === "-" && UNARY_CONTEXT.has(lastSignificant) && !isDigit(text[i + 1]))) {
      // (A `-` right before a digit is a negative number: its operand cannot nest further.)
      sticky++;
      check();
    }
    lastSignificant = c;
    i++;
  }
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= "0" && c <= "9";
}

// Go's bytes.TrimSpace (Unicode White_Space), which decides whether a heredoc line is its end marker.
// JS's trim() differs (it trims U+FEFF, keeps U+0085), and a disagreement here would make the scanner
// leave a heredoc where the parser does not.
// (A loop, not a regex: `\s+$` backtracks quadratically over long runs of spaces.)
function goTrimSpace(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isGoSpace(s.charCodeAt(a))) a++;
  while (b > a && isGoSpace(s.charCodeAt(b - 1))) b--;
  return s.slice(a, b);
}

function isGoSpace(c: number): boolean {
  return (
    (c >= 0x09 && c <= 0x0d) ||
    c === 0x20 ||
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

// `<<` `-`? Ident Newline, as the HCL scanner's BeginHeredocTmpl; returns the marker and the index after
// the newline, or undefined when this `<<` is not a heredoc introducer.
function heredocMarker(text: string, from: number): { name: string; end: number } | undefined {
  let i = from;
  if (text[i] === "-") i++;
  const start = i;
  const first = text.codePointAt(i);
  if (first === undefined || !IDENT_START.test(String.fromCodePoint(first))) return undefined;
  i += first > 0xffff ? 2 : 1;
  for (;;) {
    const cp = text.codePointAt(i);
    if (cp === undefined || !IDENT_CONTINUE.test(String.fromCodePoint(cp))) break;
    i += cp > 0xffff ? 2 : 1;
  }
  const name = text.slice(start, i);
  if (text[i] === "\r") i++;
  if (text[i] !== "\n") return undefined;
  return { name, end: i + 1 };
}
