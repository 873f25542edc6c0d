// Runs the whole vitest suite and prints the plain closing line CI reads: "N passed, N failed".
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

// The conformance suite drives the official Python client from ../shared/real-client; install its
// few pip dependencies first so this one command works on a fresh machine (the suite fails, not
// skips, if they are still missing).
// --retries 0: the default index is unreachable here; without it pip spends ~60 s retrying it before using the local mirror.
const requirements = path.resolve("..", "shared", "real-client", "requirements.txt");
if (fs.existsSync(requirements) && !process.env.SKIP_PIP_INSTALL) {
  const pip = spawnSync("python3", ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--retries", "0", "-r", requirements], {
    stdio: "inherit",
  });
  if (pip.status !== 0) console.error("warning: could not install the official client's Python dependencies; the conformance suite will fail");
}

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
