// Scripted jobs: a job definition plus a timeline (stage durations, failing tasks, final state),
// started through the jobs simulator's own startJob, so a scripted job is validated, stored,
// listed and advanced exactly like one created through the API.
import type { Emulator } from "../context.js";
import type { JobScriptT } from "../contract/controls.js";
import { startJob } from "../simulator/engine.js";

export interface ScriptedJobOptions {
  name?: string;
  script?: JobScriptT;
}

export function startScriptedJob(emu: Emulator, ws: string, jobId: string, definition: Record<string, unknown>, opts: ScriptedJobOptions): { created: boolean } {
  const r = startJob(emu, ws, jobId, definition, { name: opts.name, script: opts.script });
  return { created: r.created };
}
