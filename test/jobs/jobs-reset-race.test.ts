// A reset while a job step is writing its output (a processing task's partial results file, an
// export archive) must leave the job that takes the id afterwards alone: the re-seeded or re-created
// job never ends with an error, never hangs, and holds every record; a one-workspace reset does not
// disturb the jobs of other workspaces. Everything over HTTP against an emulator in its own process
// (as the pytest plugin runs it) on a max-speed clock, many rounds, because the window is a few
// milliseconds wide.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { startChildEmulator, type ChildEmulator } from "../helpers/child-emulator.js";
import { readResponse } from "../helpers/emulator.js";
import { download, imageJob, parseJsonl, untarGz } from "../helpers/jobs.js";

const ROUNDS = 24;
const IMAGES = 20; // one processing task (one slice), then one export archive
const WAIT_MS = 5_000; // such a job takes milliseconds at max speed; past this it hangs
const WS = "emulator-workspace";
const KEY = "emulator-api-key";

let child: ChildEmulator;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "rf-jobs-reset-race-"));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Real-time pause before the reset in round i: the job is then at a different step each time. */
const pause = (i: number) => sleep([0, 4, 8, 12, 16, 24, 32, 40][i % 8]);
const jobsPath = (ws: string, jobId: string) => `/batch-processing/v1/external/${ws}/jobs/${jobId}`;
const stagingPath = (ws: string, batchId: string) => `/data-staging/v1/external/${ws}/batches/${batchId}`;

async function call(method: string, p: string, opts: { apiKey?: string | null; json?: unknown } = {}) {
  const url = new URL(child.url + p);
  const key = opts.apiKey === undefined ? KEY : opts.apiKey;
  if (key !== null) url.searchParams.set("api_key", key);
  const body = opts.json === undefined ? undefined : JSON.stringify(opts.json);
  return readResponse(await request(url, { method: method as "GET", body, headers: body ? { "content-type": "application/json" } : {} }));
}
const ctl = (method: string, p: string, json?: unknown) => call(method, `/_emulator${p}`, { apiKey: null, json });

beforeAll(async () => {
  child = await startChildEmulator(dataDir);
});
afterAll(async () => {
  await child?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function ok(r: Promise<{ status: number; text: string; json: any }>, what: string) {
  const res = await r;
  if (res.status !== 200) throw new Error(`${what} answered ${res.status}: ${res.text}`);
  return res.json;
}

/** The job once terminal, or a description of why it is not (hung, or gone). */
async function settle(ws: string, jobId: string, apiKey: string): Promise<any> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const r = await call("GET", jobsPath(ws, jobId), { apiKey });
    if (r.status === 200 && r.json.job.isTerminal) return r.json.job;
    if (Date.now() > deadline) return { hung: true, status: r.status, job: r.json?.job ?? r.text };
    await sleep(10);
  }
}

/** What is wrong with a finished job of `images` inputs: an error, or missing records or archives; null when nothing. */
async function problemsOf(ws: string, jobId: string, images: number, apiKey = KEY): Promise<string | null> {
  const job = await settle(ws, jobId, apiKey);
  if (job.hung) return `not terminal after ${WAIT_MS} ms: ${JSON.stringify(job).slice(0, 400)}`;
  if (job.error) return `ended with an error: ${JSON.stringify(job.lastNotification)}`;
  const all = async (p: string, key: string) => {
    const items: any[] = [];
    let token: string | null = null;
    do {
      const r = await ok(call("GET", `${p}${token ? `?nextPageToken=${encodeURIComponent(token)}` : ""}`, { apiKey }), p);
      items.push(...r[key]);
      token = r.nextPageToken;
    } while (token);
    return items;
  };
  // Nothing of an earlier job under the id: one life in the logs, no error.
  const logs = await all(`${jobsPath(ws, jobId)}/logs`, "logs");
  const lives = logs.filter((l) => l.logType === "job-created" || l.logType === "job-completed").length;
  const errors = logs.filter((l) => l.severity === "error");
  if (lives !== 2 || errors.length) return `logs of more than this job: ${JSON.stringify(logs.map((l) => l.logType))}`;
  const list = (batchId: string) => all(`${stagingPath(ws, batchId)}/list`, "filesMetadata");
  const results = await list(`${jobId}-processing`);
  const names = new Set<string>();
  let records = 0;
  for (const f of results) {
    for (const rec of parseJsonl((await download(f.downloadURL)).toString())) {
      records++;
      names.add(rec.image_name);
    }
  }
  if (records !== images || names.size !== images) return `${records} record(s) for ${names.size} image name(s), expected ${images}`;
  const archives = await list(`${jobId}-export`);
  if (archives.length !== 1) return `${archives.length} export archive(s), expected 1`;
  const members = await untarGz(await download(archives[0].downloadURL));
  if (members.size !== results.length) return `the archive holds ${members.size} file(s), expected ${results.length}`;
  return null;
}

function report(what: string, problems: (string | null)[]): string[] {
  const failed = problems.filter((p): p is string => p !== null);
  console.log(`[jobs-reset-race] ${what}: ${failed.length} of ${problems.length} round(s) went wrong`);
  return failed;
}

describe("a reset while a job writes its output", () => {
  it("reset {reseed: true} twice: the re-seeded job under the same id ends successfully with all its records", async () => {
    const seed = {
      asStartupSeed: true,
      batches: [{ batchId: "inputs", images: { count: IMAGES, width: 8, height: 6 } }],
      jobs: [{ jobId: "seeded-job", definition: imageJob(WS, "inputs"), state: "succeeded" }],
    };
    await ok(ctl("POST", "/seed", seed), "seed");
    const problems: (string | null)[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      await ok(ctl("POST", "/reset", { reseed: true }), "reset");
      await pause(i); // the seeded job is mid-way through its steps
      await ok(ctl("POST", "/reset", { reseed: true }), "reset");
      problems.push(await problemsOf(WS, "seeded-job", IMAGES));
    }
    expect(report("reseed", problems)).toEqual([]);
  }, 300_000);

  it("reset {reseed: true} restores the input and the same job id is started again over the API: the new job ends successfully with all its records", async () => {
    await ok(ctl("POST", "/seed", { asStartupSeed: true, batches: [{ batchId: "inputs", images: { count: IMAGES, width: 8, height: 6 } }] }), "seed");
    const start = () => ok(call("POST", jobsPath(WS, "same-id"), { json: imageJob(WS, "inputs") }), "job start");
    const problems: (string | null)[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      await ok(ctl("POST", "/reset", { reseed: true }), "reset"); // no job under the id yet
      await start();
      await pause(i);
      await ok(ctl("POST", "/reset", { reseed: true }), "reset");
      await start();
      problems.push(await problemsOf(WS, "same-id", IMAGES));
    }
    expect(report("re-created", problems)).toEqual([]);
  }, 300_000);

  it("a one-workspace reset leaves the running jobs of other workspaces alone, and the job re-created under the reset id succeeds", async () => {
    await ok(ctl("POST", "/reset", {}), "reset");
    const other = { ws: "team-b", key: "key-b" };
    await ok(
      ctl("POST", "/seed", {
        workspaces: [{ id: other.ws, apiKeys: [other.key] }],
        batches: [{ workspace: other.ws, batchId: "theirs", images: { count: IMAGES, width: 8, height: 6 } }],
      }),
      "seed",
    );
    const stage = () => ok(ctl("POST", "/seed", { batches: [{ batchId: "inputs", images: { count: IMAGES, width: 8, height: 6 } }] }), "seed");
    const start = () => ok(call("POST", jobsPath(WS, "ours"), { json: imageJob(WS, "inputs") }), "job start");
    const problems: (string | null)[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const theirs = `theirs-${i}`;
      await ok(call("POST", jobsPath(other.ws, theirs), { apiKey: other.key, json: imageJob(other.ws, "theirs") }), "their job start");
      await stage();
      await start();
      await pause(i);
      await ok(ctl("POST", "/reset", { workspace: WS }), "workspace reset");
      await stage();
      await start();
      const mine = await problemsOf(WS, "ours", IMAGES);
      const survivor = await problemsOf(other.ws, theirs, IMAGES, other.key);
      problems.push(mine || survivor ? `ours: ${mine ?? "fine"}; theirs: ${survivor ?? "fine"}` : null);
      await ok(ctl("POST", "/reset", { workspace: WS }), "workspace reset");
    }
    expect(report("one-workspace reset", problems)).toEqual([]);
  }, 300_000);

  it("a one-workspace reset does not restart the running tasks of other workspaces' jobs", async () => {
    await ok(ctl("POST", "/reset", {}), "reset");
    const other = { ws: "team-b", key: "key-b" };
    const images = 200; // one task of four slices
    await ok(
      ctl("POST", "/seed", {
        workspaces: [{ id: other.ws, apiKeys: [other.key] }],
        batches: [{ workspace: other.ws, batchId: "theirs", images: { count: images, width: 8, height: 6 } }],
      }),
      "seed",
    );
    await ok(ctl("POST", "/clock", { mode: "manual" }), "manual clock");
    try {
      await ok(call("POST", jobsPath(other.ws, "slow"), { apiKey: other.key, json: imageJob(other.ws, "theirs") }), "their job start");
      const progress = async () => {
        const r = await call("GET", `${jobsPath(other.ws, "slow")}/stages/processing/tasks`, { apiKey: other.key });
        return r.status === 200 ? (r.json.tasks as any[]).map((t) => t.progress) : [];
      };
      for (let i = 0; i < 20 && !((await progress())[0] > 0); i++) await ok(ctl("POST", "/clock/advance", { to: "next" }), "advance");
      const midway = await progress();
      expect(midway[0]).toBeGreaterThan(0);
      expect(midway[0]).toBeLessThan(1);
      await ok(ctl("POST", "/reset", { workspace: WS }), "workspace reset");
      expect(await progress()).toEqual(midway);
      await ok(ctl("POST", "/clock/advance", { to: "idle" }), "advance to idle");
      expect(await problemsOf(other.ws, "slow", images, other.key)).toBeNull();
    } finally {
      await ok(ctl("POST", "/clock", { mode: "max" }), "max clock");
    }
  });
});
