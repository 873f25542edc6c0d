// The forum's end-to-end flow over real HTTP: upload, count, start a job, poll it to the end,
// stages, output batch parts and listings, downloads of JSONL and CSV results and of the export
// archive (unpacked with node-tar), the job webhook; video and TRT jobs; listing pagination.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEmulator, type TestEmulator } from "../helpers/emulator.js";
import { mp4, png, startLoopbackServer, type LoopbackServer } from "../helpers/fixtures.js";
import { allPages, download, getJob, imageJob, parseCsv, parseJsonl, stagesOf, untarGz, uploadImage, uploadVideo, waitForJob } from "../helpers/jobs.js";
import { derivedInternalId } from "../../src/state/workspaces.js";

let emu: TestEmulator;
let receiver: LoopbackServer;
beforeAll(async () => {
  emu = await startTestEmulator();
  receiver = await startLoopbackServer();
  for (let i = 0; i < 3; i++) expect((await uploadImage(emu, "forum-batch", `cars-${i}.png`, png(i, 32))).status).toBe(200);
});
afterAll(async () => {
  await emu?.close();
  await receiver?.close();
});

const ISO_Z = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

async function resultsOf(jobId: string, part = "results") {
  const stages = await stagesOf(emu, jobId);
  const processing = stages.find((s) => s.processingStageName === "processing");
  const batchId = processing.outputBatches[0];
  const files = await allPages(emu, `${emu.staging(batchId)}/list?partName=${part}`, "filesMetadata");
  return { batchId, files, stages };
}

describe("forum flow: upload → count → start → poll → stages → parts/list → download", () => {
  it("runs a JSONL job to success and exposes real, deterministic results and an export archive", async () => {
    const count = await emu.call("GET", `${emu.staging("forum-batch")}/count`);
    expect(count.json).toEqual({ status: "ok", count: 3 });

    const started = await emu.call("POST", emu.jobs("forum-job"), { json: imageJob(emu.workspace, "forum-batch", { notificationsURL: receiver.url }) });
    expect(started.status).toBe(200);
    expect(started.json).toEqual({ status: "ok" });

    // The forum script reads jobStatus/progress; the real service sends neither (it printed "status: ok progress: ?").
    const first = await emu.call("GET", emu.jobs("forum-job"));
    expect(first.json.status).toBe("ok");
    expect(first.json).not.toHaveProperty("jobStatus");
    expect(first.json).not.toHaveProperty("progress");

    const job = await waitForJob(emu, "forum-job");
    expect(job).toMatchObject({
      jobId: "forum-job",
      name: "forum-job",
      error: false,
      isTerminal: true,
      plannedStages: ["processing", "export"],
      restartParametersOverride: [],
    });
    expect(job.createdAt).toMatch(ISO_Z);
    expect(job.lastUpdate).toMatch(ISO_Z);
    expect(job.jobDefinition.processingSpecification.workflowId).toBe("test-workflow");
    expect(job.jobDefinition.notificationsURL).toBe(receiver.url);

    const { batchId, files, stages } = await resultsOf("forum-job");
    expect(stages.map((s) => s.processingStageName)).toEqual(["processing", "export"]);
    for (const s of stages) {
      expect(s.statusType).toContain("success");
      expect(s.tasksNumber).toBeGreaterThan(0);
      expect(s.startTimestamp).toMatch(ISO_Z);
      expect(s.lastEventTimestamp).toMatch(ISO_Z);
    }
    expect(batchId).toBe("forum-job-processing");

    const batch = await emu.call("GET", emu.staging(batchId));
    expect(batch.json.batch).toMatchObject({ batchId, batchType: "multipart-batch" });
    const parts = await emu.call("GET", `${emu.staging(batchId)}/parts`);
    expect(parts.json.batchParts.map((p: any) => p.partName)).toEqual(["results"]);
    const partCount = await emu.call("GET", `${emu.staging(batchId)}/count?partName=results`);
    expect(partCount.json.count).toBe(files.length);

    expect(files.map((f) => f.fileName)).toEqual(["results-00000.jsonl"]);
    const lines = parseJsonl((await download(files[0].downloadURL)).toString("utf8"));
    expect(lines.map((l) => l.image_name).sort()).toEqual(["cars-0.png", "cars-1.png", "cars-2.png"]);
    for (const l of lines) {
      expect(l.predictions.image).toEqual({ width: 32, height: 32 });
      for (const p of l.predictions.predictions) {
        expect(p.confidence).toBeGreaterThan(0);
        expect(p.confidence).toBeLessThan(1);
        expect(typeof p.class).toBe("string");
        expect(p.x).toBeGreaterThanOrEqual(0);
        expect(p.x).toBeLessThanOrEqual(32);
      }
    }

    // The export stage's multipart batch holds a .tar.gz whose contents are exactly the processing results.
    const exportStage = stages.find((s) => s.processingStageName === "export");
    const exportBatch = exportStage.outputBatches[0];
    const exportParts = (await emu.call("GET", `${emu.staging(exportBatch)}/parts`)).json.batchParts;
    expect(exportParts).toHaveLength(1);
    const archives = await allPages(emu, `${emu.staging(exportBatch)}/list?partName=${exportParts[0].partName}`, "filesMetadata");
    expect(archives).toHaveLength(1);
    expect(archives[0].fileName).toMatch(/\.tar\.gz$/);
    const unpacked = await untarGz(await download(archives[0].downloadURL));
    expect([...unpacked.keys()]).toEqual(["results-00000.jsonl"]);
    expect(unpacked.get("results-00000.jsonl")!.equals(await download(files[0].downloadURL))).toBe(true);

    // Webhook: the documented payload, once, with the bearer header.
    await expect.poll(() => receiver.requests.length, { timeout: 5000 }).toBe(1);
    const hook = receiver.requests[0];
    expect(hook.headers.authorization).toBe(`Bearer rf_${derivedInternalId(emu.workspace)}`);
    expect(hook.body).toMatchObject({ type: "roboflow-batch-job-notification-v1", job_id: "forum-job", job_state: "success", delivery_attempt: 1 });
    expect(typeof hook.body.event_id).toBe("string");

    // Logs: chronological, each with the fields the client parses.
    const logs = await allPages(emu, `${emu.jobs("forum-job")}/logs`, "logs");
    expect(logs.map((l) => l.logType)).toEqual(expect.arrayContaining(["job-created", "stage-started", "stage-completed", "job-completed"]));
    for (const l of logs) {
      expect(l.createdAt).toMatch(ISO_Z);
      expect(["info", "warning", "error"]).toContain(l.severity);
      expect(typeof l.payload).toBe("object");
    }
    const errorsOnly = await emu.call("GET", `${emu.jobs("forum-job")}/logs?severity=error`);
    expect(errorsOnly.json.logs).toEqual([]);
    expect(errorsOnly.json.nextPageToken).toBeNull();

    // Tasks: every processing task done, progress 1.
    const tasks = await allPages(emu, `${emu.jobs("forum-job")}/stages/processing/tasks`, "tasks");
    expect(tasks).toHaveLength(stages[0].tasksNumber);
    for (const t of tasks) expect(t).toMatchObject({ statusType: "success", progress: 1 });
  });

  it("writes CSV when aggregationFormat is csv, with the same predictions as JSONL for the same bytes", async () => {
    expect((await emu.call("POST", emu.jobs("csv-job"), { json: imageJob(emu.workspace, "forum-batch", {}, { aggregationFormat: "csv" }) })).status).toBe(200);
    const job = await waitForJob(emu, "csv-job");
    expect(job.error).toBe(false);
    const { files, stages } = await resultsOf("csv-job");
    expect(files.map((f) => f.fileName)).toEqual(["results-00000.csv"]);
    const rows = parseCsv((await download(files[0].downloadURL)).toString("utf8"));
    const [header, ...data] = rows;
    expect(header).toEqual(["image_name", "image_sha256", "workflow_id", "width", "height", "predictions_count", "predictions", "error"]);
    expect(data).toHaveLength(3);
    const jsonl = parseJsonl((await download((await resultsOf("forum-job")).files[0].downloadURL)).toString("utf8"));
    for (const row of data) {
      const rec = Object.fromEntries(header.map((h, i) => [h, row[i]]));
      const twin = jsonl.find((l) => l.image_name === rec.image_name);
      expect(JSON.parse(rec.predictions)).toEqual(twin.predictions.predictions);
      expect(Number(rec.predictions_count)).toBe(twin.predictions.predictions.length);
      expect(rec.error).toBe("");
    }
    const exportBatch = stages.find((s) => s.processingStageName === "export").outputBatches[0];
    const archives = await allPages(emu, `${emu.staging(exportBatch)}/list?partName=archives`, "filesMetadata");
    const unpacked = await untarGz(await download(archives[0].downloadURL));
    expect([...unpacked.keys()]).toEqual(["results-00000.csv"]);
  });

  it("gives byte-identical results and archives for the same input bytes in another job", async () => {
    for (let i = 0; i < 3; i++) await uploadImage(emu, "twin-batch", `cars-${i}.png`, png(i, 32));
    await emu.call("POST", emu.jobs("twin-job"), { json: imageJob(emu.workspace, "twin-batch") });
    await waitForJob(emu, "twin-job");
    const a = await resultsOf("forum-job");
    const b = await resultsOf("twin-job");
    expect((await download(b.files[0].downloadURL)).equals(await download(a.files[0].downloadURL))).toBe(true);
    const archiveOf = async (jobId: string) => {
      const files = await allPages(emu, `${emu.staging(`${jobId}-export`)}/list?partName=archives`, "filesMetadata");
      return download(files[0].downloadURL);
    };
    expect((await archiveOf("twin-job")).equals(await archiveOf("forum-job"))).toBe(true);
  });
});

describe("other job types", () => {
  it("runs a video job: one task per video, a per-frame result file per video", async () => {
    expect(await uploadVideo(emu, "video-batch", "clip-a.mp4", mp4(1))).toBeLessThan(300);
    expect(await uploadVideo(emu, "video-batch", "clip-b.mp4", mp4(2))).toBeLessThan(300);
    await expect.poll(async () => (await emu.call("GET", `${emu.staging("video-batch")}/count`)).json.count, { timeout: 5000 }).toBe(2);
    const def = {
      type: "simple-video-processing-v1",
      jobInput: { type: "staging-batch-input-v1", batchId: "video-batch" },
      computeConfiguration: { type: "compute-configuration-v2", machineType: "gpu" },
      processingSpecification: { type: "workflows-processing-specification-v1", workspace: emu.workspace, workflowId: "video-wf", maxVideoFPS: 5 },
    };
    expect((await emu.call("POST", emu.jobs("video-job"), { json: def })).status).toBe(200);
    const job = await waitForJob(emu, "video-job");
    expect(job.error).toBe(false);
    const { files, stages } = await resultsOf("video-job");
    expect(stages[0].tasksNumber).toBe(2);
    expect(files).toHaveLength(2);
    const videos = new Set<string>();
    for (const f of files) {
      const frames = parseJsonl((await download(f.downloadURL)).toString("utf8"));
      expect(frames.length).toBeGreaterThanOrEqual(1);
      frames.forEach((fr, i) => {
        expect(fr.frame_number).toBe(i);
        expect(fr.frame_timestamp).toBeCloseTo(i / 5, 3);
        videos.add(fr.video_name);
      });
    }
    expect([...videos].sort()).toEqual(["clip-a.mp4", "clip-b.mp4"]);
  });

  it("refuses an image job on a batch of videos, naming the batch", async () => {
    const r = await emu.call("POST", emu.jobs("wrong-kind"), { json: imageJob(emu.workspace, "video-batch") });
    expect(r.status).toBe(400);
    expect(r.json.message).toContain('"video-batch"');
    expect(r.json.message).toContain("videos");
  });

  it("runs a TRT compilation job: one task per device, log-only success", async () => {
    const r = await emu.call("POST", `${emu.jobs("trt-job")}?name=compile%20it`, {
      json: { type: "trt-compilation-v1", modelId: "my-project/3", compilationDevices: ["nvidia-t4", "nvidia-l4"] },
    });
    expect(r.status).toBe(200);
    const job = await waitForJob(emu, "trt-job");
    expect(job).toMatchObject({ name: "compile it", error: false, plannedStages: ["compilation"] });
    const stages = await stagesOf(emu, "trt-job");
    expect(stages).toHaveLength(1);
    expect(stages[0]).toMatchObject({ processingStageName: "compilation", tasksNumber: 2, outputBatches: [], statusType: "success" });
    const logs = await allPages(emu, `${emu.jobs("trt-job")}/logs`, "logs");
    const compiled = logs.filter((l) => l.logType === "trt-compilation-completed").map((l) => l.payload.device);
    expect(compiled.sort()).toEqual(["nvidia-l4", "nvidia-t4"]);
  });
});

describe("listing", () => {
  it("lists jobs newest first, paginates with a required key that is null at the end", async () => {
    const all = await allPages(emu, emu.jobs(), "jobs", 2);
    const ids = all.map((j) => j.jobId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining(["forum-job", "csv-job", "twin-job", "video-job", "trt-job"]));
    expect(ids.indexOf("trt-job")).toBeLessThan(ids.indexOf("forum-job"));
    const one = await emu.call("GET", `${emu.jobs()}?pageSize=1`);
    expect(typeof one.json.nextPageToken).toBe("string");
    const last = await emu.call("GET", `${emu.jobs()}?pageSize=1000`);
    expect(last.json.nextPageToken).toBeNull();
    expect((await getJob(emu, "forum-job")).jobId).toBe("forum-job");
  });
});
