#!/usr/bin/env node
// The whole test suite, the one command README and CI run: build (the CLI tests run bin/arca from
// dist/), type-aware lint, then every vitest suite. Ends with a plain "N passed, N failed" line.
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";

const args = process.argv.slice(2);
const run = (cmd, cmdArgs) => spawnSync(cmd, cmdArgs, { stdio: "inherit" }).status ?? 1;

/** Runs vitest, streaming its output, and returns the exit status, the output and the JSON report. */
function vitest(extra) {
  const results = ".test-results.json";
  rmSync(results, { force: true });
  const child = spawn("npx", ["vitest", "run", "--reporter=default", "--reporter=json", `--outputFile.json=${results}`, ...extra], {
    stdio: ["inherit", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => {
    output += d;
    process.stdout.write(d);
  });
  child.stderr.on("data", (d) => {
    output += d;
    process.stderr.write(d);
  });
  return new Promise((resolve) => {
    child.on("close", (status) => {
      let report;
      try {
        report = JSON.parse(readFileSync(results, "utf8"));
      } catch {
        report = undefined;
      }
      resolve({ status: status ?? 1, output, report });
    });
  });
}

if (!args.includes("--no-build")) {
  if (run("npx", ["tsc", "-p", "tsconfig.build.json"]) !== 0) process.exit(1);
  if (run("npx", ["tsc", "-p", "tsconfig.json", "--noEmit"]) !== 0) process.exit(1);
  if (run("npx", ["eslint", "."]) !== 0) process.exit(1);
}
const filters = args.filter((a) => a !== "--no-build");
let { status, output, report } = await vitest(filters);

// A vitest worker process that dies is not a test result: its file never finished. When that is the
// only problem (no test failed), run the unfinished files once more, and say so. Their own failures
// still fail the suite. (Seen rarely, under heavy load; see the closing notes on the investigation.)
if (status !== 0 && report && report.numFailedTests === 0 && /Worker exited unexpectedly/.test(output)) {
  const unfinished = report.testResults
    .filter((f) => f.assertionResults.some((a) => a.status === "pending" || a.status === "skipped"))
    .map((f) => f.name);
  if (unfinished.length > 0) {
    console.log(`\nA vitest worker process exited unexpectedly; re-running its unfinished files once: ${unfinished.join(", ")}\n`);
    const passed = report.numPassedTests;
    const rerun = await vitest(unfinished);
    status = rerun.status;
    if (rerun.report) {
      const pendingBefore = report.testResults
        .filter((f) => unfinished.includes(f.name))
        .reduce((n, f) => n + f.assertionResults.filter((a) => a.status === "passed").length, 0);
      report = { ...rerun.report, numPassedTests: passed - pendingBefore + rerun.report.numPassedTests, numTotalTests: report.numTotalTests };
    } else {
      report = undefined;
    }
  }
}

if (!report) {
  console.log("tests: 0 passed, 1 failed");
  process.exit(1);
}
// A run that failed without a failing test (a crashed worker, an unhandled error) still counts as a failure.
const failed = Math.max(report.numFailedTests, status !== 0 ? 1 : 0);
console.log(`tests: ${report.numPassedTests} passed, ${failed} failed, ${report.numPendingTests + report.numTodoTests} skipped`);
if (report.numTotalTests === 0) process.exit(1);
process.exit(status);
