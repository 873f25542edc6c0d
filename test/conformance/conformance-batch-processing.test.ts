// Conformance with the official client: every `rf-cloud batch-processing` command (and the export of a
// finished job's results with `data-staging`), run unchanged as a child process against the emulator.
// A command passes only when it exits 0 with no Python exception and no field it cannot parse; what it
// asked for is then checked through the API (job definition, terminal state, output files).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEmulator, waitFor, type TestEmulator } from "../helpers/emulator.js";
import { imageFolder, mp4, startLoopbackServer, type LoopbackServer } from "../helpers/fixtures.js";
import { assertRealClientAvailable, expectClientOk, runClient } from "../helpers/real-client.js";
import { derivedInternalId } from "../../src/state/workspaces.js";

let emu: TestEmulator;
let root: string;
let sink: LoopbackServer;
let sinkUrl: string;

async function client(group: "batch-processing" | "data-staging", ...args: string[]) {
  return expectClientOk(await runClient(emu.url, [group, ...args, "--api-key", emu.apiKey, "--debug-mode"], { cwd: root }));
}
const bp = (...args: string[]) => client("batch-processing", ...args);
const ds = (...args: string[]) => client("data-staging", ...args);

async function job(jobId: string): Promise<any> {
  const r = await emu.call("GET", emu.jobs(jobId));
  return r.status === 200 ? r.json.job : undefined;
}
const terminal = (jobId: string, ms = 30_000) => waitFor(async () => ((await job(jobId))?.isTerminal ? job(jobId) : undefined), ms, `job ${jobId} to finish`);

beforeAll(async () => {
  assertRealClientAvailable();
  emu = await startTestEmulator();
  root = fs.mkdtempSync(path.join(os.tmpdir(), "rf-conf-bp-"));
  sink = await startLoopbackServer();
  sinkUrl = sink.url;
  await ds("create-batch-of-images", "--images-dir", imageFolder(root, "images", 5), "--batch-id", "bp-images");
  const videos = path.join(root, "videos");
  fs.mkdirSync(videos);
  for (let i = 0; i < 2; i++) fs.writeFileSync(path.join(videos, `v-${i}.mp4`), mp4(i));
  await ds("create-batch-of-videos", "--videos-dir", videos, "--batch-id", "bp-videos");
  // A multipart input (images part + metadata part) for --part-name / --images-metadata-part-name.
  await emu.controls.seed({
    batches: [
      {
        batchId: "bp-multipart",
        parts: [
          { name: "pics", contentType: "images" },
          { name: "meta", contentType: "metadata" },
        ],
        images: { count: 3, partName: "pics" },
        files: [{ name: "meta.jsonl", partName: "meta", text: '{"file":"image-0.png","camera":"a"}\n' }],
      },
    ],
  });
}, 120_000);

afterAll(async () => {
  await emu?.close();
  await sink?.close();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe("rf-cloud batch-processing against the emulator", () => {
  it("process-images-with-workflow with every option, then show-job-details, list-jobs and fetch-logs", async () => {
    const params = path.join(root, "params.json");
    fs.writeFileSync(params, JSON.stringify({ confidence: 0.4, classes: ["car"] }));
    const run = await bp(
      "process-images-with-workflow",
      "--batch-id",
      "bp-images",
      "--workflow-id",
      "wf-images",
      "--workflow-params",
      params,
      "--image-input-name",
      "picture",
      "--save-image-outputs",
      "--image-outputs-to-save",
      "crops",
      "--image-outputs-to-save",
      "overlay",
      "--machine-type",
      "gpu",
      "--workers-per-machine",
      "2",
      "--max-runtime-seconds",
      "900",
      "--max-parallel-tasks",
      "3",
      "--max-image-failure-rate",
      "0.25",
      "--aggregation-format",
      "csv",
      "--job-id",
      "conf-img-1",
      "--notifications-url",
      `${sinkUrl}/jobs`,
      "--inference-backend",
      "inference-models",
      "--job-name",
      "Conformance images",
      "--metadata-mapping",
      "camera=camera_id",
      "--metadata-mapping",
      "site=site_id",
    );
    expect(run.stdout).toContain("conf-img-1");
    const done = await terminal("conf-img-1");
    expect(done.error).toBe(false);
    expect(done.name).toBe("Conformance images");
    const def = done.jobDefinition;
    expect(def.type).toBe("simple-image-processing-v1");
    expect(def.computeConfiguration).toMatchObject({ machineType: "gpu", workersPerMachine: 2 });
    expect(def.processingSpecification).toMatchObject({
      workflowId: "wf-images",
      imageInputName: "picture",
      persistImagesOutputs: true,
      imagesOutputsToBePersisted: ["crops", "overlay"],
      aggregationFormat: "csv",
      workflowParameters: { confidence: 0.4, classes: ["car"] },
    });
    expect(def).toMatchObject({
      processingTimeoutSeconds: 900,
      maxParallelTasks: 3,
      maxImageFailureRate: 0.25,
      notificationsURL: `${sinkUrl}/jobs`,
      inferenceBackend: "inference-models",
    });
    await waitFor(() => sink.requests.some((h) => h.path === "/jobs" && h.body?.job_id === "conf-img-1"), 20_000, "the job webhook");
    const hook = sink.requests.find((h) => h.path === "/jobs" && h.body?.job_id === "conf-img-1")!;
    expect(hook.body).toMatchObject({ type: "roboflow-batch-job-notification-v1", job_state: "success" });
    expect(hook.headers.authorization).toBe(`Bearer rf_${derivedInternalId(emu.workspace)}`);

    const details = await bp("show-job-details", "--job-id", "conf-img-1");
    expect(details.stdout).toContain("Batch Job Overview");
    expect(details.stdout).toMatch(/Stage: .*processing/);
    const list = await bp("list-jobs", "--max-pages", "3");
    expect(list.stdout).toContain("conf-img-1");
    const logsFile = path.join(root, "logs.jsonl");
    await bp("fetch-logs", "--job-id", "conf-img-1", "--output-file", logsFile);
    expect(fs.readFileSync(logsFile, "utf8").trim().length).toBeGreaterThan(0);
    await bp("fetch-logs", "--job-id", "conf-img-1", "--log-severity", "info");
  });

  it("exports a finished job's results with data-staging commands (multipart output batches)", async () => {
    const stages = (await emu.call("GET", `${emu.jobs("conf-img-1")}/stages`)).json.stages as any[];
    const outputs = stages.flatMap((s) => s.outputBatches as string[]);
    expect(outputs.length).toBeGreaterThanOrEqual(1);
    for (const batch of outputs) {
      const details = await ds("show-batch-details", "--batch-id", batch);
      expect(details.stdout).toContain(batch);
      const target = path.join(root, `export-${batch}`);
      await ds("export-batch", "--batch-id", batch, "--target-dir", target);
      const exported = fs
        .readdirSync(target, { recursive: true })
        .map(String)
        .filter((f) => !path.basename(f).startsWith("."));
      expect(exported.length, `files exported from ${batch}`).toBeGreaterThan(0);
      const parts = (await emu.call("GET", `${emu.staging(batch)}/parts`)).json.batchParts as any[];
      for (const p of parts) {
        const out = path.join(root, `content-${batch}-${p.partName}.jsonl`);
        await ds("list-batch-content", "--batch-id", batch, "--part-name", p.partName, "--output-file", out);
        expect(fs.readFileSync(out, "utf8").trim().split("\n").length).toBeGreaterThan(0);
        await ds(
          "export-batch",
          "--batch-id",
          batch,
          "--part-name",
          p.partName,
          "--target-dir",
          path.join(root, `export-${batch}-${p.partName}`),
          "--override-existing",
        );
      }
    }
    // The processing results name every input image (CSV aggregation was asked for).
    const processing = stages.find((s) => s.processingStageId === "processing")?.outputBatches?.[0];
    const target = path.join(root, `export-${processing}`);
    const text = fs
      .readdirSync(target, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith(".csv"))
      .map((f) => fs.readFileSync(path.join(target, f), "utf8"))
      .join("\n");
    for (let i = 0; i < 5; i++) expect(text).toContain(`img-00${i}.png`);
  });

  it("process-images-with-workflow on a multipart batch part with a metadata part, and with the deprecated --machine-size", async () => {
    await bp(
      "process-images-with-workflow",
      "--batch-id",
      "bp-multipart",
      "--workflow-id",
      "wf-parts",
      "--part-name",
      "pics",
      "--images-metadata-part-name",
      "meta",
      "--job-id",
      "conf-img-parts",
      "--aggregation-format",
      "jsonl",
      "--no-save-image-outputs",
    );
    const parts = await terminal("conf-img-parts");
    expect(parts.jobDefinition.jobInput).toMatchObject({ batchId: "bp-multipart", partName: "pics", imagesMetadataPart: "meta" });
    expect(parts.error).toBe(false);
    const run = await bp("process-images-with-workflow", "--batch-id", "bp-images", "--workflow-id", "wf-size", "--machine-size", "s");
    const jobId = /Triggered job with ID: (\S+)/.exec(run.stdout)?.[1];
    expect(jobId, run.stdout).toBeTruthy();
    expect((await terminal(jobId!)).error).toBe(false);
  });

  it("process-videos-with-workflow with every option", async () => {
    const params = path.join(root, "vparams.json");
    fs.writeFileSync(params, JSON.stringify({ threshold: 0.5 }));
    await bp(
      "process-videos-with-workflow",
      "--batch-id",
      "bp-videos",
      "--workflow-id",
      "wf-videos",
      "--workflow-params",
      params,
      "--image-input-name",
      "frame",
      "--save-image-outputs",
      "--image-outputs-to-save",
      "annotated",
      "--machine-type",
      "cpu",
      "--workers-per-machine",
      "1",
      "--max-runtime-seconds",
      "1200",
      "--max-parallel-tasks",
      "2",
      "--aggregation-format",
      "jsonl",
      "--max-video-fps",
      "5",
      "--job-id",
      "conf-vid-1",
      "--notifications-url",
      `${sinkUrl}/videos`,
      "--inference-backend",
      "old-inference",
      "--job-name",
      "Conformance videos",
    );
    const done = await terminal("conf-vid-1");
    expect(done.error).toBe(false);
    expect(done.jobDefinition).toMatchObject({ type: "simple-video-processing-v1", processingSpecification: { maxVideoFPS: 5, workflowId: "wf-videos" } });
    await bp("show-job-details", "--job-id", "conf-vid-1");
  });

  it("trt-compile", async () => {
    await bp(
      "trt-compile",
      "--model-id",
      "my-project/3",
      "--device",
      "nvidia-l4",
      "--device",
      "nvidia-t4",
      "--job-id",
      "conf-trt-1",
      "--job-name",
      "TRT",
      "--notifications-url",
      `${sinkUrl}/trt`,
    );
    const done = await terminal("conf-trt-1");
    expect(done.jobDefinition).toMatchObject({ type: "trt-compilation-v1", modelId: "my-project/3" });
    // The client de-duplicates devices through a Python set: the order it sends is not defined.
    expect([...done.jobDefinition.compilationDevices].sort()).toEqual(["nvidia-l4", "nvidia-t4"]);
    await bp("show-job-details", "--job-id", "conf-trt-1");
  });

  it("abort-job on a running job (manual clock holds it running)", async () => {
    await emu.controls.clock.set("manual");
    try {
      await bp("process-images-with-workflow", "--batch-id", "bp-images", "--workflow-id", "wf-abort", "--job-id", "conf-abort");
      const running = await job("conf-abort");
      expect(running.isTerminal).toBe(false);
      await bp("show-job-details", "--job-id", "conf-abort");
      await bp("abort-job", "--job-id", "conf-abort");
    } finally {
      await emu.controls.clock.set("max");
    }
    const done = await terminal("conf-abort");
    expect(done.isTerminal).toBe(true);
  });

  it("restart-job with every override, after a failed stage", async () => {
    await emu.controls.faults.add({ id: "conf-fail-once", match: { jobId: "conf-restart", stage: "processing" }, action: { type: "fail-stage" }, times: 1 });
    await bp("process-images-with-workflow", "--batch-id", "bp-images", "--workflow-id", "wf-restart", "--job-id", "conf-restart");
    const failed = await terminal("conf-restart");
    expect(failed.error).toBe(true);
    await bp("show-job-details", "--job-id", "conf-restart");
    await bp(
      "restart-job",
      "--job-id",
      "conf-restart",
      "--machine-type",
      "cpu",
      "--workers-per-machine",
      "1",
      "--max-runtime-seconds",
      "300",
      "--max-parallel-tasks",
      "2",
      "--max-image-failure-rate",
      "0.5",
    );
    const again = await waitFor(
      async () => {
        const j = await job("conf-restart");
        return j?.isTerminal && !j.error ? j : undefined;
      },
      30_000,
      "the restarted job to succeed",
    );
    expect(again.restartParametersOverride.length).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(again.restartParametersOverride)).toContain("parameters-override-v1");
    await bp("fetch-logs", "--job-id", "conf-restart", "--log-severity", "error");
  });

  it("list-jobs across several pages lists every job", async () => {
    const run = await bp("list-jobs", "--max-pages", "20");
    for (const id of ["conf-img-1", "conf-img-parts", "conf-vid-1", "conf-trt-1", "conf-abort", "conf-restart"]) expect(run.stdout).toContain(id);
  });
});
