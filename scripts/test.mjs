#!/usr/bin/env node
// The whole test suite, the one command README and CI run: build (the CLI tests run bin/arca from
// dist/), type-aware lint, then every vitest suite. Ends with a plain "N passed, N failed" line.
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";

const args = process.argv.slice(2);
const run = (cmd, cmdArgs) => {
  const r = spawnSync(cmd, cmdArgs, { stdio: "inherit" });
  return r.status ?? 1;
};

if (!args.includes("--no-build")) {
  if (run("npx", ["tsc", "-p", "tsconfig.build.json"]) !== 0) process.exit(1);
  if (run("npx", ["tsc", "-p", "tsconfig.json", "--noEmit"]) !== 0) process.exit(1);
  if (run("npx", ["eslint", "."]) !== 0) process.exit(1);
}
const results = ".test-results.json";
rmSync(results, { force: true });
const vitestArgs = ["vitest", "run", "--reporter=default", "--reporter=json", `--outputFile.json=${results}`,
  ...args.filter((a) => a !== "--no-build")];
const status = run("npx", vitestArgs);
try {
  const r = JSON.parse(readFileSync(results, "utf8"));
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
  if (r.numTotalTests === 0) process.exit(1);
} catch {
  console.log("tests: 0 passed, 1 failed");
  process.exit(1);
}
process.exit(status);
