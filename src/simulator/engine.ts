// The job simulator's scheduler. Every job advances in small steps, each one a timer on the
// emulator clock: start a stage, process one slice of a task's input, commit a finished task, build
// one export archive, finish a stage. A step reads the job from the store, does a bounded amount of
// work and commits it, so requests stay fast while a 100k-image job runs, manual clock mode can walk
// a job step by step, and a killed emulator resumes every job from its last committed task. What a
// step does per stage kind lives in stage-processing.ts, stage-export.ts and stage-compilation.ts.
// Each job is worked on through a JobRun (job-steps.ts) that a cancel or a reload revokes: a step
// still in flight then (writing a results file or an archive) stops without writing or failing
// anything, and never holds up the steps of the job that takes its id.
import { isStorageFull } from "../state/storage-full.js";
import type { Core, Worker } from "../context.js";
import {
  activeJobs,
  countTasks,
  getJob,
  getStage,
  insertStage,
  insertTask,
  rewindTasks,
  updateJob,
  updateStage,
  updateTasksWhere,
  type StageRow,
} from "../state/jobs.js";
import { HEAD_BYTES } from "./job-media.js";
import { DELAYS, stepDelay } from "./job-plan.js";
import {
  contextOf,
  failJob,
  failStage,
  isCurrent,
  jobKeyOf,
  JobRun,
  json,
  logJob,
  STAGE_DONE,
  succeedJob,
  taskIdOf,
  writeIfCurrent,
  type JobContext,
  type StageKind,
  type StepEnv,
  type StepResult,
} from "./job-steps.js";
import { PartialResults } from "./job-partials.js";
import { ensureOutputBatch } from "./outputs.js";
import { compilationStage } from "./stage-compilation.js";
import { exportStage } from "./stage-export.js";
import { processingStage } from "./stage-processing.js";

const STAGES: Readonly<Record<string, StageKind>> = { processing: processingStage, export: exportStage, compilation: compilationStage };

function stageKind(name: string): StageKind {
  const kind = STAGES[name];
  if (!kind) throw new Error(`unknown stage "${name}"`);
  return kind;
}

/** Pause before a step that met a full disk is tried again. */
const STORAGE_RETRY_MS = 1000;

export class JobEngine implements Worker {
  readonly name = "jobs";
  private readonly timers = new Map<string, number>();
  /** The live run of each job that has had a step since it was last cancelled or reloaded. */
  private readonly runs = new Map<string, JobRun>();
  /** Runs with a step in flight (revoked ones included, until their step returns). */
  private readonly inFlight = new Set<JobRun>();
  /** Runs whose timer fired while their own step was in flight: that step plans another one when it ends. */
  private readonly wanted = new Set<JobRun>();
  private running = false;
  /** Jobs waiting for disk space (logged once per pause). */
  private readonly storagePaused = new Set<string>();
  private readonly env: StepEnv;

  constructor(private readonly emu: Core) {
    this.env = { emu, partials: new PartialResults(emu.blobs), scratch: Buffer.alloc(HEAD_BYTES) };
  }

  /** Resumes every unfinished job from the store (after a start, a crash or a reset). */
  start(): void {
    this.running = true;
    // Every running task starts over (recover), so no partial file is of use any more.
    this.env.partials.discardAll();
    for (const { workspace_id, job_id } of activeJobs(this.emu.db)) {
      this.recover(workspace_id, job_id);
      this.schedule(workspace_id, job_id, 0);
    }
  }

  stop(): void {
    this.running = false;
    // Steps still in flight belong to the world before the stop: they write nothing more.
    for (const run of this.runs.values()) run.revoked = true;
    this.runs.clear();
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
    const key = jobKeyOf(ws, jobId);
    const old = this.timers.get(key);
    if (old !== undefined) this.emu.clock.clearTimeout(old);
    this.timers.set(
      key,
      this.emu.clock.setTimeout(() => void this.run(key, ws, jobId), delayMs),
    );
  }

  /** Drops the job's planned step and its partial files, and revokes its run (abort, reset, a stub ending it). */
  cancel(ws: string, jobId: string): void {
    const key = jobKeyOf(ws, jobId);
    const id = this.timers.get(key);
    if (id !== undefined) this.emu.clock.clearTimeout(id);
    this.timers.delete(key);
    const run = this.runs.get(key);
    if (!run) return;
    run.revoked = true;
    this.runs.delete(key);
    this.env.partials.discardRun(run);
  }

  /** True while any job has a step planned or running (tests and benchmarks wait on this). */
  idle(): boolean {
    return this.timers.size === 0 && this.inFlight.size === 0;
  }

  private runOf(key: string): JobRun {
    let run = this.runs.get(key);
    if (!run) this.runs.set(key, (run = new JobRun(key)));
    return run;
  }

  private async run(key: string, ws: string, jobId: string): Promise<void> {
    this.timers.delete(key);
    if (!this.running) return;
    const run = this.runOf(key);
    // A step of this run already in flight (an archive being written) plans the next one when it
    // ends. A revoked run's step is not waited for: it writes nothing more.
    if (this.inFlight.has(run)) {
      this.wanted.add(run);
      return;
    }
    this.inFlight.add(run);
    let next: number | null = null;
    let ctx: JobContext | undefined;
    try {
      const job = getJob(this.emu.db, ws, jobId);
      ctx = job && !job.is_terminal ? contextOf(job, run) : undefined;
      next = ctx ? await this.step(ctx) : null;
      this.storagePaused.delete(key);
    } catch (err) {
      // Revoked under a running step (abort, reset, import, close): whatever failed belongs to a job
      // that is gone or starts over from the store; it is not the failure of the job now under this id.
      if (!run.revoked) next = await this.onStepError(run, ctx, ws, jobId, err);
    } finally {
      this.inFlight.delete(run);
    }
    const again = this.wanted.delete(run);
    if (run.revoked || !this.running) return;
    if (next === null && again) next = 0;
    if (next !== null && !this.timers.has(key)) this.schedule(ws, jobId, next);
  }

  private async onStepError(run: JobRun, ctx: JobContext | undefined, ws: string, jobId: string, err: unknown): Promise<number | null> {
    if (isStorageFull(err)) return this.pauseForStorage(run, ws, jobId);
    console.error(`[jobs] step of job ${jobId} failed:`, err);
    return ctx ? this.failOnInternalError(ctx, err) : null;
  }

  /** One step of a job; returns the delay before the next step, or null when the job needs no more steps. */
  private async step(ctx: JobContext): Promise<number | null> {
    const { job } = ctx;
    if (job.state === "queued" || !job.current_stage) return this.beginStage(ctx, ctx.stages[0]);
    const stage = getStage(this.emu.db, ctx.ws, ctx.jobId, job.current_stage);
    if (!stage) return this.beginStage(ctx, job.current_stage);
    const r: StepResult = await stageKind(stage.stage_name).step(this.env, ctx, stage);
    if (!isCurrent(this.emu, ctx)) return null;
    return r === STAGE_DONE ? this.finishStage(ctx, stage) : r;
  }

  private beginStage(ctx: JobContext, stageName: string): number | null {
    const { db, clock } = this.emu;
    const now = clock.now();
    const kind = stageKind(stageName);
    const plan = kind.plan(this.env, ctx);
    if (plan.length === 0) {
      return failJob(this.env, ctx, stageName, {
        type: "job-failed",
        reason: "no-input",
        message: `Stage ${stageName} found nothing to process: the input batch "${ctx.kind === "trt" ? undefined : ctx.def.jobInput.batchId}" has no files any more`,
      });
    }
    const outputs = kind.outputs(ctx);
    const injected = this.emu.faults.stageShouldFail(ctx.ws, ctx.jobId, stageName);
    const begun = writeIfCurrent(this.emu, ctx, () => {
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
      updateJob(
        db,
        ctx.ws,
        ctx.jobId,
        {
          state: "running",
          current_stage: stageName,
          last_notification: json({ type: "stage-started", stage: stageName, message: `Stage ${stageName} started with ${plan.length} task(s)` }),
        },
        now,
      );
      logJob(
        this.emu,
        ctx,
        "info",
        "job-orchestrator",
        "stage-started",
        { stage: stageName, tasksNumber: plan.length, outputBatches: outputs.map((o) => o.batchId) },
        stageName,
      );
    });
    if (!begun) return null;
    if (injected) {
      const stage = getStage(db, ctx.ws, ctx.jobId, stageName)!;
      return failStage(this.env, ctx, stage, {
        type: "stage-failed",
        reason: "injected-fault",
        message: `Stage ${stageName} failed (fault injected by the emulator's fault rules)`,
      });
    }
    return stepDelay(ctx.script, stageName, kind.expectedSteps(ctx, plan.length), DELAYS.stageStartMs);
  }

  private finishStage(ctx: JobContext, stage: StageRow): number | null {
    const { db, clock } = this.emu;
    const counts = countTasks(db, ctx.ws, ctx.jobId, stage.stage_id);
    if (counts.failed > 0) {
      return failStage(this.env, ctx, stage, {
        type: "stage-failed",
        reason: "tasks-failed",
        failedTasks: counts.failed,
        succeededTasks: counts.succeeded,
        message: `${counts.failed} of ${stage.tasks_number} task(s) of stage ${stage.stage_name} failed; results of the other tasks are kept. Restart the job to retry the failed tasks.`,
      });
    }
    const now = clock.now();
    writeIfCurrent(this.emu, ctx, () => {
      updateStage(
        db,
        ctx.ws,
        ctx.jobId,
        stage.stage_id,
        {
          state: "succeeded",
          status_type: "success",
          notification: json({ type: "stage-completed", message: `Stage ${stage.stage_name} completed: ${counts.succeeded} task(s) succeeded` }),
        },
        now,
      );
      if (stage.state !== "succeeded")
        logJob(this.emu, ctx, "info", "job-orchestrator", "stage-completed", { stage: stage.stage_name, tasksNumber: stage.tasks_number }, stage.stage_id);
    });
    const next = ctx.stages[ctx.stages.indexOf(stage.stage_name) + 1];
    if (next) return this.beginStage(ctx, next);
    if (ctx.script?.finalState === "fail") {
      return failJob(this.env, ctx, stage.stage_name, {
        type: "job-failed",
        reason: "scripted-failure",
        message: "The job failed at its end (scripted by the emulator)",
      });
    }
    return succeedJob(this.emu, ctx);
  }

  /** Fails the job the step started for, and only that one (failJob checks that it is still current). */
  private failOnInternalError(ctx: JobContext, err: unknown): null {
    try {
      const stageName = getJob(this.emu.db, ctx.ws, ctx.jobId)?.current_stage ?? null;
      return failJob(this.env, ctx, stageName, {
        type: "job-failed",
        reason: "internal-error",
        message: `The emulator's job simulator failed: ${(err as Error)?.message ?? String(err)}`,
      });
    } catch (inner) {
      console.error(`[jobs] could not record the failure of job ${ctx.jobId}:`, inner);
      return null;
    }
  }

  /**
   * The disk is full: not the job's failure. Its running tasks start over (a half-written append
   * cannot be trusted) and the step is retried a second later on the emulator clock (and in real
   * time too when the clock does not wait), so a full disk neither fails the job nor spins.
   */
  private async pauseForStorage(run: JobRun, ws: string, jobId: string): Promise<number> {
    const { key } = run;
    if (!this.storagePaused.has(key)) console.error(`[jobs] job ${jobId} paused: the disk is full; retrying until space is freed`);
    this.storagePaused.add(key);
    this.env.partials.discardRun(run);
    try {
      this.recover(ws, jobId);
    } catch {
      // Rewinding is a write too; the next attempt tries again.
    }
    // Retried after emulated time; under a no-waiting clock also after real time, so it does not spin.
    if (this.emu.clock.state().mode === "max") await new Promise((r) => setTimeout(r, STORAGE_RETRY_MS));
    return STORAGE_RETRY_MS;
  }

  /** After a crash or a reload: tasks that were mid-way start over (their partial output was never committed). */
  private recover(ws: string, jobId: string): void {
    this.emu.db.transaction(() => {
      rewindTasks(this.emu.db, ws, jobId, ["running"]);
      updateTasksWhere(this.emu.db, ws, jobId, ["running"], { progress: 0 });
    })();
  }
}
