// Jobs never touch each other's partial results. A job whose id (or workspace) starts with another
// job's id must keep every record when that other job is aborted mid-processing, and a job whose
// partial result file is lost anyway never reports success with fewer records than it processed.
import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestEmulator, waitFor, type TestEmulator } from "../helpers/emulator.js";
import { download, imageJob, parseJsonl } from "../helpers/jobs.js";

/** One processing task (up to 256 images) handled 64 images per step: three steps, so an abort can land in between. */
const IMAGES = 150;

let emu: TestEmulator;
type Ref = { ws: string; jobId: string };

const keyOf = (ws: string) => (ws === emu.workspace ? emu.apiKey : `key-${ws}`);
const jobPath = (r: Ref, rest = "") => `/batch-processing/v1/external/${r.ws}/jobs/${r.jobId}${rest}`;

beforeAll(async () => {
  emu = await startTestEmulator();
  const seed = await emu.call("POST", "/_emulator/seed", {
    apiKey: null,
    json: {
      workspaces: [
        { id: "ws1", apiKeys: [keyOf("ws1")] },
        { id: "ws1-b", apiKeys: [keyOf("ws1-b")] },
      ],
      batches: [emu.workspace, "ws1", "ws1-b"].map((workspace) => ({ workspace, batchId: "pics", images: { count: IMAGES, width: 8, height: 8 } })),
    },
  });
  expect(seed.status, seed.text).toBe(200);
});
afterEach(() => {
  const clock = emu.emulator.clock;
  if (clock.state().mode !== "max") clock.setMode("max");
});
afterAll(async () => emu?.close());

async function job(r: Ref): Promise<any> {
  const res = await emu.call("GET", jobPath(r), { apiKey: keyOf(r.ws) });
  expect(res.status, res.text).toBe(200);
  return res.json.job;
}

async function start(r: Ref): Promise<void> {
  const res = await emu.call("POST", jobPath(r), { apiKey: keyOf(r.ws), json: imageJob(r.ws, "pics", { maxParallelTasks: 1 }) });
  expect(res.status, res.text).toBe(200);
}

/** Images the job's processing task has handled in its current attempt (0 before the stage starts). */
async function processed(r: Ref): Promise<number> {
  const res = await emu.call("GET", jobPath(r, "/stages/processing/tasks"), { apiKey: keyOf(r.ws) });
  if (res.status !== 200) return 0;
  const n = res.json.tasks[0]?.notification;
  return n?.type === "task-progress" ? n.processed : 0;
}

/** Manual clock: fires the next timers, then waits until every running job has planned its next step. */
async function step(refs: Ref[]): Promise<void> {
  const clock = emu.emulator.clock;
  clock.advanceToNext();
  await waitFor(
    async () => {
      const active = (await Promise.all(refs.map(job))).filter((j) => !j.isTerminal).length;
      return clock.state().pendingTimers >= active;
    },
    10_000,
    "jobs to plan their next step",
  );
}

async function runToEnd(r: Ref): Promise<any> {
  for (let i = 0; i < 200; i++) {
    const j = await job(r);
    if (j.isTerminal) return j;
    await step([r]);
  }
  throw new Error(`job ${r.jobId} did not end`);
}

async function resultLines(r: Ref): Promise<any[]> {
  const res = await emu.call("GET", `/data-staging/v1/external/${r.ws}/batches/${r.jobId}-processing/list?partName=results&pageSize=100`, {
    apiKey: keyOf(r.ws),
  });
  expect(res.status, res.text).toBe(200);
  expect(res.json.nextPageToken).toBeNull();
  const out: any[] = [];
  for (const f of res.json.filesMetadata) out.push(...parseJsonl((await download(f.downloadURL)).toString("utf8")));
  return out;
}

async function expectAllRecords(r: Ref): Promise<void> {
  const done = await runToEnd(r);
  expect(done).toMatchObject({ isTerminal: true, error: false });
  const lines = await resultLines(r);
  expect(lines).toHaveLength(IMAGES);
  expect(new Set(lines.map((l) => l.image_name)).size).toBe(IMAGES);
}

/** Starts both jobs, steps until the victim has written part of its results, aborts the other one, and checks the victim ends whole. */
async function abortNextTo(aborted: Ref, victim: Ref): Promise<void> {
  emu.emulator.clock.setMode("manual");
  await start(aborted);
  await start(victim);
  for (let i = 0; i < 50 && (await processed(victim)) === 0; i++) await step([aborted, victim]);
  const partial = await processed(victim);
  expect(partial).toBeGreaterThan(0);
  expect(partial).toBeLessThan(IMAGES);
  expect((await job(aborted)).isTerminal).toBe(false);
  expect(await processed(aborted)).toBeGreaterThan(0);

  const res = await emu.call("POST", jobPath(aborted, "/abort"), { apiKey: keyOf(aborted.ws) });
  expect(res.status, res.text).toBe(200);
  await expectAllRecords(victim);
}

describe("partial results of one job are its own", () => {
  it("aborting job x mid-processing leaves job x-y of the same workspace whole", async () => {
    await abortNextTo({ ws: emu.workspace, jobId: "x" }, { ws: emu.workspace, jobId: "x-y" });
  });

  it("aborting job b of workspace ws1 leaves a job of workspace ws1-b whole", async () => {
    await abortNextTo({ ws: "ws1", jobId: "b" }, { ws: "ws1-b", jobId: "j" });
  });

  it("a job whose partial result file was lost re-runs the task instead of succeeding with fewer records", async () => {
    const r = { ws: emu.workspace, jobId: "lost" };
    emu.emulator.clock.setMode("manual");
    await start(r);
    for (let i = 0; i < 50 && (await processed(r)) === 0; i++) await step([r]);
    expect(await processed(r)).toBeGreaterThan(0);
    // Something outside the engine removes the half-written file (the only job running is this one).
    const tmp = path.join(emu.dataDir, "tmp");
    const removed = fs.readdirSync(tmp).filter((n) => n.startsWith("job-"));
    expect(removed.length).toBeGreaterThan(0);
    for (const n of removed) fs.rmSync(path.join(tmp, n));
    await expectAllRecords(r);
    const logs = await emu.call("GET", jobPath(r, "/logs?pageSize=1000"));
    expect(logs.json.logs.filter((l: any) => l.logType === "task-rerun")).toHaveLength(1);
  });
});
