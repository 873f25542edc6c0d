// The processing stage of Workflow jobs: input files cut into tasks (256 images or one video each),
// each task run slice by slice, one result record per image or video frame appended to the task's
// partial file, which becomes one results file of the stage's output batch when the task ends.
import crypto from "node:crypto";
import { filesAfter, filesInSeqRange, nthFileSeqAfter } from "../state/batches.js";
import { advisoryWrite } from "../state/db.js";
import { getStage, tasksInState, updateJob, updateTask, type StageRow, type TaskRow } from "../state/jobs.js";
import { inspectImage, inspectVideo, predictionsFor, readFileBytes, videoFrameSize } from "./job-media.js";
import {
  DELAYS,
  IMAGES_PER_STEP,
  IMAGES_PER_TASK,
  VIDEOS_PER_TASK,
  framesFor,
  machineMsFor,
  outputBatchId,
  resultFileName,
  stepDelay,
  taskBudgetMs,
  tooManyFailures,
} from "./job-plan.js";
import {
  commitTaskOutput,
  failStage,
  failTask,
  isCurrent,
  json,
  logJob,
  shouldFailTask,
  startTask,
  STAGE_DONE,
  workflowContext,
  type JobContext,
  type StageKind,
  type StepEnv,
  type StepResult,
  type TaskPlan,
  type WorkflowContext,
} from "./job-steps.js";
import { RESULTS_PART, countRecords, csvHeader, csvLine, jsonlLine, type FrameResult, type ImageResult } from "./outputs.js";

/** Per-image failure logs written per task; further failures are only counted in the task's summary. */
const MAX_FAILURE_LOGS_PER_TASK = 50;
/** A task whose partial results keep getting lost is failed at this attempt instead of re-run again. */
const MAX_ATTEMPTS_AFTER_LOSS = 5;

function expectedSteps(ctx: JobContext, tasks: number): number {
  return ctx.kind === "image" ? Math.ceil(ctx.job.input_count / IMAGES_PER_STEP) + tasks + 1 : tasks + 1;
}

/** Task boundaries by index seeks (one row per task), never the whole listing in memory. */
function plan(env: StepEnv, job: JobContext): TaskPlan[] {
  const ctx = workflowContext(job);
  const { batchId, partName } = ctx.def.jobInput;
  const per = ctx.kind === "video" ? VIDEOS_PER_TASK : IMAGES_PER_TASK;
  const part = partName ?? "";
  const out: TaskPlan[] = [];
  let after = 0;
  for (;;) {
    const last = nthFileSeqAfter(env.emu.db, ctx.ws, batchId, part, after, per - 1);
    if (last === undefined) {
      const rest = filesAfter(env.emu.db, ctx.ws, batchId, part, after);
      if (rest.count > 0 && rest.lastSeq !== null) out.push({ from: after, to: rest.lastSeq, items: rest.count });
      return out;
    }
    out.push({ from: after, to: last, items: per });
    after = last;
  }
}

function step(env: StepEnv, job: JobContext, stage: StageRow): StepResult | Promise<StepResult> {
  const ctx = workflowContext(job);
  const { db } = env.emu;
  let running = tasksInState(db, ctx.ws, ctx.jobId, stage.stage_id, "running");
  if (running.length < ctx.params.maxParallelTasks) {
    for (const t of tasksInState(db, ctx.ws, ctx.jobId, stage.stage_id, "pending", ctx.params.maxParallelTasks - running.length)) {
      running.push(startTask(env, ctx, t));
    }
  }
  if (!running.length) return STAGE_DONE;
  // Round robin: the task that progressed least recently goes next, so parallel tasks advance together.
  running = running.sort((a, b) => a.event_at - b.event_at || a.task_index - b.task_index);
  return processSlice(env, ctx, stage, running[0]);
}

async function processSlice(env: StepEnv, ctx: WorkflowContext, stage: StageRow, task: TaskRow): Promise<StepResult> {
  const { emu, partials } = env;
  const { db, clock } = emu;
  const input = ctx.def.jobInput;
  const workflowId = ctx.def.processingSpecification.workflowId;
  const format = ctx.params.aggregationFormat;
  let tmp = partials.get(ctx.run, task.seq);
  if (tmp === undefined) {
    // Records of the slices already handled are not on disk: never go on without them.
    if (task.cursor !== task.range_from) return rerunTask(env, ctx, stage, task, "its partial results file is gone");
    tmp = partials.open(ctx.run, task.seq);
    if (format === "csv") partials.append(tmp, csvHeader(ctx.kind));
  }
  const files = filesInSeqRange(db, ctx.ws, input.batchId, input.partName ?? "", task.cursor, task.range_to, ctx.kind === "video" ? 1 : IMAGES_PER_STEP);
  const lines: string[] = [];
  const failures: { fileName: string; reason: string; message: string }[] = [];
  let items = 0;
  const emit = (r: ImageResult | FrameResult) => lines.push(format === "csv" ? csvLine(r, ctx.kind) : jsonlLine(r));
  for (const f of files) {
    const bytes = readFileBytes(emu.blobs.path(f.blob), env.scratch);
    if (ctx.kind === "image") {
      const info = "ok" in bytes ? bytes : inspectImage(bytes);
      items++;
      if (info.ok) {
        emit({
          image_name: f.file_name,
          image_sha256: f.sha256,
          workflow_id: workflowId,
          width: info.width,
          height: info.height,
          predictions: predictionsFor(f.sha256, info.width, info.height),
        });
      } else {
        failures.push({ fileName: f.file_name, reason: info.reason, message: info.message });
        emit({ image_name: f.file_name, image_sha256: f.sha256, workflow_id: workflowId, error: { type: info.reason, message: info.message } });
      }
    } else {
      const info = "ok" in bytes ? bytes : inspectVideo(bytes);
      if (info.ok) {
        const fps = ctx.params.maxVideoFps;
        const frames = framesFor(info.durationSeconds, fps);
        const { width, height } = videoFrameSize(f.sha256);
        for (let i = 0; i < frames; i++) {
          emit({
            video_name: f.file_name,
            video_sha256: f.sha256,
            workflow_id: workflowId,
            frame_number: i,
            frame_timestamp: Number((i / fps).toFixed(3)),
            width,
            height,
            predictions: predictionsFor(f.sha256, width, height, i),
          });
        }
        items += frames;
      } else {
        items++;
        failures.push({ fileName: f.file_name, reason: info.reason === "corrupted-image" ? "corrupted-video" : info.reason, message: info.message });
        emit({ video_name: f.file_name, video_sha256: f.sha256, workflow_id: workflowId, error: { type: info.reason, message: info.message } });
      }
    }
  }
  if (lines.length) partials.append(tmp, lines.join(""));

  const now = clock.now();
  const done = files.length === 0 || files[files.length - 1].seq >= task.range_to || (ctx.kind === "image" && files.length < IMAGES_PER_STEP);
  const updated: TaskRow = {
    ...task,
    cursor: files.length ? files[files.length - 1].seq : task.range_to,
    items_done: task.items_done + files.length,
    items_failed: task.items_failed + failures.length,
    machine_ms: task.machine_ms + machineMsFor(items, ctx.params),
    progress: done ? 1 : Math.min(0.99, (task.items_done + files.length) / Math.max(1, task.items_total)),
    event_at: now,
  };
  // Progress is advisory (a crash rewinds running tasks anyway): written without waiting for the disk.
  advisoryWrite(db, () => {
    updateTask(db, task, {
      cursor: updated.cursor,
      items_done: updated.items_done,
      items_failed: updated.items_failed,
      machine_ms: updated.machine_ms,
      progress: done ? Math.min(0.99, updated.progress ?? 0) : updated.progress,
      event_at: now,
      notification: json({ type: "task-progress", processed: updated.items_done, failed: updated.items_failed, total: task.items_total }),
    });
    let logged = task.items_failed;
    for (const f of failures) {
      if (logged++ >= MAX_FAILURE_LOGS_PER_TASK) break;
      logJob(
        emu,
        ctx,
        "warning",
        "workflow-worker",
        ctx.kind === "video" ? "video-processing-error" : "image-processing-error",
        f,
        stage.stage_id,
        task.task_id,
      );
    }
  });

  const budget = taskBudgetMs(ctx.params, stage.tasks_number);
  if (updated.machine_ms > budget) return timeoutJob(env, ctx, stage, updated, budget);
  if (done) await completeTask(env, ctx, stage, updated, tmp);
  return stepDelay(ctx.script, stage.stage_name, expectedSteps(ctx, stage.tasks_number), DELAYS.processingStepMs);
}

async function completeTask(env: StepEnv, ctx: WorkflowContext, stage: StageRow, task: TaskRow, tmp: string): Promise<void> {
  const { emu, partials } = env;
  const tooMany = ctx.kind === "image" && tooManyFailures(task.items_failed, task.items_done, ctx.params.maxImageFailureRate);
  if (tooMany) {
    const rate = ctx.params.maxImageFailureRate;
    failTask(
      env,
      ctx,
      stage,
      task,
      "too-many-failed-images",
      `${task.items_failed} of ${task.items_done} images could not be processed, more than allowed (${rate === null ? "10 images per task by default" : `maxImageFailureRate=${rate}`}); restart with a higher --max-image-failure-rate to keep partial results`,
    );
    return;
  }
  if (shouldFailTask(env, ctx, stage.stage_name, task)) return;
  const format = ctx.params.aggregationFormat;
  const bytes = partials.read(tmp);
  // Every input handled gives at least one record (one per image, one or more per video).
  const records = bytes ? countRecords(bytes, format) : 0;
  if (!bytes || records < task.items_done) {
    rerunTask(env, ctx, stage, task, `its results file holds ${records} record(s) for ${task.items_done} input file(s)`);
    return;
  }
  await emu.blobs.syncTemp(tmp);
  // The job may have been aborted or reset during the fsync (its file then went with it).
  if (!isCurrent(emu, ctx)) return partials.discard(ctx.run, task.seq, tmp);
  commitTaskOutput(
    emu,
    ctx,
    stage,
    task,
    tmp,
    {
      batchId: outputBatchId(ctx.jobId, "processing"),
      partName: RESULTS_PART.partName,
      fileName: resultFileName(task.task_index, format),
      contentType: "metadata",
      nestedContentType: null,
      size: bytes.length,
      sha256: crypto.createHash("sha256").update(bytes).digest("hex"),
      mediaType: format === "csv" ? "text/csv" : "application/x-ndjson",
    },
    {
      type: "task-completed",
      message: `Processed ${task.items_done} file(s), ${task.items_failed} failed`,
      processed: task.items_done,
      failed: task.items_failed,
    },
    (now) => {
      updateJob(emu.db, ctx.ws, ctx.jobId, { machine_ms: ctx.job.machine_ms + task.machine_ms }, now);
      ctx.job.machine_ms += task.machine_ms;
      if (task.items_failed > 0) {
        logJob(
          emu,
          ctx,
          "warning",
          "workflow-worker",
          "task-completed-with-failures",
          { taskId: task.task_id, processed: task.items_done, failed: task.items_failed },
          stage.stage_id,
          task.task_id,
        );
      }
    },
  );
  partials.committed(ctx.run, task.seq, tmp);
}

/** Partial results that lost records are never committed: the task runs again from its first input. */
function rerunTask(env: StepEnv, ctx: WorkflowContext, stage: StageRow, task: TaskRow, why: string): StepResult {
  const message = `Task ${task.task_id} lost part of its results (${why})`;
  if (task.attempts >= MAX_ATTEMPTS_AFTER_LOSS) {
    failTask(env, ctx, stage, task, "partial-results-lost", `${message}; failed after ${task.attempts} attempts. Restart the job to run it again.`);
  } else {
    logJob(
      env.emu,
      ctx,
      "warning",
      "workflow-worker",
      "task-rerun",
      { taskId: task.task_id, reason: "partial-results-lost", message: `${message}; running it again` },
      stage.stage_id,
      task.task_id,
    );
    startTask(env, ctx, task);
  }
  return stepDelay(ctx.script, stage.stage_name, expectedSteps(ctx, stage.tasks_number), DELAYS.processingStepMs);
}

function timeoutJob(env: StepEnv, ctx: WorkflowContext, stage: StageRow, task: TaskRow, budgetMs: number): null {
  const seconds = (ms: number) => Math.round(ms / 100) / 10;
  const message =
    `Processing timeout: task ${task.task_id} needed more than its ${seconds(budgetMs)} s share of processingTimeoutSeconds=${ctx.params.timeoutSeconds} ` +
    `(the limit is total machine time, split evenly across ${stage.tasks_number} task(s); ${ctx.params.machineType} machines with ${ctx.params.workersPerMachine} worker(s)). ` +
    `Restart the job with a larger --max-runtime-seconds${ctx.params.machineType === "cpu" ? ", or use gpu machines" : ""}.`;
  failTask(env, ctx, stage, task, "processing-timeout", message);
  return failStage(env, ctx, getStage(env.emu.db, ctx.ws, ctx.jobId, stage.stage_id)!, { type: "stage-failed", reason: "processing-timeout", message });
}

export const processingStage: StageKind = {
  outputs: (ctx) => [{ batchId: outputBatchId(ctx.jobId, "processing"), contentType: "metadata", part: RESULTS_PART }],
  plan,
  expectedSteps,
  step,
};
