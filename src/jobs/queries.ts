// Read side of the jobs service: a job, its stages, tasks and logs as the routes answer them.
// Each function checks that what was asked for exists (a readable 404 otherwise) and presents rows.
import type { Core } from "../context.js";
import type { JobJson, LogJson, StageJson, TaskJson } from "../contract/jobs.js";
import { notFound } from "../errors.js";
import { getJob, getStage, listJobs, listLogs, listStages, listTasks, type JobRow, type Severity } from "../state/jobs.js";
import { decodeToken } from "../state/pagination.js";
import { presentJob, presentLog, presentStage, presentTask } from "./presenters.js";

export interface Page<T> {
  items: T[];
  nextPageToken: string | null;
}

export function requireJob(emu: Core, ws: string, jobId: string): JobRow {
  const job = getJob(emu.db, ws, jobId);
  if (!job) throw notFound(`Job "${jobId}" not found in workspace "${ws}"`, "List jobs with GET /batch-processing/v1/external/{workspace}/jobs.");
  return job;
}

/** Newest first. */
export function jobsPage(emu: Core, ws: string, pageToken: string | undefined, pageSize: number): Page<JobJson> {
  const before = pageToken ? decodeToken(pageToken) : null;
  const page = listJobs(emu.db, ws, before, pageSize);
  return { items: page.items.map(presentJob), nextPageToken: page.nextPageToken };
}

export function jobView(emu: Core, ws: string, jobId: string): JobJson {
  return presentJob(requireJob(emu, ws, jobId));
}

/** The stages a job has started, in the order they ran. */
export function stagesOf(emu: Core, ws: string, jobId: string): StageJson[] {
  requireJob(emu, ws, jobId);
  return listStages(emu.db, ws, jobId).map(presentStage);
}

export function tasksPage(emu: Core, ws: string, jobId: string, stageId: string, pageToken: string | undefined, pageSize: number): Page<TaskJson> {
  requireJob(emu, ws, jobId);
  if (!getStage(emu.db, ws, jobId, stageId)) {
    const known = listStages(emu.db, ws, jobId).map((s) => `"${s.stage_id}"`);
    throw notFound(
      `Stage "${stageId}" not found in job "${jobId}"`,
      known.length ? `Stages of this job: ${known.join(", ")}.` : "The job has not started a stage yet.",
    );
  }
  const page = listTasks(emu.db, ws, jobId, stageId, decodeToken(pageToken), pageSize);
  return { items: page.items.map(presentTask), nextPageToken: page.nextPageToken };
}

/** Oldest first, optionally of one severity. */
export function logsPage(emu: Core, ws: string, jobId: string, severity: Severity | undefined, pageToken: string | undefined, pageSize: number): Page<LogJson> {
  requireJob(emu, ws, jobId);
  const page = listLogs(emu.db, ws, jobId, severity, decodeToken(pageToken), pageSize);
  return { items: page.items.map(presentLog), nextPageToken: page.nextPageToken };
}
