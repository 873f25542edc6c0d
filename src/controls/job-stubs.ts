// Job-state stubs: a fault rule whose action puts a job into a terminal state (failed, succeeded,
// aborted) at a given emulator time, for the cases the simulator cannot reach on its own. The rule
// is stored like any other; its timer lives on the emulator clock (so manual and max clocks drive
// it too) and is disarmed when the rule is deleted or the emulator reset. The state change goes
// through the jobs' own commands and step helpers, so stages, tasks, logs and the webhook follow.
import type { Emulator, Worker } from "../context.js";
import type { FaultActionT, FaultRuleBodyT } from "../contract/controls.js";
import { abortJob } from "../jobs/commands.js";
import { PartialResults } from "../simulator/job-partials.js";
import { contextOf, failJob, succeedJob } from "../simulator/job-steps.js";
import { getJob } from "../state/jobs.js";
import type { FaultRuleRow } from "../state/faults.js";
import { removeFaultRule } from "./faults.js";

type JobStateAction = Extract<FaultActionT, { type: "job-state" }>;

/** POST /_emulator/faults: adds the rule and, for a job-state stub, arms its timer. */
export function addFaultRule(emu: Emulator, body: FaultRuleBodyT): FaultRuleRow {
  const row = emu.controls.faults.add(body);
  if (body.action.type === "job-state") arm(emu, row.id, body.action, row.created_at);
  return row;
}

/**
 * Arms every stored job-state stub that has not fired yet, at the emulator time it was set for
 * (`at`, or its creation time + `afterMs`): the rule outlives a restart, so its timer must too.
 * A time already past fires at once. Idempotent: a stub that is armed already is left as it is.
 */
export function armStoredJobStubs(emu: Emulator): number {
  let armed = 0;
  for (const row of emu.controls.faults.rows()) {
    if (row.fired > 0 || emu.controls.jobStubTimers.has(row.id)) continue;
    const action = (JSON.parse(row.rule) as FaultRuleBodyT).action;
    if (action.type !== "job-state") continue;
    arm(emu, row.id, action, row.created_at);
    armed++;
  }
  return armed;
}

/** The stubs' timers as a worker: armed at start (and after a workspace reset), dropped at stop. */
export function jobStubWorker(emu: Emulator): Worker {
  return {
    name: "job-stubs",
    start: () => void armStoredJobStubs(emu),
    stop: () => disarmAll(emu),
    reload: () => void armStoredJobStubs(emu),
  };
}

/** DELETE /_emulator/faults/{id}. */
export function deleteFaultRule(emu: Emulator, id: string): void {
  disarm(emu, id);
  removeFaultRule(emu.controls.faults, id);
}

/** DELETE /_emulator/faults. */
export function clearFaultRules(emu: Emulator): number {
  disarmAll(emu);
  return emu.controls.faults.clear();
}

/** Reset and snapshot import drop every rule: their timers go too. */
export function disarmAll(emu: Emulator): void {
  for (const id of [...emu.controls.jobStubTimers.keys()]) disarm(emu, id);
}

function disarm(emu: Emulator, id: string): void {
  const timer = emu.controls.jobStubTimers.get(id);
  if (timer !== undefined) emu.clock.clearTimeout(timer);
  emu.controls.jobStubTimers.delete(id);
}

function arm(emu: Emulator, id: string, a: JobStateAction, createdAt: number): void {
  const now = emu.clock.now();
  const at = a.at === undefined ? createdAt + (a.afterMs ?? 0) : typeof a.at === "number" ? a.at : Date.parse(a.at);
  const timer = emu.clock.setTimeout(
    () => {
      emu.controls.jobStubTimers.delete(id);
      let fired = false;
      try {
        fired = applyJobState(emu, id, a);
      } catch (err) {
        console.error(`[controls] job-state stub "${id}" could not be applied:`, err);
      }
      emu.controls.faults.recordOwnFiring(id, fired);
    },
    Math.max(0, at - now),
  );
  emu.controls.jobStubTimers.set(id, timer);
}

/** Puts the job into the state; false when there is no such job or it already ended. */
function applyJobState(emu: Emulator, ruleId: string, a: JobStateAction): boolean {
  const ws = a.workspace ?? emu.config.workspace;
  const job = getJob(emu.db, ws, a.jobId);
  if (!job || job.is_terminal) return false;
  const message = a.message ?? `Job put into state ${a.state} by the emulator's stub "${ruleId}"`;
  if (a.state === "aborted") {
    abortJob(emu, ws, a.jobId);
    return true;
  }
  const ctx = contextOf(job);
  if (a.state === "failed") {
    // A fresh PartialResults: the engine's own partial files are dropped by cancel below.
    failJob({ emu, partials: new PartialResults(emu.blobs), scratch: Buffer.alloc(0) }, ctx, job.current_stage, {
      type: "job-failed",
      reason: "stubbed",
      message,
    });
  } else {
    succeedJob(emu, ctx);
  }
  emu.jobs.cancel(ws, a.jobId);
  return true;
}
