// Job store rows → the JSON the real service sends (field names from the official client's
// entities.py). Pure functions; the queries (queries.ts) answer the routes with these.
import { iso } from "../clock.js";
import type { JobJson, LogJson, StageJson, TaskJson } from "../contract/jobs.js";
import type { JobRow, LogRow, StageRow, TaskRow } from "../state/jobs.js";

const parse = <T>(s: string | null, fallback: T): T => (s === null ? fallback : (JSON.parse(s) as T));

export function presentJob(j: JobRow): JobJson {
  return {
    jobId: j.job_id,
    name: j.name,
    jobDefinition: JSON.parse(j.definition) as JobJson["jobDefinition"],
    currentStage: j.current_stage,
    plannedStages: JSON.parse(j.planned_stages) as string[],
    error: j.error === 1,
    isTerminal: j.is_terminal === 1,
    lastNotification: parse(j.last_notification, null),
    createdAt: iso(j.created_at),
    lastUpdate: iso(j.updated_at),
    restartParametersOverride: JSON.parse(j.overrides) as JobJson["restartParametersOverride"],
  };
}

export function presentStage(s: StageRow): StageJson {
  return {
    processingStageId: s.stage_id,
    processingStageName: s.stage_name,
    tasksNumber: s.tasks_number,
    outputBatches: JSON.parse(s.output_batches) as string[],
    startTimestamp: iso(s.started_at),
    notification: JSON.parse(s.notification) as StageJson["notification"],
    statusType: s.status_type,
    lastEventTimestamp: iso(s.last_event_at),
  };
}

export function presentTask(t: TaskRow): TaskJson {
  return {
    taskId: t.task_id,
    notification: parse(t.notification, { type: "task-queued", message: "Waiting for a worker" }),
    statusType: t.status_type,
    progress: t.progress,
    eventTimestamp: iso(t.event_at),
  };
}

export function presentLog(l: LogRow): LogJson {
  return {
    createdAt: iso(l.created_at),
    processingStageId: l.stage_id,
    taskId: l.task_id,
    severity: l.severity,
    reportingModule: l.reporting_module,
    logType: l.log_type,
    payload: JSON.parse(l.payload) as LogJson["payload"],
  };
}
