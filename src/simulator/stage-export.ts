// The export stage of Workflow jobs: the processing stage's results files bundled, 64 per task,
// into .tar.gz archives of the stage's output batch. One archive is written per step.
import { getFileByName } from "../state/batches.js";
import { getStage, type StageRow } from "../state/jobs.js";
import { DELAYS, RESULTS_PER_ARCHIVE, archiveFileName, outputBatchId, resultFileName, stepDelay } from "./job-plan.js";
import {
  commitTaskOutput,
  isCurrent,
  nextTaskOf,
  oneStepPerTask,
  shouldFailTask,
  startTask,
  STAGE_DONE,
  type JobContext,
  type StageKind,
  type StepEnv,
  type StepResult,
  type TaskPlan,
} from "./job-steps.js";
import { ARCHIVES_PART, RESULTS_PART, tarGz, type ArchiveEntry } from "./outputs.js";

/** Tasks over processing task indexes: results files i..j go into one archive. */
function plan(env: StepEnv, ctx: JobContext): TaskPlan[] {
  const processing = getStage(env.emu.db, ctx.ws, ctx.jobId, "processing");
  const n = processing?.tasks_number ?? 0;
  const out: TaskPlan[] = [];
  for (let first = 0; first < n; first += RESULTS_PER_ARCHIVE) {
    const last = Math.min(n, first + RESULTS_PER_ARCHIVE) - 1;
    out.push({ from: first, to: last, items: last - first + 1 });
  }
  return out;
}

async function step(env: StepEnv, ctx: JobContext, stage: StageRow): Promise<StepResult> {
  const { emu } = env;
  const next = nextTaskOf(emu, ctx, stage);
  if (!next) return STAGE_DONE;
  const task = startTask(env, ctx, next);
  const format = ctx.params.aggregationFormat;
  const processingBatch = outputBatchId(ctx.jobId, "processing");
  const entries: ArchiveEntry[] = [];
  for (let i = task.range_from; i <= task.range_to; i++) {
    const f = getFileByName(emu.db, ctx.ws, processingBatch, RESULTS_PART.partName, resultFileName(i, format));
    if (f) entries.push({ name: f.file_name, size: f.size, open: () => emu.blobs.openRead(f.blob) });
  }
  // The archive's temp file belongs to this step alone: it is committed or discarded right here.
  // While it is written the job may be reset (its inputs then vanish and the write fails, or not):
  // the engine tells that from the job's failure by the step's run.
  const { tmp, size, sha256 } = await emu.blobs.receive(tarGz(entries), Number.MAX_SAFE_INTEGER);
  const delay = stepDelay(ctx.script, stage.stage_name, oneStepPerTask(ctx, stage.tasks_number), DELAYS.exportTaskMs);
  if (!isCurrent(emu, ctx)) {
    emu.blobs.discard(tmp);
    return 0;
  }
  if (shouldFailTask(env, ctx, stage.stage_name, task)) {
    emu.blobs.discard(tmp);
    return delay;
  }
  const committed = commitTaskOutput(
    emu,
    ctx,
    stage,
    task,
    tmp,
    {
      batchId: outputBatchId(ctx.jobId, "export"),
      partName: ARCHIVES_PART.partName,
      fileName: archiveFileName(task.task_index),
      contentType: "archive",
      nestedContentType: "metadata",
      size,
      sha256,
      mediaType: "application/gzip",
    },
    { type: "task-completed", message: `Archived ${entries.length} result file(s) into ${archiveFileName(task.task_index)}` },
  );
  return committed ? delay : 0;
}

export const exportStage: StageKind = {
  outputs: (ctx) => [{ batchId: outputBatchId(ctx.jobId, "export"), contentType: "archives", part: ARCHIVES_PART }],
  plan,
  expectedSteps: oneStepPerTask,
  step,
};
