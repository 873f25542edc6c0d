// The users' figure: the official client (../shared/real-client, `rf_cloud.py`, run as users run it,
// one process per command) walking a whole flow against a base URL: a batch of images from a folder,
// an image job on it, polling until it ends, then the export of its results.
import fs from "node:fs";
import path from "node:path";
import { runClient } from "../../test/helpers/real-client.js";

export interface FlowOptions {
  apiKey: string;
  /** Folder of images; a fresh copy is used per run (the client keeps an import log inside it). */
  images: string;
  work: string;
  batchId: string;
  jobId: string;
}

export interface FlowResult {
  ms: number;
  /** Client processes started (each command is one). */
  commands: number;
  polls: number;
  exported: number;
  steps: Record<string, number>;
}

const POLLS = 60;

export async function runClientFlow(baseUrl: string, o: FlowOptions): Promise<FlowResult> {
  const run = fs.mkdtempSync(path.join(o.work, "flow-"));
  const images = path.join(run, "images");
  fs.cpSync(o.images, images, { recursive: true });
  const steps: Record<string, number> = {};
  let commands = 0;
  const client = async (step: string, ...args: string[]) => {
    const r = await runClient(baseUrl, [...args, "--api-key", o.apiKey], { cwd: run, timeoutMs: 120_000 });
    commands++;
    steps[step] = (steps[step] ?? 0) + r.ms;
    if (r.code !== 0 || /Traceback|Command failed/.test(r.stdout + r.stderr))
      throw new Error(`rf-cloud ${args.slice(0, 2).join(" ")} failed (${r.code}): ${(r.stdout + r.stderr).slice(-1500)}`);
    return r.stdout;
  };
  const t0 = performance.now();
  await client("create-batch", "data-staging", "create-batch-of-images", "--images-dir", images, "--batch-id", o.batchId);
  await client(
    "start-job",
    "batch-processing",
    "process-images-with-workflow",
    "--batch-id",
    o.batchId,
    "--workflow-id",
    "bench-workflow",
    "--job-id",
    o.jobId,
  );
  let polls = 0;
  let details = "";
  for (; polls < POLLS;) {
    details = await client("poll", "batch-processing", "show-job-details", "--job-id", o.jobId);
    polls++;
    if (details.includes("🏁")) break;
  }
  if (!details.includes("🏁")) throw new Error(`job ${o.jobId} did not end within ${POLLS} polls`);
  if (details.includes("Errors: 🚨")) throw new Error(`job ${o.jobId} failed:\n${details.slice(-1500)}`);
  // The output batch the job names last (the export stage's, else the processing stage's).
  const outputs = [...details.matchAll(/Output Batches\s*│\s*([a-z0-9_-]+)/gi)].map((m) => m[1]);
  if (!outputs.length) throw new Error(`no output batch in show-job-details:\n${details.slice(-1500)}`);
  const target = path.join(run, "export");
  await client("export", "data-staging", "export-batch", "--batch-id", outputs[outputs.length - 1], "--target-dir", target);
  const ms = performance.now() - t0;
  const exported = fs.existsSync(target) ? fs.readdirSync(target, { recursive: true }).filter((f) => !path.basename(String(f)).startsWith(".")).length : 0;
  fs.rmSync(run, { recursive: true, force: true });
  return { ms, commands, polls, exported, steps };
}
