// What every stage kind of the job simulator shares: the job context a step works on, starting,
// committing and failing a task, and ending a stage or the whole job. Each function reads what it
// needs from the store and commits in one transaction, so a killed emulator resumes from the last
// committed task. Every step carries the run of the job it started for (JobRun) and the row it read:
// what it commits, fails or finishes is checked against both in the same transaction (isCurrent), so
// work of a job that was aborted, restarted or reset never lands in the job that has its id now.
import type { Core } from "../context.js";
import type { JobDefinitionJson } from "../contract/jobs.js";
import { advisoryWrite } from "../state/db.js";
import {
  getJob,
  getStage,
  insertLog,
  listStages,
  tasksInState,
  updateJob,
  updateStage,
  updateTask,
  updateTasksWhere,
  type JobRow,
  type Severity,
  type StageRow,
  type TaskRow,
} from "../state/jobs.js";
import { effectiveParams, specOf, type EffectiveParams, type JobScript, type JobSpec, type WorkflowSpec } from "./job-plan.js";
import type { PartialResults } from "./job-partials.js";
import { recordOutputFile, type OutputPart } from "./outputs.js";

export const JOB_NOTIFICATION_TYPE = "roboflow-batch-job-notification-v1";

/**
 * The engine's hold on one job: the steps it runs for the job carry it, and it is revoked when the job
 * is cancelled (abort, reset) or the engine re-reads the store (reset, import, close). A revoked run
 * is never revived; the job that takes the id next gets a new one. Row numbers restart after a full
 * reset and a new job starts at generation 0 again, so neither tells an old job's row from a new
 * one's: the run does.
 */
export class JobRun {
  revoked = false;
  constructor(readonly key: string) {}
}

interface ContextBase {
  /** The run this step belongs to. */
  run: JobRun;
  /** The job row as the step read it (its seq and generation identify it). */
  job: JobRow;
  ws: string;
  jobId: string;
  params: EffectiveParams;
  script: JobScript | null;
  stages: string[];
}
/** A job as one step sees it: the row, its definition narrowed by kind, and the parameters in effect. */
export type JobContext = ContextBase & JobSpec;
export type WorkflowContext = ContextBase & WorkflowSpec;

/** The context of a step of `run`; without one (a control-plane stub acting at once) the context gets a run of its own. */
export function contextOf(job: JobRow, run = new JobRun(jobKeyOf(job.workspace_id, job.job_id))): JobContext {
  // The stored definition was validated by startJob; this is the one place it is read back.
  const def = JSON.parse(job.definition) as JobDefinitionJson;
  const base: ContextBase = {
    run,
    job,
    ws: job.workspace_id,
    jobId: job.job_id,
    params: effectiveParams(def, JSON.parse(job.overrides) as Parameters<typeof effectiveParams>[1]),
    script: job.script ? (JSON.parse(job.script) as JobScript) : null,
    stages: JSON.parse(job.planned_stages) as string[],
  };
  return { ...base, ...specOf(def) };
}

/** The context of a Workflow (image or video) job; a processing or export stage never runs for anything else. */
export function workflowContext(ctx: JobContext): WorkflowContext {
  if (ctx.kind === "trt") throw new Error(`job ${ctx.jobId} is a ${ctx.def.type} job and has no Workflow input`);
  return ctx;
}

/** What a stage step works with: the core, the partial result files of running tasks, a reused buffer. */
export interface StepEnv {
  emu: Core;
  partials: PartialResults;
  /** Reused read buffer for input file headers (one step runs at a time). */
  scratch: Buffer;
}

/** What a stage step answers: the delay before the next step, null when the job needs no more, or STAGE_DONE. */
export const STAGE_DONE = Symbol("stage-done");
export type StepResult = number | null | typeof STAGE_DONE;

export interface TaskPlan {
  from: number;
  to: number;
  items: number;
}

export interface OutputBatchSpec {
  batchId: string;
  contentType: "metadata" | "archives";
  part: OutputPart;
}

/** One kind of stage (processing, export, compilation): how it plans its tasks and runs one step. */
export interface StageKind {
  /** Output batches the stage writes, created when it starts. */
  outputs(ctx: JobContext): OutputBatchSpec[];
  plan(env: StepEnv, ctx: JobContext): TaskPlan[];
  /** Steps the stage is expected to take, to spread a scripted stage duration over them. */
  expectedSteps(ctx: JobContext, tasks: number): number;
  step(env: StepEnv, ctx: JobContext, stage: StageRow): StepResult | Promise<StepResult>;
}

/** One step per task plus the step that ends the stage (export and compilation). */
export const oneStepPerTask = (_ctx: JobContext, tasks: number) => tasks + 1;

export const json = (v: unknown) => JSON.stringify(v);
/** Groups a job's timers and partial files; the NUL cannot occur in a workspace or job id. */
export const jobKeyOf = (ws: string, jobId: string) => `${ws}\u0000${jobId}`;
export const taskIdOf = (stage: string, index: number) => `${stage}-${String(index).padStart(5, "0")}`;

// ---- logs and webhooks -------------------------------------------------------------------------

export function writeJobLog(
  emu: Core,
  ws: string,
  jobId: string,
  severity: Severity,
  module: string,
  logType: string,
  payload: object,
  stageId: string | null,
  taskId: string | null = null,
): void {
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

export function notifyJob(emu: Core, ws: string, jobId: string, url: string | undefined | null, jobState: "success" | "fail"): void {
  if (!url) return;
  emu.webhooks.enqueue({ workspaceId: ws, url, category: "job", subject: jobId, payload: { type: JOB_NOTIFICATION_TYPE, job_id: jobId, job_state: jobState } });
}

export function logJob(
  emu: Core,
  ctx: JobContext,
  severity: Severity,
  module: string,
  logType: string,
  payload: object,
  stageId: string | null,
  taskId: string | null = null,
): void {
  writeJobLog(emu, ctx.ws, ctx.jobId, severity, module, logType, payload, stageId, taskId);
}

/**
 * False once the job was aborted, restarted, reset or finished since the step read it, or its id now
 * names another job: the step then writes nothing more (no output, no failure, no log, no webhook).
 */
export function isCurrent(emu: Core, ctx: JobContext): boolean {
  if (ctx.run.revoked) return false;
  const cur = getJob(emu.db, ctx.ws, ctx.jobId);
  return !!cur && !cur.is_terminal && cur.seq === ctx.job.seq && cur.generation === ctx.job.generation;
}

/** Runs `write` in one transaction if the step's job is still current (checked inside it); returns whether it ran. */
export function writeIfCurrent(emu: Core, ctx: JobContext, write: () => void): boolean {
  return emu.db.transaction(() => {
    if (!isCurrent(emu, ctx)) return false;
    write();
    return true;
  })();
}

// ---- tasks -------------------------------------------------------------------------------------

/** Picks a task up for a new attempt: from the start of its input, counters at zero. */
export function startTask({ emu, partials }: StepEnv, ctx: JobContext, t: TaskRow): TaskRow {
  partials.discard(ctx.run, t.seq);
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
    event_at: emu.clock.now(),
  };
  advisoryWrite(emu.db, () => updateTask(emu.db, t, patch));
  return { ...t, ...patch };
}

/** The task a one-at-a-time stage (export, compilation) works on next: the running one, else the next pending one. */
export function nextTaskOf(emu: Core, ctx: JobContext, stage: StageRow): TaskRow | undefined {
  const { db } = emu;
  return tasksInState(db, ctx.ws, ctx.jobId, stage.stage_id, "running", 1)[0] ?? tasksInState(db, ctx.ws, ctx.jobId, stage.stage_id, "pending", 1)[0];
}

export interface OutputFile {
  batchId: string;
  partName: string;
  fileName: string;
  contentType: string;
  nestedContentType: string | null;
  size: number;
  sha256: string;
  mediaType: string;
}

/**
 * Moves a task's finished output file into the blob tree and, in one transaction, records it in the
 * stage's output batch and marks the task succeeded. Output written asynchronously is dropped if the
 * job was aborted, restarted or reset meanwhile. Returns whether it was committed.
 */
export function commitTaskOutput(
  emu: Core,
  ctx: JobContext,
  stage: StageRow,
  task: TaskRow,
  tmp: string,
  file: OutputFile,
  notification: Record<string, unknown>,
  alsoInTransaction?: (now: number) => void,
): boolean {
  const { db, clock, blobs } = emu;
  // Checked before the file moves too: a stale step never puts a blob into the tree.
  if (!isCurrent(emu, ctx)) {
    blobs.discard(tmp);
    return false;
  }
  const rel = blobs.commit(tmp, "jobs");
  const now = clock.now();
  let replaced: string | undefined;
  const committed = writeIfCurrent(emu, ctx, () => {
    replaced = recordOutputFile(db, { ws: ctx.ws, ...file, blob: rel, now });
    updateTask(db, task, { state: "succeeded", status_type: "success", progress: 1, event_at: now, notification: json(notification) });
    updateStage(db, ctx.ws, ctx.jobId, stage.stage_id, {}, now);
    alsoInTransaction?.(now);
  });
  if (!committed) blobs.remove(rel);
  else if (replaced) blobs.remove(replaced);
  return committed;
}

/** Scripted (first attempt only) or injected task failures. Returns true when the task was failed. */
export function shouldFailTask(env: StepEnv, ctx: JobContext, stageName: string, task: TaskRow): boolean {
  const { emu } = env;
  const scripted = task.attempts === 1 && (ctx.script?.failTasks?.[stageName] ?? []).includes(task.task_index);
  const injected = emu.faults.taskShouldFail(ctx.ws, ctx.jobId, stageName, task.task_index);
  if (!scripted && !injected) return false;
  const stage = getStage(emu.db, ctx.ws, ctx.jobId, stageName)!;
  failTask(
    env,
    ctx,
    stage,
    task,
    scripted ? "scripted-failure" : "injected-fault",
    `Task ${task.task_id} failed (${scripted ? "scripted" : "fault injected"} by the emulator)`,
  );
  return true;
}

export function failTask({ emu, partials }: StepEnv, ctx: JobContext, stage: StageRow, task: TaskRow, reason: string, message: string): void {
  const { db, clock } = emu;
  partials.discard(ctx.run, task.seq);
  const now = clock.now();
  writeIfCurrent(emu, ctx, () => {
    updateTask(db, task, { state: "failed", status_type: "error", event_at: now, notification: json({ type: "task-failed", reason, message }) });
    updateStage(db, ctx.ws, ctx.jobId, stage.stage_id, {}, now);
    logJob(emu, ctx, "error", "workflow-worker", "task-failed", { taskId: task.task_id, reason, message }, stage.stage_id, task.task_id);
  });
}

// ---- stage and job endings ---------------------------------------------------------------------

export function failStage(env: StepEnv, ctx: JobContext, stage: StageRow, notification: Record<string, unknown>): null {
  const { emu } = env;
  writeIfCurrent(emu, ctx, () => {
    updateStage(emu.db, ctx.ws, ctx.jobId, stage.stage_id, { state: "failed", status_type: "error", notification: json(notification) }, emu.clock.now());
    failJob(env, ctx, stage.stage_name, { ...notification, type: "job-failed", stage: stage.stage_name });
  });
  return null;
}

export function succeedJob(emu: Core, ctx: JobContext): null {
  const { db, clock } = emu;
  const stages = listStages(db, ctx.ws, ctx.jobId);
  const outputBatches = stages.flatMap((s) => JSON.parse(s.output_batches) as string[]);
  const notification = {
    type: "job-completed",
    message: outputBatches.length ? `Job completed; results are in ${outputBatches.map((b) => `"${b}"`).join(" and ")}` : "Job completed",
    outputBatches,
  };
  writeIfCurrent(emu, ctx, () => {
    updateJob(db, ctx.ws, ctx.jobId, { state: "succeeded", error: 0, is_terminal: 1, last_notification: json(notification) }, clock.now());
    logJob(emu, ctx, "info", "job-orchestrator", "job-completed", notification, null);
    notifyJob(emu, ctx.ws, ctx.jobId, ctx.def.notificationsURL, "success");
  });
  return null;
}

/** Fails the job: running tasks stop (kept for a restart), the current stage ends with an error, the webhook says "fail". */
export function failJob({ emu, partials }: StepEnv, ctx: JobContext, stageName: string | null, notification: Record<string, unknown>): null {
  const { db, clock } = emu;
  const now = clock.now();
  writeIfCurrent(emu, ctx, () => {
    updateTasksWhere(db, ctx.ws, ctx.jobId, ["running"], {
      state: "aborted",
      status_type: "error",
      event_at: now,
      notification: json({ type: "task-aborted", message: "Stopped because the job failed" }),
    });
    if (stageName) {
      const stage = getStage(db, ctx.ws, ctx.jobId, stageName);
      if (stage?.state === "running")
        updateStage(db, ctx.ws, ctx.jobId, stageName, { state: "failed", status_type: "error", notification: json(notification) }, now);
    }
    updateJob(db, ctx.ws, ctx.jobId, { state: "failed", error: 1, is_terminal: 1, last_notification: json(notification) }, now);
    logJob(emu, ctx, "error", "job-orchestrator", "job-failed", notification, stageName);
    notifyJob(emu, ctx.ws, ctx.jobId, ctx.def.notificationsURL, "fail");
  });
  // Only this run's files: a newer job under the same id keeps its own.
  partials.discardRun(ctx.run);
  return null;
}
