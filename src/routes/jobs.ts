// Batch Processing API: create, list and inspect jobs, their stages, tasks and logs; abort and
// restart. Each handler parses, calls the jobs service (src/jobs/) and answers.
import { OpenAPIHono, createRoute } from "@hono/zod-openapi";
import type { AppEnv, Emulator } from "../context.js";
import { StatusOk, errorResponses, jsonContent } from "../contract/common.js";
import {
  CreateJobQuery,
  GetJobResponse,
  JobActionResponse,
  JobDefinition,
  JobPathParams,
  JobsPathParams,
  KeyOnlyQuery,
  ListJobsQuery,
  ListJobsResponse,
  ListLogsQuery,
  ListLogsResponse,
  ListStagesResponse,
  ListTasksQuery,
  ListTasksResponse,
  RestartOverride,
  StagePathParams,
  type RestartOverrideJson,
} from "../contract/jobs.js";
import { abortJob, restartJob, startJob } from "../jobs/commands.js";
import { jobView, jobsPage, logsPage, stagesOf, tasksPage } from "../jobs/queries.js";
import { hookFor } from "./validation.js";

const BASE = "/batch-processing/v1/external/{workspace}/jobs";
const tags = ["Batch Processing"];

const listJobsRoute = createRoute({
  method: "get",
  path: BASE,
  tags,
  summary: "List jobs (newest first)",
  request: { params: JobsPathParams, query: ListJobsQuery },
  responses: { 200: jsonContent(ListJobsResponse, "A page of jobs; nextPageToken is null on the last page."), ...errorResponses(400) },
});

const getJobRoute = createRoute({
  method: "get",
  path: `${BASE}/{jobId}`,
  tags,
  summary: "Job metadata",
  description:
    "Answers `{status, job}`. The public reference lists top-level `jobStatus`/`progress`; the real service does not send them: read `job.isTerminal`, `job.error`, `job.currentStage` and the stages.",
  request: { params: JobPathParams, query: KeyOnlyQuery },
  responses: { 200: jsonContent(GetJobResponse, "The job."), ...errorResponses(400, 404) },
});

const createJobRoute = createRoute({
  method: "post",
  path: `${BASE}/{jobId}`,
  tags,
  summary: "Start a job (the client picks the job id)",
  description:
    "Body: a job definition (`simple-image-processing-v1`, `simple-video-processing-v1` or `trt-compilation-v1`). Unknown keys are rejected " +
    "(the webhook key is `notificationsURL`). The input batch must exist and hold the right kind of files. Sending the identical request " +
    "again is accepted as a retry; a different definition under a used job id is a 409.",
  request: {
    params: JobPathParams,
    query: CreateJobQuery,
    body: { required: true, content: { "application/json": { schema: JobDefinition } } },
  },
  responses: { 200: jsonContent(StatusOk, "Job accepted."), ...errorResponses(400, 404, 409, 413, 415) },
});

const listStagesRoute = createRoute({
  method: "get",
  path: `${BASE}/{jobId}/stages`,
  tags,
  summary: "Stages of a job (started ones)",
  request: { params: JobPathParams, query: KeyOnlyQuery },
  responses: { 200: jsonContent(ListStagesResponse, "Stages in the order they ran; each lists its output batches."), ...errorResponses(400, 404) },
});

const listTasksRoute = createRoute({
  method: "get",
  path: `${BASE}/{jobId}/stages/{stageId}/tasks`,
  tags,
  summary: "Tasks of a stage",
  request: { params: StagePathParams, query: ListTasksQuery },
  responses: {
    200: jsonContent(ListTasksResponse, "A page of tasks that have been picked up; nextPageToken is null on the last page."),
    ...errorResponses(400, 404),
  },
});

const listLogsRoute = createRoute({
  method: "get",
  path: `${BASE}/{jobId}/logs`,
  tags,
  summary: "Job logs (oldest first)",
  request: { params: JobPathParams, query: ListLogsQuery },
  responses: { 200: jsonContent(ListLogsResponse, "A page of logs; nextPageToken is null on the last page."), ...errorResponses(400, 404) },
});

const abortRoute = createRoute({
  method: "post",
  path: `${BASE}/{jobId}/abort`,
  tags,
  summary: "Abort a running job",
  description: "Stops the job for good; results produced so far stay in its output batches. A finished job answers 409.",
  request: { params: JobPathParams, query: KeyOnlyQuery },
  responses: { 200: jsonContent(JobActionResponse, "Abort done."), ...errorResponses(400, 404, 409, 413) },
});

const restartRoute = createRoute({
  method: "post",
  path: `${BASE}/{jobId}/restart`,
  tags,
  summary: "Restart a failed or aborted job",
  description:
    "No body, or a `parameters-override-v1` object (appended to the job's restartParametersOverride). Finished tasks are kept; failed, " +
    "aborted and unfinished ones run again with the overrides applied.",
  request: {
    params: JobPathParams,
    query: KeyOnlyQuery,
    body: { required: false, content: { "application/json": { schema: RestartOverride } } },
  },
  responses: { 200: jsonContent(JobActionResponse, "Restart accepted."), ...errorResponses(400, 404, 409, 413, 415) },
});

export function jobRoutes(emu: Emulator) {
  const app = new OpenAPIHono<AppEnv>();

  app.openapi(
    listJobsRoute,
    (c) => {
      const q = c.req.valid("query");
      const page = jobsPage(emu, c.get("workspace"), q.nextPageToken, q.pageSize);
      return c.json({ status: "ok", jobs: page.items, nextPageToken: page.nextPageToken }, 200);
    },
    hookFor(listJobsRoute),
  );

  app.openapi(
    getJobRoute,
    (c) => {
      const { jobId } = c.req.valid("param");
      return c.json({ status: "ok", job: jobView(emu, c.get("workspace"), jobId) }, 200);
    },
    hookFor(getJobRoute),
  );

  app.openapi(
    createJobRoute,
    (c) => {
      const { jobId } = c.req.valid("param");
      const { name } = c.req.valid("query");
      startJob(emu, c.get("workspace"), jobId, c.req.valid("json"), { name: name || undefined });
      return c.json({ status: "ok" }, 200);
    },
    hookFor(createJobRoute),
  );

  app.openapi(
    listStagesRoute,
    (c) => {
      const { jobId } = c.req.valid("param");
      return c.json({ status: "ok", stages: stagesOf(emu, c.get("workspace"), jobId) }, 200);
    },
    hookFor(listStagesRoute),
  );

  app.openapi(
    listTasksRoute,
    (c) => {
      const { jobId, stageId } = c.req.valid("param");
      const q = c.req.valid("query");
      const page = tasksPage(emu, c.get("workspace"), jobId, stageId, q.nextPageToken, q.pageSize);
      return c.json({ status: "ok", tasks: page.items, nextPageToken: page.nextPageToken }, 200);
    },
    hookFor(listTasksRoute),
  );

  app.openapi(
    listLogsRoute,
    (c) => {
      const { jobId } = c.req.valid("param");
      const q = c.req.valid("query");
      const page = logsPage(emu, c.get("workspace"), jobId, q.severity, q.nextPageToken, q.pageSize);
      return c.json({ status: "ok", logs: page.items, nextPageToken: page.nextPageToken }, 200);
    },
    hookFor(listLogsRoute),
  );

  app.openapi(
    abortRoute,
    (c) => {
      const { jobId } = c.req.valid("param");
      const { message } = abortJob(emu, c.get("workspace"), jobId);
      return c.json({ status: "ok", jobId, message }, 200);
    },
    hookFor(abortRoute),
  );

  app.openapi(
    restartRoute,
    (c) => {
      const { jobId } = c.req.valid("param");
      // Without a JSON body the validator hands over {}: the official client sends no body when nothing is overridden.
      const body: Partial<RestartOverrideJson> | undefined = c.req.valid("json");
      const override = body?.type ? (body as RestartOverrideJson) : undefined;
      const { message } = restartJob(emu, c.get("workspace"), jobId, override);
      return c.json({ status: "ok", jobId, message }, 200);
    },
    hookFor(restartRoute),
  );

  return app;
}
