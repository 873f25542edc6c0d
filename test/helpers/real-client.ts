// Runs the official Python client (`inference rf-cloud ...`, copy in ../shared/real-client) as a child
// process against an emulator. Always with --debug-mode where the command has it, so any Python
// exception surfaces as a traceback and a non-zero exit instead of a polite "Command failed".
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

export const REAL_CLIENT_DIR = process.env.RF_REAL_CLIENT_DIR ?? path.resolve("/work/shared/real-client");
export const REAL_CLIENT_ENTRY = path.join(REAL_CLIENT_DIR, "rf_cloud.py");

export interface ClientRun {
  args: string[];
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Throws (so the suite FAILS, never skips) when the client or its Python dependencies are missing,
 * naming the reason and the fix.
 */
export function assertRealClientAvailable(): void {
  if (!fs.existsSync(REAL_CLIENT_ENTRY)) {
    throw new Error(`The official client is not at ${REAL_CLIENT_ENTRY}; set RF_REAL_CLIENT_DIR to the folder that holds rf_cloud.py.`);
  }
  const probe = spawnSync("python3", ["-c", "import requests, pydantic, typer, rich, tqdm, backoff; print('ok')"], { encoding: "utf8" });
  if (probe.error || probe.status !== 0 || !probe.stdout.includes("ok")) {
    throw new Error(
      `The official client's Python dependencies cannot be imported (${probe.error?.message ?? probe.stderr.trim().split("\n").pop()}). ` +
        `Install them with: python3 -m pip install -r ${path.join(REAL_CLIENT_DIR, "requirements.txt")}`,
    );
  }
}

export function runClient(baseUrl: string, args: string[], opts: { timeoutMs?: number; cwd?: string; env?: Record<string, string> } = {}): Promise<ClientRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn("python3", [REAL_CLIENT_ENTRY, ...args], {
      cwd: opts.cwd,
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: process.env.HOME ?? "/tmp",
        LANG: "C.UTF-8",
        PYTHONDONTWRITEBYTECODE: "1",
        PYTHONUNBUFFERED: "1",
        // Wide, plain output so tables are not cut and assertions can read ids.
        COLUMNS: "400",
        TERM: "dumb",
        NO_COLOR: "1",
        API_BASE_URL: baseUrl,
        ROBOFLOW_API_REQUEST_TIMEOUT: "30",
        ...opts.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ args, code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** Fails with the client's own output when it exited non-zero, raised, or reported a failure. */
export function expectClientOk(run: ClientRun): ClientRun {
  const out = `${run.stdout}\n${run.stderr}`;
  const problems: string[] = [];
  if (run.code !== 0) problems.push(`exit code ${run.code}`);
  if (/Traceback \(most recent call last\)/.test(out)) problems.push("a Python exception");
  if (/Command failed\. Cause:/.test(out)) problems.push('"Command failed"');
  if (/ValidationError|validation error for/.test(out)) problems.push("a pydantic validation error (a field the client cannot parse)");
  if (problems.length) {
    throw new Error(
      `rf-cloud ${run.args.filter((a, i) => run.args[i - 1] !== "--api-key").join(" ")} failed: ${problems.join(", ")}\n--- stdout ---\n${run.stdout.slice(-4000)}\n--- stderr ---\n${run.stderr.slice(-4000)}`,
    );
  }
  return run;
}
