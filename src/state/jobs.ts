// Jobs, their stages, tasks and logs: rows and queries. No decisions here; the simulator
// (src/simulator/engine.ts and its stage modules) decides what happens next and commits through these functions.
import type { Db } from "./db.js";
import { encodeToken, pageOf } from "./pagination.js";

export type JobState = "queued" | "running" | "succeeded" | "failed" | "aborted";
export type TaskState = "pending" | "running" | "succeeded" | "failed" | "aborted";
export type StageState = "running" | "succeeded" | "failed" | "aborted";
export type Severity = "info" | "warning" | "error";

export interface JobRow {
  seq: number;
  workspace_id: string;
  job_id: string;
  name: string;
  job_type: string;
  definition: string;
  overrides: string;
  script: string | null;
  state: JobState;
  planned_stages: string;
  current_stage: string | null;
  error: number;
  is_terminal: number;
  last_notification: string | null;
  generation: number;
  input_count: number;
  machine_ms: number;
  created_at: number;
  updated_at: number;
}

export interface StageRow {
  workspace_id: string;
  job_id: string;
  stage_id: string;
  stage_name: string;
  ordinal: number;
  tasks_number: number;
  output_batches: string;
  state: StageState;
  status_type: string;
  notification: string;
  started_at: number;
  last_event_at: number;
}

export interface TaskRow {
  seq: number;
  workspace_id: string;
  job_id: string;
  stage_id: string;
  task_index: number;
  task_id: string;
  range_from: number;
  range_to: number;
  items_total: number;
  cursor: number;
  items_done: number;
  items_failed: number;
  machine_ms: number;
  attempts: number;
  state: TaskState;
  status_type: string;
  notification: string | null;
  progress: number | null;
  event_at: number;
}

export interface LogRow {
  seq: number;
  workspace_id: string;
  job_id: string;
  created_at: number;
  severity: Severity;
  reporting_module: string;
  log_type: string;
  payload: string;
  stage_id: string | null;
  task_id: string | null;
}

// ---- jobs --------------------------------------------------------------------------------------

export function getJob(db: Db, ws: string, jobId: string): JobRow | undefined {
  return db.prepare("SELECT * FROM jobs WHERE workspace_id = ? AND job_id = ?").get(ws, jobId) as JobRow | undefined;
}

export function insertJob(db: Db, row: Omit<JobRow, "seq">): void {
  db.prepare(
    `INSERT INTO jobs (workspace_id, job_id, name, job_type, definition, overrides, script, state, planned_stages, current_stage, error,
       is_terminal, last_notification, generation, input_count, machine_ms, created_at, updated_at)
     VALUES (@workspace_id, @job_id, @name, @job_type, @definition, @overrides, @script, @state, @planned_stages, @current_stage, @error,
       @is_terminal, @last_notification, @generation, @input_count, @machine_ms, @created_at, @updated_at)`,
  ).run(row);
}

export type JobPatch = Partial<
  Pick<JobRow, "state" | "current_stage" | "error" | "is_terminal" | "last_notification" | "generation" | "overrides" | "machine_ms" | "input_count">
>;

export function updateJob(db: Db, ws: string, jobId: string, patch: JobPatch, now: number): void {
  const keys = Object.keys(patch) as (keyof JobPatch)[];
  const sets = [...keys.map((k) => `${k} = @${k}`), "updated_at = @now"].join(", ");
  db.prepare(`UPDATE jobs SET ${sets} WHERE workspace_id = @ws AND job_id = @jobId`).run({ ...patch, now, ws, jobId });
}

/** Newest first: the official CLI shows only the first page, where recent jobs belong. */
export function listJobs(db: Db, ws: string, beforeSeq: number | null, size: number) {
  const rows = db
    .prepare("SELECT * FROM jobs WHERE workspace_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?")
    .all(ws, beforeSeq ?? Number.MAX_SAFE_INTEGER, size + 1) as JobRow[];
  if (rows.length <= size) return { items: rows, nextPageToken: null };
  const items = rows.slice(0, size);
  return { items, nextPageToken: encodeToken(items[items.length - 1].seq) };
}

export function activeJobs(db: Db): Pick<JobRow, "workspace_id" | "job_id">[] {
  return db.prepare("SELECT workspace_id, job_id FROM jobs WHERE is_terminal = 0 ORDER BY seq").all() as Pick<JobRow, "workspace_id" | "job_id">[];
}

export function jobKeys(db: Db, ws?: string): Pick<JobRow, "workspace_id" | "job_id">[] {
  return (
    ws === undefined
      ? db.prepare("SELECT workspace_id, job_id FROM jobs").all()
      : db.prepare("SELECT workspace_id, job_id FROM jobs WHERE workspace_id = ?").all(ws)
  ) as Pick<JobRow, "workspace_id" | "job_id">[];
}

/** Forgets a job and everything it recorded (stages, tasks, logs). Output batches are the caller's business. */
export function deleteJob(db: Db, ws: string, jobId: string): void {
  for (const table of ["job_logs", "job_tasks", "job_stages", "jobs"]) {
    db.prepare(`DELETE FROM ${table} WHERE workspace_id = ? AND job_id = ?`).run(ws, jobId);
  }
}

// ---- stages ------------------------------------------------------------------------------------

export function listStages(db: Db, ws: string, jobId: string): StageRow[] {
  return db.prepare("SELECT * FROM job_stages WHERE workspace_id = ? AND job_id = ? ORDER BY ordinal").all(ws, jobId) as StageRow[];
}

export function getStage(db: Db, ws: string, jobId: string, stageId: string): StageRow | undefined {
  return db.prepare("SELECT * FROM job_stages WHERE workspace_id = ? AND job_id = ? AND stage_id = ?").get(ws, jobId, stageId) as StageRow | undefined;
}

export function insertStage(db: Db, row: StageRow): void {
  db.prepare(
    `INSERT INTO job_stages (workspace_id, job_id, stage_id, stage_name, ordinal, tasks_number, output_batches, state, status_type, notification, started_at, last_event_at)
     VALUES (@workspace_id, @job_id, @stage_id, @stage_name, @ordinal, @tasks_number, @output_batches, @state, @status_type, @notification, @started_at, @last_event_at)`,
  ).run(row);
}

export function updateStage(
  db: Db,
  ws: string,
  jobId: string,
  stageId: string,
  patch: Partial<Pick<StageRow, "state" | "status_type" | "notification">>,
  now: number,
): void {
  const keys = Object.keys(patch);
  const sets = [...keys.map((k) => `${k} = @${k}`), "last_event_at = @now"].join(", ");
  db.prepare(`UPDATE job_stages SET ${sets} WHERE workspace_id = @ws AND job_id = @jobId AND stage_id = @stageId`).run({ ...patch, now, ws, jobId, stageId });
}

// ---- tasks -------------------------------------------------------------------------------------

export function insertTask(db: Db, row: Omit<TaskRow, "seq">): void {
  db.prepare(
    `INSERT INTO job_tasks (workspace_id, job_id, stage_id, task_index, task_id, range_from, range_to, items_total, cursor, items_done, items_failed,
       machine_ms, attempts, state, status_type, notification, progress, event_at)
     VALUES (@workspace_id, @job_id, @stage_id, @task_index, @task_id, @range_from, @range_to, @items_total, @cursor, @items_done, @items_failed,
       @machine_ms, @attempts, @state, @status_type, @notification, @progress, @event_at)`,
  ).run(row);
}

export function getTask(db: Db, ws: string, jobId: string, stageId: string, taskIndex: number): TaskRow | undefined {
  return db.prepare("SELECT * FROM job_tasks WHERE workspace_id = ? AND job_id = ? AND stage_id = ? AND task_index = ?").get(ws, jobId, stageId, taskIndex) as
    TaskRow | undefined;
}

export function tasksInState(db: Db, ws: string, jobId: string, stageId: string, state: TaskState, limit = 1000): TaskRow[] {
  return db
    .prepare("SELECT * FROM job_tasks WHERE workspace_id = ? AND job_id = ? AND stage_id = ? AND state = ? ORDER BY task_index LIMIT ?")
    .all(ws, jobId, stageId, state, limit) as TaskRow[];
}

export function countTasks(db: Db, ws: string, jobId: string, stageId: string): Record<TaskState, number> {
  const rows = db
    .prepare("SELECT state, COUNT(*) AS n FROM job_tasks WHERE workspace_id = ? AND job_id = ? AND stage_id = ? GROUP BY state")
    .all(ws, jobId, stageId) as { state: TaskState; n: number }[];
  const out: Record<TaskState, number> = { pending: 0, running: 0, succeeded: 0, failed: 0, aborted: 0 };
  for (const r of rows) out[r.state] = r.n;
  return out;
}

export type TaskPatch = Partial<Omit<TaskRow, "seq" | "workspace_id" | "job_id" | "stage_id" | "task_index" | "task_id">>;

export function updateTask(db: Db, t: Pick<TaskRow, "workspace_id" | "job_id" | "stage_id" | "task_index">, patch: TaskPatch): void {
  const keys = Object.keys(patch);
  if (!keys.length) return;
  db.prepare(
    `UPDATE job_tasks SET ${keys.map((k) => `${k} = @${k}`).join(", ")} WHERE workspace_id = @ws AND job_id = @jobId AND stage_id = @stageId AND task_index = @taskIndex`,
  ).run({ ...patch, ws: t.workspace_id, jobId: t.job_id, stageId: t.stage_id, taskIndex: t.task_index });
}

/** Sets every task of a job in `from` states to a new state (abort, restart, crash recovery). */
export function updateTasksWhere(db: Db, ws: string, jobId: string, from: TaskState[], patch: TaskPatch): number {
  const keys = Object.keys(patch);
  const res = db
    .prepare(
      `UPDATE job_tasks SET ${keys.map((k) => `${k} = @${k}`).join(", ")}
       WHERE workspace_id = @ws AND job_id = @jobId AND state IN (${from.map((_, i) => `@s${i}`).join(", ")})`,
    )
    .run({ ...patch, ws, jobId, ...Object.fromEntries(from.map((s, i) => [`s${i}`, s])) });
  return res.changes;
}

/** Sends tasks back to the start of their input: their partial, uncommitted output is gone (crash, restart). */
export function rewindTasks(db: Db, ws: string, jobId: string, states: TaskState[]): number {
  return db
    .prepare(
      `UPDATE job_tasks SET cursor = range_from, items_done = 0, items_failed = 0, machine_ms = 0
       WHERE workspace_id = ? AND job_id = ? AND state IN (${states.map(() => "?").join(", ")})`,
    )
    .run(ws, jobId, ...states).changes;
}

/** Tasks that have been picked up at least once (pending ones are not listed, like unregistered tasks on the real service). */
export function listTasks(db: Db, ws: string, jobId: string, stageId: string, afterSeq: number, size: number) {
  const rows = db
    .prepare("SELECT * FROM job_tasks WHERE workspace_id = ? AND job_id = ? AND stage_id = ? AND attempts > 0 AND seq > ? ORDER BY seq LIMIT ?")
    .all(ws, jobId, stageId, afterSeq, size + 1) as TaskRow[];
  return pageOf(rows, size);
}

// ---- logs --------------------------------------------------------------------------------------

export function insertLog(db: Db, row: Omit<LogRow, "seq">): void {
  db.prepare(
    `INSERT INTO job_logs (workspace_id, job_id, created_at, severity, reporting_module, log_type, payload, stage_id, task_id)
     VALUES (@workspace_id, @job_id, @created_at, @severity, @reporting_module, @log_type, @payload, @stage_id, @task_id)`,
  ).run(row);
}

export function listLogs(db: Db, ws: string, jobId: string, severity: Severity | undefined, afterSeq: number, size: number) {
  const rows = (
    severity === undefined
      ? db.prepare("SELECT * FROM job_logs WHERE workspace_id = ? AND job_id = ? AND seq > ? ORDER BY seq LIMIT ?").all(ws, jobId, afterSeq, size + 1)
      : db
          .prepare("SELECT * FROM job_logs WHERE workspace_id = ? AND job_id = ? AND severity = ? AND seq > ? ORDER BY seq LIMIT ?")
          .all(ws, jobId, severity, afterSeq, size + 1)
  ) as LogRow[];
  return pageOf(rows, size);
}
