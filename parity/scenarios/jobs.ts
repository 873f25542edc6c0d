// Batch Processing flows of the integration guide (seed 002) and the real client (real-client.md B1-B8):
// a job per result format, its stages, tasks, logs and output batches; abort and restart.
import type { Res } from "../http.js";
import { ScenarioStopped, type Scenario, type ScenarioContext } from "../runner.js";
import { countReaches, uploadImage } from "./staging.js";

/** The guide's start-job body ("Job kick off"), with the result format chosen. */
export function jobDefinition(ctx: ScenarioContext, batchId: string, format: "jsonl" | "csv") {
  return {
    type: "simple-image-processing-v1",
    jobInput: { type: "staging-batch-input-v1", batchId },
    computeConfiguration: { type: "compute-configuration-v2", machineType: "cpu", workersPerMachine: 4 },
    processingTimeoutSeconds: 3600,
    processingSpecification: {
      type: "workflows-processing-specification-v1",
      workspace: ctx.opts.target.workspace,
      workflowId: ctx.opts.workflowId,
      aggregationFormat: format,
    },
  };
}

/** Fields of a job that depend on when it was read (which stage was running, the last notification's text). */
const JOB_TIMING = ["body.job.currentStage", "body.job.lastNotification"];

async function inputBatch(ctx: ScenarioContext, suffix: string): Promise<string> {
  const batch = ctx.id(suffix);
  await uploadImage(ctx, "upload input image 1", batch, "in-1.png", 31);
  await uploadImage(ctx, "upload input image 2", batch, "in-2.png", 32);
  await countReaches(ctx, "input count", batch, 2);
  return batch;
}

const terminal = (r: Res) => r.status === 200 && r.json?.job?.isTerminal === true;

function stageOutput(stages: Res, id: string, index: number): string {
  const list: any[] = stages.json?.stages ?? [];
  const stage = list.find((s) => s.processingStageId === id) ?? list.at(index);
  const batch = stage?.outputBatches?.[0];
  if (typeof batch !== "string") throw new ScenarioStopped(`no output batch for stage ${id}`);
  return batch;
}

/** Parts, count, list and one download of a job's output batch. */
async function readOutput(ctx: ScenarioContext, label: string, batch: string) {
  await ctx.step(`${label} batch metadata`, { method: "GET", path: ctx.staging(batch) });
  const parts = await ctx.step(`${label} batch parts`, { method: "GET", path: ctx.staging(batch, "/parts") }, { expect: [200] });
  const partName = parts.json?.batchParts?.[0]?.partName;
  if (typeof partName !== "string") throw new ScenarioStopped(`the ${label} batch lists no part`);
  await ctx.step(`${label} count (partName)`, { method: "GET", path: ctx.staging(batch, "/count"), query: { partName } });
  const list = await ctx.step(`${label} list (partName)`, { method: "GET", path: ctx.staging(batch, "/list"), query: { partName } }, { expect: [200] });
  const file = list.json?.filesMetadata?.[0];
  if (typeof file?.downloadURL !== "string") throw new ScenarioStopped(`the ${label} batch lists no file`);
  await ctx.step(`download ${label} file`, { method: "GET", path: file.downloadURL }, { fileName: file.fileName });
}

function jobScenario(format: "jsonl" | "csv"): Scenario {
  return {
    name: `job-${format}`,
    title: `Image job with aggregationFormat ${format}: start (and the same start again), poll to the end, job list, stages, tasks walked with pageSize=1, logs, both output batches and their files (guide: job kick off, status, export; client B1-B5, B8, D4, D5, D14)`,
    async run(ctx) {
      const batch = await inputBatch(ctx, `in-${format}`);
      const job = ctx.id(format);
      const body = jobDefinition(ctx, batch, format);
      await ctx.step("start job", { method: "POST", path: ctx.jobs(job), json: body }, { expect: [200] });
      await ctx.step("start the same job again (identical request)", { method: "POST", path: ctx.jobs(job), json: body });
      const other = { ...body, processingTimeoutSeconds: 1800 };
      await ctx.step("the same job id with another definition", { method: "POST", path: ctx.jobs(job), json: other });
      await ctx.poll("job until terminal", { method: "GET", path: ctx.jobs(job) }, terminal, { expect: [200] });
      // The newest job of the workspace need not be ours: values typed, definition opaque.
      await ctx.step(
        "list jobs pageSize=1",
        { method: "GET", path: ctx.jobs(), query: { pageSize: 1 } },
        {
          loose: ["body.jobs[]"],
          opaque: ["body.jobs[].jobDefinition", "body.jobs[].lastNotification", "body.jobs[].restartParametersOverride"],
          ignore: ["body.nextPageToken", "body.jobs[].currentStage"],
        },
      );
      const stages = await ctx.step("stages", { method: "GET", path: ctx.jobs(job, "/stages") }, { expect: [200] });
      const stageId = stages.json?.stages?.[0]?.processingStageId ?? "processing";
      await ctx.walk("processing tasks pageSize=1", { method: "GET", path: ctx.jobs(job, `/stages/${stageId}/tasks`), query: { pageSize: 1 } });
      await ctx.step("logs", { method: "GET", path: ctx.jobs(job, "/logs") });
      await ctx.walk("logs pageSize=1", { method: "GET", path: ctx.jobs(job, "/logs"), query: { pageSize: 1 } }, { maxPages: 3 });
      await ctx.step("logs severity=error", { method: "GET", path: ctx.jobs(job, "/logs"), query: { severity: "error" } });
      await readOutput(ctx, "processing", stageOutput(stages, "processing", 0));
      await readOutput(ctx, "export", stageOutput(stages, "export", -1));
    },
  };
}

export const jobJsonl = jobScenario("jsonl");
export const jobCsv = jobScenario("csv");

export const jobAbortRestart: Scenario = {
  name: "job-abort-restart",
  title:
    "Abort a job right after it starts, abort it again, restart with parameters-override-v1, run to the end, restart a succeeded job (client B2, B4, B6, B7, B8)",
  async run(ctx) {
    const batch = await inputBatch(ctx, "in-abort");
    const job = ctx.id("abort");
    await ctx.step("start job", { method: "POST", path: ctx.jobs(job), json: jobDefinition(ctx, batch, "jsonl") }, { expect: [200] });
    await ctx.step("abort", { method: "POST", path: ctx.jobs(job, "/abort") }, { expect: [200] });
    await ctx.poll("job after abort", { method: "GET", path: ctx.jobs(job) }, terminal, { ignore: JOB_TIMING });
    await ctx.step("abort a finished job", { method: "POST", path: ctx.jobs(job, "/abort") });
    const override = { type: "parameters-override-v1", processingTimeoutSeconds: 7200 };
    await ctx.step("restart with parameters-override-v1", { method: "POST", path: ctx.jobs(job, "/restart"), json: override }, { expect: [200] });
    const restarted = (r: Res) => terminal(r) && (r.json.job.restartParametersOverride ?? []).length > 0;
    await ctx.poll("job after restart", { method: "GET", path: ctx.jobs(job) }, restarted, { ignore: JOB_TIMING });
    await ctx.step("stages after restart", { method: "GET", path: ctx.jobs(job, "/stages") });
    await ctx.step("logs after restart", { method: "GET", path: ctx.jobs(job, "/logs") });
    await ctx.step("restart a succeeded job", { method: "POST", path: ctx.jobs(job, "/restart") });
  },
};
