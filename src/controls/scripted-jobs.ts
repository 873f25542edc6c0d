// Scripted jobs: a job definition plus a timeline (stage durations, failing tasks, final state),
// started through the jobs simulator's own startJob, so a scripted job is validated, stored,
// listed and advanced exactly like one created through the API.
import type { Emulator } from "../context.js";
import type { JobScriptT, ScriptedJobBodyT } from "../contract/controls.js";
import { notFound } from "../errors.js";
import { startJob } from "../jobs/commands.js";
import { workspaceExists } from "../state/workspaces.js";

export interface ScriptedJobOptions {
  name?: string;
  script?: JobScriptT;
}

export function startScriptedJob(
  emu: Emulator,
  ws: string,
  jobId: string,
  definition: Record<string, unknown>,
  opts: ScriptedJobOptions,
): { created: boolean } {
  const r = startJob(emu, ws, jobId, definition, { name: opts.name, script: opts.script });
  return { created: r.created };
}

/** POST /_emulator/jobs/{workspace}/{jobId}: the workspace must exist (seed it first). */
export function startScriptedJobIn(emu: Emulator, ws: string, jobId: string, b: ScriptedJobBodyT): { created: boolean } {
  if (!workspaceExists(emu.db, ws)) throw notFound(`Workspace "${ws}" does not exist`, "Seed it first (POST /_emulator/seed).");
  return startScriptedJob(emu, ws, jobId, b.definition, { name: b.name, script: b.script });
}
