// Runs the whole vitest suite and prints the plain closing line CI reads: "N passed, N failed".
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const out = path.join(os.tmpdir(), `rf-emulator-vitest-${process.pid}.json`);
const args = ["vitest", "run", "--reporter=default", "--reporter=json", `--outputFile.json=${out}`, ...process.argv.slice(2)];
const res = spawnSync("npx", args, { stdio: "inherit", env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" } });
let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const report = JSON.parse(fs.readFileSync(out, "utf8"));
  passed = report.numPassedTests ?? 0;
  failed = (report.numFailedTests ?? 0) + (report.numRuntimeErrorTestSuites ?? 0);
  skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  fs.rmSync(out, { force: true });
} catch {
  failed = Math.max(failed, 1);
}
if (res.status !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || res.status !== 0 ? 1 : 0);
