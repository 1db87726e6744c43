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

const rel = (f) => relative(process.cwd(), f);
if (components.length === 0) {
  console.log(`check-cycles: no import cycles among ${files.length} modules in ${rel(root) || "."}`);
  process.exit(0);
}
for (const c of components) {
  console.error(`import cycle (${c.length} modules): ${loopIn(c).map(rel).join(" -> ")}`);
  if (c.length > 2) console.error(`  modules in it: ${c.map(rel).sort().join(", ")}`);
}
console.error(`check-cycles: ${components.length} import cycle(s) in ${rel(root) || "."}`);
process.exit(1);
