// The job simulator. Every job advances in small steps, each one a timer on the emulator clock:
// start a stage, process one slice of a task's input, commit a finished task, build one export
// archive, finish a stage. A step reads the job from the store, does a bounded amount of work and
// commits it, so requests stay fast while a 100k-image job runs, manual clock mode can walk a job
// step by step, and a killed emulator resumes every job from its last committed task.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Core, Emulator, Worker } from "../context.js";
import { JobDefinition, type JobDefinitionJson, type RestartOverrideJson, type TrtJobDefinition } from "../contract/jobs.js";
import { JobIdParam } from "../contract/common.js";
import { badRequest, conflict, notFound, validationError } from "../errors.js";
import { advisoryWrite } from "../state/db.js";
import { countFiles, deleteBatchRows, filesAfter, filesInSeqRange, nthFileSeqAfter, getBatch, getFileByName, listParts } from "../state/batches.js";
import {
  activeJobs, countTasks, deleteJob, rewindTasks, getJob, getStage, insertJob, insertLog, insertStage, insertTask, jobKeys, listStages,
  tasksInState, updateJob, updateStage, updateTask, updateTasksWhere, type JobPatch, type JobRow, type Severity, type StageRow, type TaskRow,
} from "../state/jobs.js";
import { HEAD_BYTES, inspectImage, inspectVideo, predictionsFor, readFileBytes, videoFrameSize } from "./job-media.js";
import {
  DELAYS, IMAGES_PER_STEP, IMAGES_PER_TASK, RESULTS_PER_ARCHIVE, VIDEOS_PER_TASK, archiveFileName, canonicalJson, effectiveParams,
  framesFor, jobKind, machineMsFor, outputBatchId, plannedStages, resultFileName, stepDelay, taskBudgetMs, tooManyFailures, withoutNulls,
  type EffectiveParams, type JobKind, type JobScript,
} from "./job-plan.js";
import {
  ARCHIVES_PART, RESULTS_PART, csvHeader, csvLine, ensureOutputBatch, jsonlLine, recordOutputFile, writeTarGz, type FrameResult, type ImageResult,
} from "./outputs.js";

export const JOB_NOTIFICATION_TYPE = "roboflow-batch-job-notification-v1";
/** Per-image failure logs written per task; further failures are only counted in the task's summary. */
const MAX_FAILURE_LOGS_PER_TASK = 50;

interface JobContext {
  job: JobRow;
  ws: string;
  jobId: string;
  def: JobDefinitionJson;
  kind: JobKind;
  params: EffectiveParams;
  script: JobScript | null;
  stages: string[];
}

function contextOf(job: JobRow): JobContext {
  const def = JSON.parse(job.definition) as JobDefinitionJson;
  return {
    job,
    ws: job.workspace_id,
    jobId: job.job_id,
    def,
    kind: jobKind(job.job_type),
    params: effectiveParams(def, JSON.parse(job.overrides)),
    script: job.script ? (JSON.parse(job.script) as JobScript) : null,
    stages: JSON.parse(job.planned_stages),
  };
}

const json = (v: unknown) => JSON.stringify(v);
const keyOf = (ws: string, jobId: string) => `${ws}\u0000${jobId}`;
const taskIdOf = (stage: string, index: number) => `${stage}-${String(index).padStart(5, "0")}`;

export class JobEngine implements Worker {
  readonly name = "jobs";
  private readonly timers = new Map<string, number>();
  private readonly busy = new Set<string>();
  private running = false;
  /** Reused read buffer for input file headers (one step runs at a time). */
  private readonly scratch = Buffer.alloc(HEAD_BYTES);

  constructor(private readonly emu: Core) {}

  /** Resumes every unfinished job from the store (after a start, a crash or a reset). */
  start(): void {
    this.running = true;
    for (const { workspace_id, job_id } of activeJobs(this.emu.db)) {
      this.recover(workspace_id, job_id);
      this.schedule(workspace_id, job_id, 0);
    }
  }

  stop(): void {
    this.running = false;
    for (const id of this.timers.values()) this.emu.clock.clearTimeout(id);
    this.timers.clear();
  }

  reload(): void {
    this.stop();
    this.start();
  }

  /** Runs the job's next step after `delayMs` of emulated time (replacing any step already planned). */
  schedule(ws: string, jobId: string, delayMs: number): void {
    if (!this.running) return;
    const key = keyOf(ws, jobId);
    const old = this.timers.get(key);
    if (old !== undefined) this.emu.clock.clearTimeout(old);
    this.timers.set(key, this.emu.clock.setTimeout(() => void this.run(key, ws, jobId), delayMs));
  }

  cancel(ws: string, jobId: string): void {
    const key = keyOf(ws, jobId);
    const id = this.timers.get(key);
    if (id !== undefined) this.emu.clock.clearTimeout(id);
    this.timers.delete(key);
    this.removeTemps(ws, jobId);
  }

  /** True while any job has a step planned or running (tests and benchmarks wait on this). */
  idle(): boolean {
    return this.timers.size === 0 && this.busy.size === 0;
  }

  private async run(key: string, ws: string, jobId: string): Promise<void> {
    this.timers.delete(key);
    // A step already in flight (an export archive being written) plans the next one itself.
    if (!this.running || this.busy.has(key)) return;
    this.busy.add(key);
    let next: number | null = null;
    try {
      next = await this.step(ws, jobId);
    } catch (err) {
      // Stopped under a running step (close or reset): the step's transaction never committed and
      // the job resumes from the store next time; this is not the job's failure.
      if (!this.running) return;
      console.error(`[jobs] step of job ${jobId} failed:`, err);
      next = this.failOnInternalError(ws, jobId, err);
    } finally {
      this.busy.delete(key);
    }
    if (next !== null && this.running && !this.timers.has(key)) this.schedule(ws, jobId, next);
  }

  /** One step of a job; returns the delay before the next step, or null when the job needs no more steps. */
  private async step(ws: string, jobId: string): Promise<number | null> {
    const job = getJob(this.emu.db, ws, jobId);
    if (!job || job.is_terminal) return null;
    const ctx = contextOf(job);
    if (job.state === "queued" || !job.current_stage) return this.beginStage(ctx, ctx.stages[0]);
    const stage = getStage(this.emu.db, ws, jobId, job.current_stage);
    if (!stage) return this.beginStage(ctx, job.current_stage);
    if (stage.stage_name === "processing") return this.processingStep(ctx, stage);
    if (stage.stage_name === "export") return this.exportStep(ctx, stage);
    return this.compilationStep(ctx, stage);
  }

  // ---- stages ----------------------------------------------------------------------------------

  private beginStage(ctx: JobContext, stageName: string): number | null {
    const { db, clock } = this.emu;
    const now = clock.now();
    const plan = this.planTasks(ctx, stageName);
    if (plan.length === 0) {
      return this.failJob(ctx, stageName, {
        type: "job-failed",
        reason: "no-input",
        message: `Stage ${stageName} found nothing to process: the input batch "${(ctx.def as any).jobInput?.batchId}" has no files any more`,
      });
    }
    const outputs = this.outputBatchesOf(ctx, stageName);
    const injected = this.emu.faults.stageShouldFail(ctx.ws, ctx.jobId, stageName);
    db.transaction(() => {
      if (getStage(db, ctx.ws, ctx.jobId, stageName)) return;
      for (const o of outputs) ensureOutputBatch(db, ctx.ws, o.batchId, o.batchId, o.contentType, [o.part], now);
      insertStage(db, {
        workspace_id: ctx.ws,
        job_id: ctx.jobId,
        stage_id: stageName,
        stage_name: stageName,
        ordinal: ctx.stages.indexOf(stageName),
        tasks_number: plan.length,
        output_batches: json(outputs.map((o) => o.batchId)),
        state: "running",
        status_type: "info",
        notification: json({ type: "stage-started", message: `Stage ${stageName} started with ${plan.length} task(s)` }),
        started_at: now,
        last_event_at: now,
      });
      plan.forEach((t, i) =>
        insertTask(db, {
          workspace_id: ctx.ws,
          job_id: ctx.jobId,
          stage_id: stageName,
          task_index: i,
          task_id: taskIdOf(stageName, i),
          range_from: t.from,
          range_to: t.to,
          items_total: t.items,
          cursor: t.from,
          items_done: 0,
          items_failed: 0,
          machine_ms: 0,
          attempts: 0,
          state: "pending",
          status_type: "info",
          notification: null,
          progress: null,
          event_at: now,
        }),
      );
      updateJob(db, ctx.ws, ctx.jobId, {
        state: "running",
        current_stage: stageName,
        last_notification: json({ type: "stage-started", stage: stageName, message: `Stage ${stageName} started with ${plan.length} task(s)` }),
      }, now);
      this.log(ctx, "info", "job-orchestrator", "stage-started", { stage: stageName, tasksNumber: plan.length, outputBatches: outputs.map((o) => o.batchId) }, stageName);
    })();
    if (injected) {
      const stage = getStage(db, ctx.ws, ctx.jobId, stageName)!;
      return this.failStage(ctx, stage, { type: "stage-failed", reason: "injected-fault", message: `Stage ${stageName} failed (fault injected by the emulator's fault rules)` });
    }
    return stepDelay(ctx.script, stageName, this.expectedSteps(ctx, stageName, plan.length), DELAYS.stageStartMs);
  }

  private planTasks(ctx: JobContext, stageName: string): { from: number; to: number; items: number }[] {
    const { db } = this.emu;
    if (stageName === "processing") {
      const input = (ctx.def as any).jobInput as { batchId: string; partName?: string };
      const per = ctx.kind === "video" ? VIDEOS_PER_TASK : IMAGES_PER_TASK;
      const out: { from: number; to: number; items: number }[] = [];
      const part = input.partName ?? "";
      // Task boundaries by index seeks (one row per task), never the whole listing in memory.
      let after = 0;
      for (;;) {
        const last = nthFileSeqAfter(db, ctx.ws, input.batchId, part, after, per - 1);
        if (last === undefined) {
          const rest = filesAfter(db, ctx.ws, input.batchId, part, after);
          if (rest.count > 0 && rest.lastSeq !== null) out.push({ from: after, to: rest.lastSeq, items: rest.count });
          return out;
        }
        out.push({ from: after, to: last, items: per });
        after = last;
      }
    }
    if (stageName === "export") {
      const processing = getStage(db, ctx.ws, ctx.jobId, "processing");
      const n = processing?.tasks_number ?? 0;
      const out: { from: number; to: number; items: number }[] = [];
      for (let first = 0; first < n; first += RESULTS_PER_ARCHIVE) {
        const last = Math.min(n, first + RESULTS_PER_ARCHIVE) - 1;
        out.push({ from: first, to: last, items: last - first + 1 });
      }
      return out;
    }
    const devices = (ctx.def as TrtJobDefinition).compilationDevices ?? ["nvidia-t4", "nvidia-l4", "nvidia-l40s"];
    return devices.map((_, i) => ({ from: i, to: i, items: 1 }));
  }

  private outputBatchesOf(ctx: JobContext, stageName: string) {
    if (stageName === "processing") return [{ batchId: outputBatchId(ctx.jobId, stageName), contentType: "metadata" as const, part: RESULTS_PART }];
    if (stageName === "export") return [{ batchId: outputBatchId(ctx.jobId, stageName), contentType: "archives" as const, part: ARCHIVES_PART }];
    return [];
  }

  private expectedSteps(ctx: JobContext, stageName: string, tasks: number): number {
    if (stageName === "processing" && ctx.kind === "image") return Math.ceil(ctx.job.input_count / IMAGES_PER_STEP) + tasks + 1;
    return tasks + 1;
  }

  private finishStage(ctx: JobContext, stage: StageRow): number | null {
    const { db, clock } = this.emu;
    const counts = countTasks(db, ctx.ws, ctx.jobId, stage.stage_id);
    if (counts.failed > 0) {
      return this.failStage(ctx, stage, {
        type: "stage-failed",
        reason: "tasks-failed",
        failedTasks: counts.failed,
        succeededTasks: counts.succeeded,
        message: `${counts.failed} of ${stage.tasks_number} task(s) of stage ${stage.stage_name} failed; results of the other tasks are kept. Restart the job to retry the failed tasks.`,
      });
    }
    const now = clock.now();
    db.transaction(() => {
      updateStage(db, ctx.ws, ctx.jobId, stage.stage_id, {
        state: "succeeded",
        status_type: "success",
        notification: json({ type: "stage-completed", message: `Stage ${stage.stage_name} completed: ${counts.succeeded} task(s) succeeded` }),
      }, now);
      if (stage.state !== "succeeded") this.log(ctx, "info", "job-orchestrator", "stage-completed", { stage: stage.stage_name, tasksNumber: stage.tasks_number }, stage.stage_id);
    })();
    const next = ctx.stages[ctx.stages.indexOf(stage.stage_name) + 1];
    if (next) return this.beginStage(ctx, next);
    if (ctx.script?.finalState === "fail") {
      return this.failJob(ctx, stage.stage_name, { type: "job-failed", reason: "scripted-failure", message: "The job failed at its end (scripted by the emulator)" });
    }
    return this.succeedJob(ctx);
  }

  private failStage(ctx: JobContext, stage: StageRow, notification: Record<string, unknown>): null {
    this.emu.db.transaction(() => {
      updateStage(this.emu.db, ctx.ws, ctx.jobId, stage.stage_id, { state: "failed", status_type: "error", notification: json(notification) }, this.emu.clock.now());
      this.failJob(ctx, stage.stage_name, { ...notification, type: "job-failed", stage: stage.stage_name });
    })();
    return null;
  }

  // ---- processing ------------------------------------------------------------------------------

  private processingStep(ctx: JobContext, stage: StageRow): Promise<number | null> | number | null {
    const { db } = this.emu;
    let running = tasksInState(db, ctx.ws, ctx.jobId, stage.stage_id, "running");
    if (running.length < ctx.params.maxParallelTasks) {
      for (const t of tasksInState(db, ctx.ws, ctx.jobId, stage.stage_id, "pending", ctx.params.maxParallelTasks - running.length)) {
        running.push(this.startTask(ctx, t));
      }
    }
    if (!running.length) return this.finishStage(ctx, stage);
    // Round robin: the task that progressed least recently goes next, so parallel tasks advance together.
    running = running.sort((a, b) => a.event_at - b.event_at || a.task_index - b.task_index);
    return this.processSlice(ctx, stage, running[0]);
  }

  private startTask(ctx: JobContext, t: TaskRow): TaskRow {
    this.removeTemp(this.tempPath(t));
    const patch = {
      state: "running" as const,
      attempts: t.attempts + 1,
      cursor: t.range_from,
      items_done: 0,
      items_failed: 0,
      machine_ms: 0,
      progress: 0,
      status_type: "info",
      notification: json({ type: "task-started", message: `Task started (attempt ${t.attempts + 1})` }),
      event_at: this.emu.clock.now(),
    };
    advisoryWrite(this.emu.db, () => updateTask(this.emu.db, t, patch));
    return { ...t, ...patch };
  }

  private async processSlice(ctx: JobContext, stage: StageRow, task: TaskRow): Promise<number | null> {
    const { db, clock } = this.emu;
    const input = (ctx.def as any).jobInput as { batchId: string; partName?: string };
    const workflowId = (ctx.def as any).processingSpecification.workflowId as string;
    const format = ctx.params.aggregationFormat;
    const files = filesInSeqRange(db, ctx.ws, input.batchId, input.partName ?? "", task.cursor, task.range_to, ctx.kind === "video" ? 1 : IMAGES_PER_STEP);
    const lines: string[] = [];
    const failures: { fileName: string; reason: string; message: string }[] = [];
    let items = 0;
    const emit = (r: ImageResult | FrameResult) => lines.push(format === "csv" ? csvLine(r, ctx.kind === "video" ? "video" : "image") : jsonlLine(r));
    for (const f of files) {
      const bytes = readFileBytes(this.emu.blobs.path(f.blob), this.scratch);
      if (ctx.kind === "image") {
        const info = "ok" in bytes ? bytes : inspectImage(bytes);
        items++;
        if (info.ok) {
          emit({ image_name: f.file_name, image_sha256: f.sha256, workflow_id: workflowId, width: info.width, height: info.height, predictions: predictionsFor(f.sha256, info.width, info.height) });
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
            emit({ video_name: f.file_name, video_sha256: f.sha256, workflow_id: workflowId, frame_number: i, frame_timestamp: Number((i / fps).toFixed(3)), width, height, predictions: predictionsFor(f.sha256, width, height, i) });
          }
          items += frames;
        } else {
          items++;
          failures.push({ fileName: f.file_name, reason: info.reason === "corrupted-image" ? "corrupted-video" : info.reason, message: info.message });
          emit({ video_name: f.file_name, video_sha256: f.sha256, workflow_id: workflowId, error: { type: info.reason, message: info.message } });
        }
      }
    }
    const tmp = this.tempPath(task);
    if (task.cursor === task.range_from && format === "csv") fs.appendFileSync(tmp, csvHeader(ctx.kind === "video" ? "video" : "image"));
    if (lines.length) fs.appendFileSync(tmp, lines.join(""));
    else if (!fs.existsSync(tmp)) fs.writeFileSync(tmp, "");

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
        this.log(ctx, "warning", "workflow-worker", ctx.kind === "video" ? "video-processing-error" : "image-processing-error", f, stage.stage_id, task.task_id);
      }
    });

    const budget = taskBudgetMs(ctx.params, stage.tasks_number);
    if (updated.machine_ms > budget) return this.timeoutJob(ctx, stage, updated, budget);
    if (done) await this.completeProcessingTask(ctx, stage, updated);
    return stepDelay(ctx.script, stage.stage_name, this.expectedSteps(ctx, stage.stage_name, stage.tasks_number), DELAYS.processingStepMs);
  }

  private async completeProcessingTask(ctx: JobContext, stage: StageRow, task: TaskRow): Promise<void> {
    const { db } = this.emu;
    const tmp = this.tempPath(task);
    const tooMany = ctx.kind === "image" && tooManyFailures(task.items_failed, task.items_done, ctx.params.maxImageFailureRate);
    if (tooMany) {
      const rate = ctx.params.maxImageFailureRate;
      this.failTask(ctx, stage, task, "too-many-failed-images",
        `${task.items_failed} of ${task.items_done} images could not be processed, more than allowed (${rate === null ? "10 images per task by default" : `maxImageFailureRate=${rate}`}); restart with a higher --max-image-failure-rate to keep partial results`);
      return;
    }
    if (this.shouldFailTask(ctx, stage.stage_name, task)) return;
    const format = ctx.params.aggregationFormat;
    const bytes = fs.readFileSync(tmp);
    await this.emu.blobs.syncTemp(tmp);
    if (!this.isCurrent(ctx)) return this.removeTemp(tmp);
    this.commitTaskOutput(ctx, stage, task, tmp, {
      batchId: outputBatchId(ctx.jobId, "processing"),
      partName: RESULTS_PART.partName,
      fileName: resultFileName(task.task_index, format),
      contentType: "metadata",
      nestedContentType: null,
      size: bytes.length,
      sha256: crypto.createHash("sha256").update(bytes).digest("hex"),
      mediaType: format === "csv" ? "text/csv" : "application/x-ndjson",
    }, { type: "task-completed", message: `Processed ${task.items_done} file(s), ${task.items_failed} failed`, processed: task.items_done, failed: task.items_failed }, (now) => {
      updateJob(db, ctx.ws, ctx.jobId, { machine_ms: ctx.job.machine_ms + task.machine_ms }, now);
      ctx.job.machine_ms += task.machine_ms;
      if (task.items_failed > 0) {
        this.log(ctx, "warning", "workflow-worker", "task-completed-with-failures", { taskId: task.task_id, processed: task.items_done, failed: task.items_failed }, stage.stage_id, task.task_id);
      }
    });
  }

  /**
   * Moves a task's finished output file into the blob tree and, in one transaction, records it in the
   * stage's output batch and marks the task succeeded. Output written asynchronously is dropped if the
   * job was aborted, restarted or reset meanwhile. Returns whether it was committed.
   */
  private commitTaskOutput(
    ctx: JobContext,
    stage: StageRow,
    task: TaskRow,
    tmp: string,
    file: { batchId: string; partName: string; fileName: string; contentType: string; nestedContentType: string | null; size: number; sha256: string; mediaType: string },
    notification: Record<string, unknown>,
    alsoInTransaction?: (now: number) => void,
  ): boolean {
    const { db, clock, blobs } = this.emu;
    const rel = blobs.commit(tmp, "jobs");
    const now = clock.now();
    const committed = db.transaction(() => {
      if (!this.isCurrent(ctx)) return false;
      const replaced = recordOutputFile(db, { ws: ctx.ws, ...file, blob: rel, now });
      if (replaced) blobs.remove(replaced);
      updateTask(db, task, { state: "succeeded", status_type: "success", progress: 1, event_at: now, notification: json(notification) });
      updateStage(db, ctx.ws, ctx.jobId, stage.stage_id, {}, now);
      alsoInTransaction?.(now);
      return true;
    })();
    if (!committed) blobs.remove(rel);
    return committed;
  }

  private timeoutJob(ctx: JobContext, stage: StageRow, task: TaskRow, budgetMs: number): null {
    const seconds = (ms: number) => Math.round(ms / 100) / 10;
    const message =
      `Processing timeout: task ${task.task_id} needed more than its ${seconds(budgetMs)} s share of processingTimeoutSeconds=${ctx.params.timeoutSeconds} ` +
      `(the limit is total machine time, split evenly across ${stage.tasks_number} task(s); ${ctx.params.machineType} machines with ${ctx.params.workersPerMachine} worker(s)). ` +
      `Restart the job with a larger --max-runtime-seconds${ctx.params.machineType === "cpu" ? ", or use gpu machines" : ""}.`;
    this.failTask(ctx, stage, task, "processing-timeout", message);
    return this.failStage(ctx, getStage(this.emu.db, ctx.ws, ctx.jobId, stage.stage_id)!, { type: "stage-failed", reason: "processing-timeout", message });
  }

  // ---- export ----------------------------------------------------------------------------------

  private async exportStep(ctx: JobContext, stage: StageRow): Promise<number | null> {
    const { db } = this.emu;
    const next = tasksInState(db, ctx.ws, ctx.jobId, stage.stage_id, "running", 1)[0] ?? tasksInState(db, ctx.ws, ctx.jobId, stage.stage_id, "pending", 1)[0];
    if (!next) return this.finishStage(ctx, stage);
    const task = this.startTask(ctx, next);
    const format = ctx.params.aggregationFormat;
    const processingBatch = outputBatchId(ctx.jobId, "processing");
    const entries = [];
    for (let i = task.range_from; i <= task.range_to; i++) {
      const f = getFileByName(db, ctx.ws, processingBatch, RESULTS_PART.partName, resultFileName(i, format));
      if (f) entries.push({ name: f.file_name, path: this.emu.blobs.path(f.blob) });
    }
    const tmp = this.tempPath(task);
    const { size, sha256 } = await writeTarGz(entries, tmp);
    const delay = stepDelay(ctx.script, stage.stage_name, this.expectedSteps(ctx, stage.stage_name, stage.tasks_number), DELAYS.exportTaskMs);
    if (!this.isCurrent(ctx)) {
      this.removeTemp(tmp);
      return 0;
    }
    if (this.shouldFailTask(ctx, stage.stage_name, task)) return delay;
    const committed = this.commitTaskOutput(ctx, stage, task, tmp, {
      batchId: outputBatchId(ctx.jobId, "export"),
      partName: ARCHIVES_PART.partName,
      fileName: archiveFileName(task.task_index),
      contentType: "archive",
      nestedContentType: "metadata",
      size,
      sha256,
      mediaType: "application/gzip",
    }, { type: "task-completed", message: `Archived ${entries.length} result file(s) into ${archiveFileName(task.task_index)}` });
    if (!committed) return 0;
    return delay;
  }

  // ---- TRT compilation -------------------------------------------------------------------------

  private compilationStep(ctx: JobContext, stage: StageRow): number | null {
    const { db, clock } = this.emu;
    const next = tasksInState(db, ctx.ws, ctx.jobId, stage.stage_id, "running", 1)[0] ?? tasksInState(db, ctx.ws, ctx.jobId, stage.stage_id, "pending", 1)[0];
    if (!next) return this.finishStage(ctx, stage);
    const task = this.startTask(ctx, next);
    const delay = stepDelay(ctx.script, stage.stage_name, this.expectedSteps(ctx, stage.stage_name, stage.tasks_number), DELAYS.compilationTaskMs);
    if (this.shouldFailTask(ctx, stage.stage_name, task)) return delay;
    const def = ctx.def as TrtJobDefinition;
    const device = (def.compilationDevices ?? ["nvidia-t4", "nvidia-l4", "nvidia-l40s"])[task.range_from];
    const fingerprint = crypto.createHash("sha256").update(`${def.modelId}\n${device}`).digest("hex").slice(0, 32);
    const now = clock.now();
    db.transaction(() => {
      updateTask(db, task, {
        state: "succeeded",
        status_type: "success",
        progress: 1,
        event_at: now,
        notification: json({ type: "task-completed", message: `Compiled ${def.modelId} for ${device}`, device }),
      });
      updateStage(db, ctx.ws, ctx.jobId, stage.stage_id, {}, now);
      this.log(ctx, "info", "trt-compiler", "trt-compilation-completed", { modelId: def.modelId, device, engineFingerprint: fingerprint }, stage.stage_id, task.task_id);
    })();
    return delay;
  }

  // ---- task and job endings --------------------------------------------------------------------

  /** Scripted (first attempt only) or injected task failures. Returns true when the task was failed. */
  private shouldFailTask(ctx: JobContext, stageName: string, task: TaskRow): boolean {
    const scripted = task.attempts === 1 && (ctx.script?.failTasks?.[stageName] ?? []).includes(task.task_index);
    const injected = this.emu.faults.taskShouldFail(ctx.ws, ctx.jobId, stageName, task.task_index);
    if (!scripted && !injected) return false;
    const stage = getStage(this.emu.db, ctx.ws, ctx.jobId, stageName)!;
    this.failTask(ctx, stage, task, scripted ? "scripted-failure" : "injected-fault", `Task ${task.task_id} failed (${scripted ? "scripted" : "fault injected"} by the emulator)`);
    return true;
  }

  private failTask(ctx: JobContext, stage: StageRow, task: TaskRow, reason: string, message: string): void {
    const { db, clock } = this.emu;
    this.removeTemp(this.tempPath(task));
    const now = clock.now();
    db.transaction(() => {
      updateTask(db, task, { state: "failed", status_type: "error", event_at: now, notification: json({ type: "task-failed", reason, message }) });
      updateStage(db, ctx.ws, ctx.jobId, stage.stage_id, {}, now);
      this.log(ctx, "error", "workflow-worker", "task-failed", { taskId: task.task_id, reason, message }, stage.stage_id, task.task_id);
    })();
  }

  private succeedJob(ctx: JobContext): null {
    const { db, clock } = this.emu;
    const stages = listStages(db, ctx.ws, ctx.jobId);
    const outputBatches = stages.flatMap((s) => JSON.parse(s.output_batches) as string[]);
    const notification = {
      type: "job-completed",
      message: outputBatches.length ? `Job completed; results are in ${outputBatches.map((b) => `"${b}"`).join(" and ")}` : "Job completed",
      outputBatches,
    };
    db.transaction(() => {
      this.endJob(ctx, { state: "succeeded", error: 0, is_terminal: 1, last_notification: json(notification) }, clock.now());
      this.log(ctx, "info", "job-orchestrator", "job-completed", notification, null);
      this.notify(ctx, "success");
    })();
    return null;
  }

  /** Fails the job: running tasks stop (kept for a restart), the current stage ends with an error, the webhook says "fail". */
  private failJob(ctx: JobContext, stageName: string | null, notification: Record<string, unknown>): null {
    const { db, clock } = this.emu;
    const now = clock.now();
    db.transaction(() => {
      const current = getJob(db, ctx.ws, ctx.jobId);
      if (!current || current.is_terminal) return;
      updateTasksWhere(db, ctx.ws, ctx.jobId, ["running"], {
        state: "aborted",
        status_type: "error",
        event_at: now,
        notification: json({ type: "task-aborted", message: "Stopped because the job failed" }),
      });
      if (stageName) {
        const stage = getStage(db, ctx.ws, ctx.jobId, stageName);
        if (stage?.state === "running") updateStage(db, ctx.ws, ctx.jobId, stageName, { state: "failed", status_type: "error", notification: json(notification) }, now);
      }
      this.endJob(ctx, { state: "failed", error: 1, is_terminal: 1, last_notification: json(notification) }, now);
      this.log(ctx, "error", "job-orchestrator", "job-failed", notification, stageName);
      this.notify(ctx, "fail");
    })();
    this.removeTemps(ctx.ws, ctx.jobId);
    return null;
  }

  private failOnInternalError(ws: string, jobId: string, err: unknown): null {
    try {
      const job = getJob(this.emu.db, ws, jobId);
      if (!job || job.is_terminal) return null;
      const ctx = contextOf(job);
      return this.failJob(ctx, job.current_stage, { type: "job-failed", reason: "internal-error", message: `The emulator's job simulator failed: ${(err as Error)?.message ?? String(err)}` });
    } catch (inner) {
      console.error(`[jobs] could not record the failure of job ${jobId}:`, inner);
      return null;
    }
  }

  private endJob(ctx: JobContext, patch: JobPatch, now: number): void {
    updateJob(this.emu.db, ctx.ws, ctx.jobId, patch, now);
  }

  private notify(ctx: JobContext, jobState: "success" | "fail"): void {
    notifyJob(this.emu, ctx.ws, ctx.jobId, (ctx.def as { notificationsURL?: string }).notificationsURL, jobState);
  }

  private log(ctx: JobContext, severity: Severity, module: string, logType: string, payload: object, stageId: string | null, taskId: string | null = null): void {
    writeLog(this.emu, ctx.ws, ctx.jobId, severity, module, logType, payload, stageId, taskId);
  }

  private isCurrent(ctx: JobContext): boolean {
    const cur = getJob(this.emu.db, ctx.ws, ctx.jobId);
    return !!cur && !cur.is_terminal && cur.generation === ctx.job.generation;
  }

  /** After a crash or a reload: tasks that were mid-way start over (their partial output was never committed). */
  private recover(ws: string, jobId: string): void {
    this.removeTemps(ws, jobId);
    this.emu.db.transaction(() => {
      rewindTasks(this.emu.db, ws, jobId, ["running"]);
      updateTasksWhere(this.emu.db, ws, jobId, ["running"], { progress: 0 });
    })();
  }

  private tempPath(t: Pick<TaskRow, "workspace_id" | "job_id" | "stage_id" | "task_index">): string {
    return path.join(this.emu.blobs.tmpRoot, `job-${t.workspace_id}-${t.job_id}-${t.stage_id}-${t.task_index}.part`);
  }

  private removeTemp(p: string): void {
    fs.rmSync(p, { force: true });
  }

  private removeTemps(ws: string, jobId: string): void {
    const prefix = `job-${ws}-${jobId}-`;
    let names: string[] = [];
    try {
      names = fs.readdirSync(this.emu.blobs.tmpRoot);
    } catch {
      return;
    }
    for (const n of names) if (n.startsWith(prefix) && n.endsWith(".part")) this.removeTemp(path.join(this.emu.blobs.tmpRoot, n));
  }
}


// ---- service functions (routes, seeds and the control API call these) ------------------------


function writeLog(emu: Core, ws: string, jobId: string, severity: Severity, module: string, logType: string, payload: object, stageId: string | null, taskId: string | null): void {
  insertLog(emu.db, {
    workspace_id: ws,
    job_id: jobId,
    created_at: emu.clock.now(),
    severity,
    reporting_module: module,
    log_type: logType,
    payload: JSON.stringify(payload),
    stage_id: stageId,
    task_id: taskId,
  });
}

function notifyJob(emu: Core, ws: string, jobId: string, url: string | undefined, jobState: "success" | "fail"): void {
  if (!url) return;
  emu.webhooks.enqueue({ workspaceId: ws, url, category: "job", subject: jobId, payload: { type: JOB_NOTIFICATION_TYPE, job_id: jobId, job_state: jobState } });
}

export interface StartJobOptions {
  /** Job name (the `name` query parameter); defaults to the job id. */
  name?: string;
  /** Scripted behaviour for test doubles; stored with the job. */
  script?: JobScript;
}

export interface StartJobResult {
  /** false when the same job id was already started with the same definition (an idempotent replay). */
  created: boolean;
  job: JobRow;
}

/**
 * Validates and starts a job: the same checks as `POST /jobs/{jobId}` (definition, input batch, job id).
 * Throws ApiError on a bad request. Replaying an identical request is idempotent; a different
 * definition under a used job id is a 409.
 */
export function startJob(emu: Emulator, ws: string, jobId: string, definition: unknown, opts: StartJobOptions = {}): StartJobResult {
  const idCheck = JobIdParam.safeParse(jobId);
  if (!idCheck.success) throw validationError(idCheck.error, JobIdParam, jobId, "path");
  const parsed = JobDefinition.safeParse(definition);
  if (!parsed.success) throw validationError(parsed.error, JobDefinition, definition);
  const def = withoutNulls(parsed.data);
  const name = opts.name ?? jobId;
  const script = opts.script ? JSON.stringify(opts.script) : null;

  const existing = getJob(emu.db, ws, jobId);
  if (existing) {
    if (existing.definition === canonicalJson(def) && existing.name === name && existing.script === script) return { created: false, job: existing };
    throw conflict(
      `Job "${jobId}" already exists in workspace "${ws}" with a different ${existing.name !== name ? "name" : "definition"}`,
      "Job ids are chosen by the client and must be unique per workspace: pick a new job id (sending the identical request again is accepted as a retry).",
    );
  }

  const kind = jobKind(def.type);
  let inputCount = 0;
  if (kind !== "trt") inputCount = checkInput(emu, ws, jobId, def as any, kind);

  const now = emu.clock.now();
  const stages = plannedStages(kind);
  emu.db.transaction(() => {
    insertJob(emu.db, {
      workspace_id: ws,
      job_id: jobId,
      name,
      job_type: def.type,
      definition: canonicalJson(def),
      overrides: "[]",
      script,
      state: "queued",
      planned_stages: JSON.stringify(stages),
      current_stage: null,
      error: 0,
      is_terminal: 0,
      last_notification: JSON.stringify({ type: "job-queued", message: "Job accepted; waiting for compute" }),
      generation: 0,
      input_count: inputCount,
      machine_ms: 0,
      created_at: now,
      updated_at: now,
    });
    writeLog(emu, ws, jobId, "info", "batch-processing-api", "job-created", { jobType: def.type, name, plannedStages: stages, ...(kind !== "trt" ? { inputBatch: (def as any).jobInput.batchId, inputFiles: inputCount } : {}) }, null, null);
  })();
  emu.jobs.schedule(ws, jobId, stepDelay(opts.script ?? null, "queued", 1, DELAYS.queuedMs));
  return { created: true, job: getJob(emu.db, ws, jobId)! };
}

function checkInput(emu: Emulator, ws: string, jobId: string, def: { type: string; jobInput: { batchId: string; partName?: string; imagesMetadataPart?: string }; processingSpecification: { workspace: string } }, kind: JobKind): number {
  const spec = def.processingSpecification;
  if (spec.workspace !== ws) {
    throw badRequest(`processingSpecification.workspace is "${spec.workspace}" but the job is created in workspace "${ws}"`, [
      { field: "processingSpecification.workspace", problem: "must be the workspace in the URL (the one the api_key belongs to)", received: spec.workspace, allowed: [ws] },
    ]);
  }
  const { batchId, partName, imagesMetadataPart } = def.jobInput;
  const want = kind === "image" ? "images" : "videos";
  const batch = getBatch(emu.db, ws, batchId);
  if (!batch) {
    throw notFound(`Input batch "${batchId}" not found in workspace "${ws}"`, "Stage the input first (POST .../data-staging/v1/external/{workspace}/batches/{batchId}/upload/image) and check GET .../count before starting the job.");
  }
  const otherType = kind === "image" ? "simple-video-processing-v1" : "simple-image-processing-v1";
  if (batch.batch_type === "multipart-batch") {
    const parts = listParts(emu.db, ws, batchId);
    const names = parts.map((p) => p.part_name);
    if (!partName) {
      throw badRequest(`Input batch "${batchId}" is a multipart batch: set jobInput.partName to the part to process (${names.map((n) => `"${n}"`).join(", ") || "it has no parts"})`, [
        { field: "jobInput.partName", problem: "required for multipart batches", received: "(missing)", allowed: names },
      ]);
    }
    const part = parts.find((p) => p.part_name === partName);
    if (!part) {
      throw badRequest(`Input batch "${batchId}" has no part "${partName}"`, [{ field: "jobInput.partName", problem: "unknown part", received: partName, allowed: names }]);
    }
    if (part.content_type !== want) {
      throw badRequest(`Part "${partName}" of input batch "${batchId}" holds ${part.content_type}; ${def.type} jobs need ${want}`, [
        { field: "jobInput.partName", problem: `part holds ${part.content_type}, not ${want}`, received: partName },
      ]);
    }
    if (imagesMetadataPart && !names.includes(imagesMetadataPart)) {
      throw badRequest(`Input batch "${batchId}" has no part "${imagesMetadataPart}"`, [{ field: "jobInput.imagesMetadataPart", problem: "unknown part", received: imagesMetadataPart, allowed: names }]);
    }
  } else {
    if (partName) {
      throw badRequest(`Input batch "${batchId}" is a ${batch.batch_type}, not a multipart batch: remove jobInput.partName`, [
        { field: "jobInput.partName", problem: "only multipart batches have parts", received: partName },
      ]);
    }
    if (imagesMetadataPart) {
      throw badRequest(`Input batch "${batchId}" is a ${batch.batch_type}, not a multipart batch: remove jobInput.imagesMetadataPart`, [
        { field: "jobInput.imagesMetadataPart", problem: "only multipart batches have parts", received: imagesMetadataPart },
      ]);
    }
    if (batch.content_type !== want) {
      throw badRequest(`Input batch "${batchId}" holds ${batch.content_type}; ${def.type} jobs need a batch of ${want}`, [
        { field: "jobInput.batchId", problem: `batch holds ${batch.content_type}, not ${want}`, received: batchId },
      ], `Use a ${otherType} job for a batch of ${batch.content_type}, or stage ${want} in another batch.`);
    }
  }
  const count = countFiles(emu.db, ws, batchId, batch.batch_type === "multipart-batch" ? partName : "");
  if (count === 0) {
    throw badRequest(`Input batch "${batchId}" has no ${want} to process yet`, [{ field: "jobInput.batchId", problem: "batch is empty", received: batchId }],
      "Bulk ingests are indexed in the background: wait until GET .../batches/{batchId}/count is above 0.");
  }
  for (const stage of ["processing", "export"]) {
    const out = outputBatchId(jobId, stage);
    if (getBatch(emu.db, ws, out)) {
      throw conflict(`Job "${jobId}" would write its ${stage} results to batch "${out}", which already exists`, "Pick another job id.");
    }
  }
  return count;
}

function requireJob(emu: Emulator, ws: string, jobId: string): JobRow {
  const job = getJob(emu.db, ws, jobId);
  if (!job) throw notFound(`Job "${jobId}" not found in workspace "${ws}"`, "List jobs with GET /batch-processing/v1/external/{workspace}/jobs.");
  return job;
}

/** Stops a running job for good: what was produced stays, running tasks and the current stage end with an error. */
export function abortJob(emu: Emulator, ws: string, jobId: string): { message: string } {
  const job = requireJob(emu, ws, jobId);
  if (job.is_terminal) throw conflict(`Job "${jobId}" already finished (${job.state}); there is nothing to abort`);
  const now = emu.clock.now();
  const notification = { type: "job-aborted", message: `Job aborted on request${job.current_stage ? ` during stage ${job.current_stage}` : " before it started"}; results produced so far are kept` };
  emu.db.transaction(() => {
    updateTasksWhere(emu.db, ws, jobId, ["running"], { state: "aborted", status_type: "error", event_at: now, notification: JSON.stringify({ type: "task-aborted", message: "Stopped because the job was aborted" }) });
    if (job.current_stage) {
      const stage = getStage(emu.db, ws, jobId, job.current_stage);
      if (stage?.state === "running") updateStage(emu.db, ws, jobId, stage.stage_id, { state: "aborted", status_type: "error", notification: JSON.stringify(notification) }, now);
    }
    updateJob(emu.db, ws, jobId, { state: "aborted", is_terminal: 1, error: 1, generation: job.generation + 1, last_notification: JSON.stringify(notification) }, now);
    writeLog(emu, ws, jobId, "warning", "batch-processing-api", "job-aborted", notification, job.current_stage, null);
    notifyJob(emu, ws, jobId, (JSON.parse(job.definition) as { notificationsURL?: string }).notificationsURL, "fail");
  })();
  emu.jobs.cancel(ws, jobId);
  return { message: notification.message };
}

/**
 * Restarts a failed or aborted job where it stopped: succeeded tasks and their outputs are kept,
 * failed, aborted and unfinished tasks run again. An override is appended to restartParametersOverride.
 */
export function restartJob(emu: Emulator, ws: string, jobId: string, override?: RestartOverrideJson): { message: string } {
  const job = requireJob(emu, ws, jobId);
  if (!job.is_terminal) throw conflict(`Job "${jobId}" is still running (${job.current_stage ?? "queued"}); only a failed or aborted job can be restarted`, "Abort it first, or wait for it to finish.");
  if (job.state === "succeeded") throw conflict(`Job "${jobId}" already succeeded; there is nothing to restart`, "Start a new job (with a new job id) to process the data again.");
  if (job.job_type !== "simple-image-processing-v1" && override?.maxImageFailureRate != null) {
    throw badRequest("maxImageFailureRate applies to image processing jobs only", [{ field: "maxImageFailureRate", problem: "not allowed for this job type", received: override.maxImageFailureRate }]);
  }
  const now = emu.clock.now();
  const overrides = JSON.parse(job.overrides) as unknown[];
  if (override) overrides.push(withoutNulls(override));
  const notification = { type: "job-restarted", message: `Job restarted${job.current_stage ? ` from stage ${job.current_stage}` : ""}; finished tasks are kept` };
  emu.db.transaction(() => {
    updateTasksWhere(emu.db, ws, jobId, ["running", "failed", "aborted"], {
      state: "pending",
      status_type: "info",
      progress: null,
      event_at: now,
      notification: JSON.stringify({ type: "task-requeued", message: "Waiting for a worker after the job restart" }),
    });
    rewindTasks(emu.db, ws, jobId, ["pending"]);
    for (const stage of listStages(emu.db, ws, jobId)) {
      if (stage.state !== "succeeded") updateStage(emu.db, ws, jobId, stage.stage_id, { state: "running", status_type: "info", notification: JSON.stringify({ type: "stage-resumed", message: `Stage ${stage.stage_name} resumed after a restart` }) }, now);
    }
    updateJob(emu.db, ws, jobId, {
      state: job.current_stage ? "running" : "queued",
      is_terminal: 0,
      error: 0,
      generation: job.generation + 1,
      overrides: JSON.stringify(overrides),
      last_notification: JSON.stringify(notification),
    }, now);
    writeLog(emu, ws, jobId, "info", "batch-processing-api", "job-restarted", { override: override ? withoutNulls(override) : null }, job.current_stage, null);
  })();
  emu.jobs.schedule(ws, jobId, DELAYS.queuedMs);
  return { message: notification.message };
}

/**
 * Forgets jobs (all, or one workspace's): stops their timers and deletes their rows, logs and
 * output batches (rows and blobs). For the control API's reset.
 */
export function resetJobs(emu: Emulator, ws?: string): number {
  const keys = jobKeys(emu.db, ws);
  const blobs: string[] = [];
  for (const k of keys) emu.jobs.cancel(k.workspace_id, k.job_id);
  emu.db.transaction(() => {
    for (const k of keys) {
      for (const stage of listStages(emu.db, k.workspace_id, k.job_id)) {
        for (const batchId of JSON.parse(stage.output_batches) as string[]) {
          const b = getBatch(emu.db, k.workspace_id, batchId);
          if (b?.origin === "job-output") blobs.push(...deleteBatchRows(emu.db, k.workspace_id, batchId));
        }
      }
      deleteJob(emu.db, k.workspace_id, k.job_id);
    }
  })();
  emu.blobs.removeLater(blobs);
  return keys.length;
}
