#!/usr/bin/env node
// Fails when modules under src/ import each other in a cycle. A cycle makes load order decide whether a
// module sees its imports initialised, and it is usually a sign that two modules share one job.
//
// What counts: every static `import ... from`, `import "x"` and `export ... from` between modules of the
// tree, type-only imports included (as madge counts them). A type-only cycle is erased at run time, but it
// is still two modules that each need the other to be understood or changed: the same layering problem.
// (The cycles this was written to remove — core ↔ namespaces, approle and userpass backend ↔ paths — were
// all type-only.) Dynamic `import()` is lazy and is not counted.
//
// It also enforces the layering below (LAYERS): the bottom folders — leaf modules (common/), crypto,
// storage, HSM access and seals — import only from folders beneath them, never from the core, the server,
// the wire formats, engines, auth methods, the CLI or the unsealer. A lower module that reaches up is how
// the next cycle starts (storage needing ArcaError from core/ was one). Test files (`*.test.ts`) are
// exempt: nothing imports them, and integration tests there start whole servers. Conformance suites
// (`*.case.ts`) are not exempt: implementations import them.
//
// Uses the TypeScript parser the project already depends on; nothing else.
//
//   node scripts/check-cycles.mjs [dir]     (default: src)
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

const root = resolve(process.argv[2] ?? "src");

function sourceFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...sourceFiles(full));
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(full);
  }
  return out;
}

/** The relative modules `file` imports (type-only imports included), as absolute .ts paths. */
function importsOf(file) {
  const text = readFileSync(file, "utf8");
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const out = new Set();
  for (const node of sf.statements) {
    if (!(ts.isImportDeclaration(node) || ts.isExportDeclaration(node))) continue;
    const spec = node.moduleSpecifier;
    if (!spec || !ts.isStringLiteral(spec) || !spec.text.startsWith(".")) continue;
    out.add(resolve(dirname(file), spec.text.replace(/\.js$/, ".ts")));
  }
  return out;
}

const files = sourceFiles(root);
const graph = new Map(files.map((f) => [f, [...importsOf(f)]]));

// Tarjan's strongly connected components: every component of more than one module (or a module that
// imports itself) is a cycle.
let index = 0;
const indexOf = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const components = [];
function connect(v) {
  indexOf.set(v, index);
  low.set(v, index);
  index++;
  stack.push(v);
  onStack.add(v);
  for (const w of graph.get(v) ?? []) {
    if (!graph.has(w)) continue; // outside the scanned tree
    if (!indexOf.has(w)) {
      connect(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), indexOf.get(w)));
  }
  if (low.get(v) === indexOf.get(v)) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) components.push(component);
  }
}
for (const f of files) if (!indexOf.has(f)) connect(f);

/** One concrete loop through a component, for the message: a breadth-first path from its first module back to it. */
function loopIn(component) {
  const members = new Set(component);
  const start = [...component].sort()[0];
  const prev = new Map();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift();
    for (const w of graph.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [v];
        for (let p = v; p !== start; ) path.unshift((p = prev.get(p)));
        return [...path, start];
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start];
}

/**
 * The bottom layers of src/ and the folders each may import from (besides itself). Everything else in
 * src/ (core, server, http, engines, auth, cli, unsealer) sits above them and may import any of them.
 */
const LAYERS = {
  common: [], // leaf modules: errors, ids, version, HCL parsing
  crypto: ["common"],
  storage: ["common", "crypto"],
  hsm: ["common", "crypto"],
  seal: ["common", "crypto", "storage", "hsm"],
};

/** The top folder of `file` under the scanned root, e.g. "storage" for src/storage/sqlite.ts. */
const topFolder = (file) => relative(root, file).split(/[\\/]/)[0];

const layerBreaks = [];
for (const [file, imports] of graph) {
  const from = topFolder(file);
  const allowed = LAYERS[from];
  if (allowed === undefined || file.endsWith(".test.ts")) continue;
  for (const target of imports) {
    const to = topFolder(target);
    if (to !== from && !allowed.includes(to)) layerBreaks.push([file, target]);
  }
}

const rel = (f) => relative(process.cwd(), f);
for (const c of components) {
  console.error(`import cycle (${c.length} modules): ${loopIn(c).map(rel).join(" -> ")}`);
  if (c.length > 2) console.error(`  modules in it: ${c.map(rel).sort().join(", ")}`);
}
for (const [file, target] of layerBreaks) {
  const from = topFolder(file);
  const allowed = LAYERS[from].length > 0 ? LAYERS[from].join(", ") : "nothing outside it";
  console.error(`layer break: ${rel(file)} imports ${rel(target)} (${from}/ may import only ${allowed})`);
}
if (components.length === 0 && layerBreaks.length === 0) {
  console.log(`check-cycles: no import cycles and no layer breaks among ${files.length} modules in ${rel(root) || "."}`);
  process.exit(0);
}
if (components.length > 0) console.error(`check-cycles: ${components.length} import cycle(s) in ${rel(root) || "."}`);
if (layerBreaks.length > 0) console.error(`check-cycles: ${layerBreaks.length} layer break(s) in ${rel(root) || "."}`);
process.exit(1);
