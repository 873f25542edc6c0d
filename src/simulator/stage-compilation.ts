// The compilation stage of TRT jobs: one task per target device, each one step that "compiles"
// the model (a log line with a fingerprint derived from the model and device; nothing is built).
import crypto from "node:crypto";
import type { StageRow } from "../state/jobs.js";
import { updateStage, updateTask } from "../state/jobs.js";
import { DELAYS, compilationDevices, stepDelay } from "./job-plan.js";
import {
  json,
  logJob,
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

function trtDefinition(ctx: JobContext) {
  if (ctx.kind !== "trt") throw new Error(`job ${ctx.jobId} is a ${ctx.def.type} job and has nothing to compile`);
  return ctx.def;
}

function plan(_env: StepEnv, ctx: JobContext): TaskPlan[] {
  return compilationDevices(trtDefinition(ctx)).map((_, i) => ({ from: i, to: i, items: 1 }));
}

function step(env: StepEnv, ctx: JobContext, stage: StageRow): StepResult {
  const { db, clock } = env.emu;
  const next = nextTaskOf(env.emu, ctx, stage);
  if (!next) return STAGE_DONE;
  const task = startTask(env, ctx, next);
  const delay = stepDelay(ctx.script, stage.stage_name, oneStepPerTask(ctx, stage.tasks_number), DELAYS.compilationTaskMs);
  if (shouldFailTask(env, ctx, stage.stage_name, task)) return delay;
  const def = trtDefinition(ctx);
  const device = compilationDevices(def)[task.range_from];
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
    logJob(
      env.emu,
      ctx,
      "info",
      "trt-compiler",
      "trt-compilation-completed",
      { modelId: def.modelId, device, engineFingerprint: fingerprint },
      stage.stage_id,
      task.task_id,
    );
  })();
  return delay;
}

export const compilationStage: StageKind = { outputs: () => [], plan, expectedSteps: oneStepPerTask, step };
