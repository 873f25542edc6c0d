// Scripted jobs: a job definition plus a timeline (stage durations, failing tasks, final state),
// handed to the jobs simulator's startJob. Until the simulator is present this answers 501.
import type { Emulator } from "../context.js";
import type { JobScriptT } from "../contract/controls.js";
import { ApiError } from "../errors.js";

export interface ScriptedJobOptions {
  name?: string;
  script?: JobScriptT;
}

export function startScriptedJob(_emu: Emulator, _ws: string, _jobId: string, _definition: Record<string, unknown>, _opts: ScriptedJobOptions): Promise<unknown> {
  return Promise.reject(new ApiError(501, "not-implemented", "Scripted jobs need the jobs simulator, which this build does not include yet"));
}
