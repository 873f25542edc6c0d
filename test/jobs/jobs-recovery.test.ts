// kill -9 in the middle of a job, start again on the same DATA_DIR: the job carries on from its
// last committed task and completes once, with exactly one result row per input file and one
// terminal webhook.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { png, startLoopbackServer, tar, type LoopbackServer } from "../helpers/fixtures.js";
import { download, parseJsonl } from "../helpers/jobs.js";
import "../helpers/emulator.js";
import { startChildEmulator, type ChildEmulator } from "../helpers/child-emulator.js";

const WS = "emulator-workspace";
const KEY = "emulator-api-key";
const IMAGES = 520; // three processing tasks of up to 256 images
const children: ChildEmulator[] = [];
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "rf-jobs-recovery-"));
let receiver: LoopbackServer | undefined;

afterAll(async () => {
  for (const c of children) await c.kill9();
  await receiver?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const startChild = async (timeScale: string): Promise<ChildEmulator> => {
  const child = await startChildEmulator(dataDir, { EMULATOR_TIME_SCALE: timeScale });
  children.push(child);
  return child;
};

async function call(base: string, method: string, p: string, json?: unknown): Promise<{ status: number; json: any }> {
  const url = `${base}${p}${p.includes("?") ? "&" : "?"}api_key=${KEY}`;
  const res = await request(url, {
    method: method as "GET",
    body: json === undefined ? undefined : JSON.stringify(json),
    headers: json === undefined ? {} : { "content-type": "application/json" },
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? JSON.parse(text) : undefined };
}

/** Bulk ingest, as the official client does past 32 images: tar shards of up to 256 images PUT to signed URLs. */
async function uploadShard(base: string, first: number, count: number): Promise<void> {
  const members = Array.from({ length: count }, (_, k) => ({ name: `frame-${String(first + k).padStart(4, "0")}.png`, data: png(5000 + first + k, 8) }));
  const slot = await call(base, "POST", `/data-staging/v1/external/${WS}/batches/crash-batch/bulk-upload/image-files`);
  if (slot.status !== 200) throw new Error(`bulk-upload answered ${slot.status}: ${JSON.stringify(slot.json)}`);
  const { uploadURL, extensionHeaders } = slot.json.signedURLDetails;
  const put = await request(uploadURL, { method: "PUT", body: tar(members), headers: extensionHeaders });
  await put.body.text();
  if (put.statusCode >= 300) throw new Error(`shard PUT answered ${put.statusCode}`);
}

const jobPath = (suffix = "") => `/batch-processing/v1/external/${WS}/jobs/crash-job${suffix}`;

describe("kill -9 mid-job", () => {
  it("resumes on the same data folder and completes once, output rows = input files", async () => {
    receiver = await startLoopbackServer();
    const first = await startChild("4");
    for (let i = 0; i < IMAGES; i += 256) await uploadShard(first.url, i, Math.min(256, IMAGES - i));
    const staged = Date.now() + 20_000;
    while ((await call(first.url, "GET", `/data-staging/v1/external/${WS}/batches/crash-batch/count`)).json.count !== IMAGES) {
      if (Date.now() > staged) throw new Error("the shards were not indexed in time");
      await new Promise((r) => setTimeout(r, 20));
    }

    const def = {
      type: "simple-image-processing-v1",
      jobInput: { type: "staging-batch-input-v1", batchId: "crash-batch" },
      computeConfiguration: { type: "compute-configuration-v2", machineType: "gpu" },
      maxParallelTasks: 1,
      notificationsURL: receiver.url,
      processingSpecification: { type: "workflows-processing-specification-v1", workspace: WS, workflowId: "wf" },
    };
    expect((await call(first.url, "POST", jobPath(), def)).status).toBe(200);

    // Wait until some (not all) processing tasks are committed, then kill without warning.
    const deadline = Date.now() + 30_000;
    let done: number;
    for (;;) {
      const tasks = await call(first.url, "GET", jobPath("/stages/processing/tasks"));
      done = tasks.status === 200 ? tasks.json.tasks.filter((t: any) => t.statusType === "success").length : 0;
      if (done >= 1) break;
      if (Date.now() > deadline) throw new Error("no processing task finished in time");
      await new Promise((r) => setTimeout(r, 10));
    }
    await first.kill9();
    expect(done).toBeLessThan(3);

    const second = await startChild("max");
    const until = Date.now() + 30_000;
    let job: any;
    for (;;) {
      job = (await call(second.url, "GET", jobPath())).json.job;
      if (job.isTerminal) break;
      if (Date.now() > until) throw new Error(`job did not finish after the restart: ${JSON.stringify(job)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(job.error).toBe(false);

    const tasks = (await call(second.url, "GET", jobPath("/stages/processing/tasks"))).json.tasks;
    expect(tasks).toHaveLength(3);
    for (const t of tasks) expect(t.statusType).toBe("success");

    const listing = (await call(second.url, "GET", `/data-staging/v1/external/${WS}/batches/crash-job-processing/list?partName=results&pageSize=1000`)).json;
    expect(listing.filesMetadata.map((f: any) => f.fileName)).toEqual(["results-00000.jsonl", "results-00001.jsonl", "results-00002.jsonl"]);
    const names: string[] = [];
    for (const f of listing.filesMetadata) names.push(...parseJsonl((await download(f.downloadURL)).toString("utf8")).map((l) => l.image_name));
    expect(names).toHaveLength(IMAGES);
    expect(new Set(names).size).toBe(IMAGES);

    const logs = (await call(second.url, "GET", jobPath("/logs?pageSize=1000"))).json.logs;
    expect(logs.filter((l: any) => l.logType === "job-completed")).toHaveLength(1);
    expect(logs.filter((l: any) => l.logType === "stage-started" && l.payload.stage === "processing")).toHaveLength(1);

    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.requests.map((r) => r.body.job_state)).toEqual(["success"]);
    await second.stop();
  });
});
