// Write side of the jobs service: start, abort, restart and reset jobs. Routes, the seed file and
// the control API all call these, so a job is validated, stored and scheduled the same way whoever
// starts it. The work itself is done by the job engine (src/simulator/engine.ts) on the emulator clock.
import type { Emulator } from "../context.js";
import { JobIdParam } from "../contract/common.js";
import { JobDefinition, type JobDefinitionJson, type RestartOverrideJson } from "../contract/jobs.js";
import { badRequest, conflict, notFound, validationError } from "../errors.js";
import { CONTROL_API_LOOP, pointsAtControlApi } from "../http/self-url.js";
import { countFiles, deleteBatchRows, getBatch, listParts } from "../state/batches.js";
import {
  deleteJob,
  getJob,
  getStage,
  insertJob,
  jobKeys,
  listStages,
  rewindTasks,
  updateJob,
  updateStage,
  updateTasksWhere,
  type JobRow,
} from "../state/jobs.js";
import {
  DELAYS,
  canonicalJson,
  outputBatchId,
  plannedStages,
  specOf,
  stepDelay,
  withoutNulls,
  type JobScript,
  type WorkflowSpec,
} from "../simulator/job-plan.js";
import { notifyJob, writeJobLog } from "../simulator/job-steps.js";
import { requireJob } from "./queries.js";
import { assertInputNotExpired, assertJobBatchesLive } from "../staging/expiry.js";

export interface StartJobOptions {
  /** Job name (the `name` query parameter); defaults to the job id. */
  name?: string;
  /** Scripted behaviour for test doubles; stored with the job. */
  script?: JobScript;
}

export interface StartJobResult {
  /** false when the same job id was already started with the same definition (an idempotent replay). */
  created: boolean;
  job: JobRow;
}

/**
 * Validates and starts a job: the same checks as `POST /jobs/{jobId}` (definition, input batch, job id).
 * Throws ApiError on a bad request. Replaying an identical request is idempotent; a different
 * definition under a used job id is a 409.
 */
export function startJob(emu: Emulator, ws: string, jobId: string, definition: unknown, opts: StartJobOptions = {}): StartJobResult {
  const idCheck = JobIdParam.safeParse(jobId);
  if (!idCheck.success) throw validationError(idCheck.error, JobIdParam, jobId, "path");
  const parsed = JobDefinition.safeParse(definition);
  if (!parsed.success) throw validationError(parsed.error, JobDefinition, definition);
  const def = withoutNulls(parsed.data);
  if (typeof def.notificationsURL === "string" && pointsAtControlApi(def.notificationsURL, emu)) {
    throw badRequest(`Invalid notificationsURL: ${CONTROL_API_LOOP}`, [
      { field: "notificationsURL", problem: "points at the emulator's own control API", received: def.notificationsURL },
    ]);
  }
  const name = opts.name ?? jobId;
  const script = opts.script ? JSON.stringify(opts.script) : null;

  const existing = getJob(emu.db, ws, jobId);
  if (existing) {
    if (existing.definition === canonicalJson(def) && existing.name === name && existing.script === script) return { created: false, job: existing };
    throw conflict(
      `Job "${jobId}" already exists in workspace "${ws}" with a different ${existing.name !== name ? "name" : "definition"}`,
      "Job ids are chosen by the client and must be unique per workspace: pick a new job id (sending the identical request again is accepted as a retry).",
    );
  }

  const spec = specOf(def);
  const inputCount = spec.kind === "trt" ? 0 : checkInput(emu, ws, jobId, spec);
  const now = emu.clock.now();
  const stages = plannedStages(spec.kind);
  emu.db.transaction(() => {
    insertJob(emu.db, {
      workspace_id: ws,
      job_id: jobId,
      name,
      job_type: def.type,
      definition: canonicalJson(def),
      overrides: "[]",
      script,
      state: "queued",
      planned_stages: JSON.stringify(stages),
      current_stage: null,
      error: 0,
      is_terminal: 0,
      last_notification: JSON.stringify({ type: "job-queued", message: "Job accepted; waiting for compute" }),
      generation: 0,
      input_count: inputCount,
      machine_ms: 0,
      created_at: now,
      updated_at: now,
    });
    const input = spec.kind === "trt" ? {} : { inputBatch: spec.def.jobInput.batchId, inputFiles: inputCount };
    writeJobLog(emu, ws, jobId, "info", "batch-processing-api", "job-created", { jobType: def.type, name, plannedStages: stages, ...input }, null);
  })();
  emu.jobs.schedule(ws, jobId, stepDelay(opts.script ?? null, "queued", 1, DELAYS.queuedMs));
  return { created: true, job: getJob(emu.db, ws, jobId)! };
}

/**
 * The request-side checks of a Workflow job's input: the workspace named in the definition, the
 * input batch (and part) existing and holding the right kind of files, and free output batch names.
 * Returns the number of input files.
 */
export function checkInput(emu: Emulator, ws: string, jobId: string, { kind, def }: WorkflowSpec): number {
  const spec = def.processingSpecification;
  if (spec.workspace !== ws) {
    throw badRequest(`processingSpecification.workspace is "${spec.workspace}" but the job is created in workspace "${ws}"`, [
      {
        field: "processingSpecification.workspace",
        problem: "must be the workspace in the URL (the one the api_key belongs to)",
        received: spec.workspace,
        allowed: [ws],
      },
    ]);
  }
  const { batchId, partName } = def.jobInput;
  const imagesMetadataPart = "imagesMetadataPart" in def.jobInput ? def.jobInput.imagesMetadataPart : undefined;
  const want = kind === "image" ? "images" : "videos";
  assertInputNotExpired(emu, ws, batchId);
  const batch = getBatch(emu.db, ws, batchId);
  if (!batch) {
    throw notFound(
      `Input batch "${batchId}" not found in workspace "${ws}"`,
      "Stage the input first (POST .../data-staging/v1/external/{workspace}/batches/{batchId}/upload/image) and check GET .../count before starting the job.",
    );
  }
  const otherType = kind === "image" ? "simple-video-processing-v1" : "simple-image-processing-v1";
  if (batch.batch_type === "multipart-batch") {
    const parts = listParts(emu.db, ws, batchId);
    const names = parts.map((p) => p.part_name);
    if (!partName) {
      throw badRequest(
        `Input batch "${batchId}" is a multipart batch: set jobInput.partName to the part to process (${names.map((n) => `"${n}"`).join(", ") || "it has no parts"})`,
        [{ field: "jobInput.partName", problem: "required for multipart batches", received: "(missing)", allowed: names }],
      );
    }
    const part = parts.find((p) => p.part_name === partName);
    if (!part) {
      throw badRequest(`Input batch "${batchId}" has no part "${partName}"`, [
        { field: "jobInput.partName", problem: "unknown part", received: partName, allowed: names },
      ]);
    }
    if (part.content_type !== want) {
      throw badRequest(`Part "${partName}" of input batch "${batchId}" holds ${part.content_type}; ${def.type} jobs need ${want}`, [
        { field: "jobInput.partName", problem: `part holds ${part.content_type}, not ${want}`, received: partName },
      ]);
    }
    if (imagesMetadataPart && !names.includes(imagesMetadataPart)) {
      throw badRequest(`Input batch "${batchId}" has no part "${imagesMetadataPart}"`, [
        { field: "jobInput.imagesMetadataPart", problem: "unknown part", received: imagesMetadataPart, allowed: names },
      ]);
    }
  } else {
    if (partName) {
      throw badRequest(`Input batch "${batchId}" is a ${batch.batch_type}, not a multipart batch: remove jobInput.partName`, [
        { field: "jobInput.partName", problem: "only multipart batches have parts", received: partName },
      ]);
    }
    if (imagesMetadataPart) {
      throw badRequest(`Input batch "${batchId}" is a ${batch.batch_type}, not a multipart batch: remove jobInput.imagesMetadataPart`, [
        { field: "jobInput.imagesMetadataPart", problem: "only multipart batches have parts", received: imagesMetadataPart },
      ]);
    }
    if (batch.content_type !== want) {
      throw badRequest(
        `Input batch "${batchId}" holds ${batch.content_type}; ${def.type} jobs need a batch of ${want}`,
        [{ field: "jobInput.batchId", problem: `batch holds ${batch.content_type}, not ${want}`, received: batchId }],
        `Use a ${otherType} job for a batch of ${batch.content_type}, or stage ${want} in another batch.`,
      );
    }
  }
  const count = countFiles(emu.db, ws, batchId, batch.batch_type === "multipart-batch" ? (partName ?? undefined) : "");
  if (count === 0) {
    throw badRequest(
      `Input batch "${batchId}" has no ${want} to process yet`,
      [{ field: "jobInput.batchId", problem: "batch is empty", received: batchId }],
      "Bulk ingests are indexed in the background: wait until GET .../batches/{batchId}/count is above 0.",
    );
  }
  for (const stage of ["processing", "export"]) {
    const out = outputBatchId(jobId, stage);
    if (getBatch(emu.db, ws, out)) {
      throw conflict(`Job "${jobId}" would write its ${stage} results to batch "${out}", which already exists`, "Pick another job id.");
    }
  }
  return count;
}

/** Stops a running job for good: what was produced stays, running tasks and the current stage end with an error. */
export function abortJob(emu: Emulator, ws: string, jobId: string): { message: string } {
  const job = requireJob(emu, ws, jobId);
  if (job.is_terminal) throw conflict(`Job "${jobId}" already finished (${job.state}); there is nothing to abort`);
  const now = emu.clock.now();
  const notification = {
    type: "job-aborted",
    message: `Job aborted on request${job.current_stage ? ` during stage ${job.current_stage}` : " before it started"}; results produced so far are kept`,
  };
  emu.db.transaction(() => {
    updateTasksWhere(emu.db, ws, jobId, ["running"], {
      state: "aborted",
      status_type: "error",
      event_at: now,
      notification: JSON.stringify({ type: "task-aborted", message: "Stopped because the job was aborted" }),
    });
    if (job.current_stage) {
      const stage = getStage(emu.db, ws, jobId, job.current_stage);
      if (stage?.state === "running")
        updateStage(emu.db, ws, jobId, stage.stage_id, { state: "aborted", status_type: "error", notification: JSON.stringify(notification) }, now);
    }
    updateJob(
      emu.db,
      ws,
      jobId,
      { state: "aborted", is_terminal: 1, error: 1, generation: job.generation + 1, last_notification: JSON.stringify(notification) },
      now,
    );
    writeJobLog(emu, ws, jobId, "warning", "batch-processing-api", "job-aborted", notification, job.current_stage);
    notifyJob(emu, ws, jobId, (JSON.parse(job.definition) as JobDefinitionJson).notificationsURL, "fail");
  })();
  emu.jobs.cancel(ws, jobId);
  return { message: notification.message };
}

/**
 * Restarts a failed or aborted job where it stopped: succeeded tasks and their outputs are kept,
 * failed, aborted and unfinished tasks run again. An override is appended to restartParametersOverride.
 */
export function restartJob(emu: Emulator, ws: string, jobId: string, override?: RestartOverrideJson): { message: string } {
  const job = requireJob(emu, ws, jobId);
  if (!job.is_terminal)
    throw conflict(
      `Job "${jobId}" is still running (${job.current_stage ?? "queued"}); only a failed or aborted job can be restarted`,
      "Abort it first, or wait for it to finish.",
    );
  if (job.state === "succeeded")
    throw conflict(`Job "${jobId}" already succeeded; there is nothing to restart`, "Start a new job (with a new job id) to process the data again.");
  assertJobBatchesLive(emu, ws, job);
  if (job.job_type !== "simple-image-processing-v1" && override?.maxImageFailureRate != null) {
    throw badRequest("maxImageFailureRate applies to image processing jobs only", [
      { field: "maxImageFailureRate", problem: "not allowed for this job type", received: override.maxImageFailureRate },
    ]);
  }
  const now = emu.clock.now();
  const overrides = JSON.parse(job.overrides) as unknown[];
  if (override) overrides.push(withoutNulls(override));
  const notification = {
    type: "job-restarted",
    message: `Job restarted${job.current_stage ? ` from stage ${job.current_stage}` : ""}; finished tasks are kept`,
  };
  emu.db.transaction(() => {
    updateTasksWhere(emu.db, ws, jobId, ["running", "failed", "aborted"], {
      state: "pending",
      status_type: "info",
      progress: null,
      event_at: now,
      notification: JSON.stringify({ type: "task-requeued", message: "Waiting for a worker after the job restart" }),
    });
    rewindTasks(emu.db, ws, jobId, ["pending"]);
    for (const stage of listStages(emu.db, ws, jobId)) {
      if (stage.state !== "succeeded")
        updateStage(
          emu.db,
          ws,
          jobId,
          stage.stage_id,
          {
            state: "running",
            status_type: "info",
            notification: JSON.stringify({ type: "stage-resumed", message: `Stage ${stage.stage_name} resumed after a restart` }),
          },
          now,
        );
    }
    updateJob(
      emu.db,
      ws,
      jobId,
      {
        state: job.current_stage ? "running" : "queued",
        is_terminal: 0,
        error: 0,
        generation: job.generation + 1,
        overrides: JSON.stringify(overrides),
        last_notification: JSON.stringify(notification),
      },
      now,
    );
    writeJobLog(emu, ws, jobId, "info", "batch-processing-api", "job-restarted", { override: override ? withoutNulls(override) : null }, job.current_stage);
  })();
  emu.jobs.schedule(ws, jobId, DELAYS.queuedMs);
  return { message: notification.message };
}

/**
 * Forgets jobs (all, or one workspace's): stops their timers and deletes their rows, logs and
 * output batches (rows and blobs). For the control API's reset.
 */
export function resetJobs(emu: Emulator, ws?: string): number {
  const keys = jobKeys(emu.db, ws);
  const blobs: string[] = [];
  for (const k of keys) emu.jobs.cancel(k.workspace_id, k.job_id);
  emu.db.transaction(() => {
    for (const k of keys) {
      for (const stage of listStages(emu.db, k.workspace_id, k.job_id)) {
        for (const batchId of JSON.parse(stage.output_batches) as string[]) {
          const b = getBatch(emu.db, k.workspace_id, batchId);
          if (b?.origin === "job-output") blobs.push(...deleteBatchRows(emu.db, k.workspace_id, batchId));
        }
      }
      deleteJob(emu.db, k.workspace_id, k.job_id);
    }
  })();
  emu.blobs.removeLater(blobs);
  return keys.length;
}
