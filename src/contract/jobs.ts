// Batch Processing request and response schemas. Field names follow what the official client
// sends and reads (../shared/contract/real-client.md, "Job definitions" and "Response field names").
// Request objects are strict so a typo such as `notificationUrl` is rejected with a did-you-mean.
import { z } from "@hono/zod-openapi";
import { ApiKeyQuery, ID_RULE, JobIdParam, NextPageToken, PageSizeQuery, PageTokenQuery, Timestamp, WorkspaceParam } from "./common.js";

export const JOB_TYPES = ["simple-image-processing-v1", "simple-video-processing-v1", "trt-compilation-v1"] as const;
export const MACHINE_TYPES = ["cpu", "gpu"] as const;
export const AGGREGATION_FORMATS = ["jsonl", "csv"] as const;
export const INFERENCE_BACKENDS = ["old-inference", "inference-models"] as const;
export const COMPILATION_DEVICES = ["nvidia-l4", "nvidia-t4", "nvidia-l40s"] as const;
export const LOG_SEVERITIES = ["info", "warning", "error"] as const;

const HttpUrl = z
  .string()
  .regex(/^https?:\/\/[^\s]+$/, { message: "must be an absolute http:// or https:// URL" })
  .openapi({
    description: "Webhook URL for the job's terminal notification (POST, `Authorization: Bearer rf_{the workspace's internal id}`).",
    example: "https://example.com/hooks/roboflow",
  });

export const ComputeConfiguration = z
  .strictObject({
    type: z.literal("compute-configuration-v2"),
    machineType: z.enum(MACHINE_TYPES).nullish().openapi({ description: "cpu (default) or gpu." }),
    workersPerMachine: z.number().int().min(1).max(64).nullish().openapi({ description: "Parallel workers on one machine (default 4)." }),
  })
  .openapi("ComputeConfigurationV2");

const inputFields = {
  type: z.literal("staging-batch-input-v1"),
  batchId: z
    .string()
    .max(64, { message: `batch id must be at most 64 characters (${ID_RULE})` })
    .regex(/^[a-z0-9_-]+$/, { message: `batch id must use ${ID_RULE}` })
    .openapi({ description: "Staging batch holding the input files." }),
  partName: z.string().min(1).nullish().openapi({ description: "Part of a multipart batch to process (required for multipart batches)." }),
};
export const ImageJobInput = z
  .strictObject({ ...inputFields, imagesMetadataPart: z.string().min(1).nullish().openapi({ description: "Part of a multipart batch with images metadata." }) })
  .openapi("StagingBatchInputV1");
export const VideoJobInput = z.strictObject(inputFields).openapi("StagingBatchInputV1Videos");

const specFields = {
  type: z.literal("workflows-processing-specification-v1"),
  workspace: z.string().min(1).openapi({ description: "Workspace owning the Workflow (your workspace)." }),
  workflowId: z.string().min(1).openapi({ description: "Workflow to run." }),
  workflowParameters: z.record(z.string(), z.unknown()).nullish(),
  imageInputName: z.string().min(1).nullish(),
  persistImagesOutputs: z.boolean().nullish(),
  imagesOutputsToBePersisted: z.array(z.string()).nullish(),
  aggregationFormat: z.enum(AGGREGATION_FORMATS).nullish().openapi({ description: "Format of the aggregated results (default jsonl)." }),
};
export const ImageProcessingSpecification = z
  .strictObject({ ...specFields, imagesMetadataInputsMapping: z.record(z.string(), z.string()).nullish() })
  .openapi("WorkflowsProcessingSpecificationV1");
export const VideoProcessingSpecification = z
  .strictObject({
    ...specFields,
    maxVideoFPS: z.number().positive().nullish().openapi({ description: "Frames per second to run the Workflow on (sub-sampling)." }),
  })
  .openapi("WorkflowsProcessingSpecificationV1Videos");

const workflowJobFields = {
  computeConfiguration: ComputeConfiguration,
  processingTimeoutSeconds: z
    .number()
    .int()
    .positive()
    .nullish()
    .openapi({ description: "Cumulative machine runtime limit in seconds (default 3600), divided evenly across tasks." }),
  maxParallelTasks: z.number().int().min(1).nullish(),
  notificationsURL: HttpUrl.nullish(),
  inferenceBackend: z.enum(INFERENCE_BACKENDS).nullish(),
};

export const ImageProcessingJob = z
  .strictObject({
    type: z.literal("simple-image-processing-v1"),
    jobInput: ImageJobInput,
    processingSpecification: ImageProcessingSpecification,
    ...workflowJobFields,
    maxImageFailureRate: z
      .number()
      .min(0)
      .max(1)
      .nullish()
      .openapi({ description: "Fraction (0-1) of a task's images that may fail before the task fails; default: 10 images per task." }),
  })
  .openapi("WorkflowImageProcessingJobV1");

export const VideoProcessingJob = z
  .strictObject({
    type: z.literal("simple-video-processing-v1"),
    jobInput: VideoJobInput,
    processingSpecification: VideoProcessingSpecification,
    ...workflowJobFields,
  })
  .openapi("WorkflowVideoProcessingJobV1");

export const TrtCompilationJob = z
  .strictObject({
    type: z.literal("trt-compilation-v1"),
    modelId: z.string().regex(/^[A-Za-z0-9_-]+\/[0-9]+$/, { message: 'must look like "project-id/version", e.g. "my-project/3"' }),
    compilationDevices: z.array(z.enum(COMPILATION_DEVICES)).min(1).nullish().openapi({ description: "Target devices (default: all three)." }),
    notificationsURL: HttpUrl.nullish(),
  })
  .openapi("TRTCompilationJobV1");

export const JobDefinition = z.discriminatedUnion("type", [ImageProcessingJob, VideoProcessingJob, TrtCompilationJob]).openapi("JobDefinition");

export type ImageJobDefinition = z.infer<typeof ImageProcessingJob>;
export type VideoJobDefinition = z.infer<typeof VideoProcessingJob>;
export type TrtJobDefinition = z.infer<typeof TrtCompilationJob>;
export type JobDefinitionJson = z.infer<typeof JobDefinition>;
export type CompilationDevice = (typeof COMPILATION_DEVICES)[number];

export const RestartOverride = z
  .strictObject({
    type: z.literal("parameters-override-v1"),
    computeConfiguration: ComputeConfiguration.optional(),
    maxParallelTasks: z.number().int().min(1).nullish(),
    processingTimeoutSeconds: z.number().positive().nullish(),
    maxImageFailureRate: z.number().min(0).max(1).nullish(),
  })
  .openapi("ParametersOverrideV1");
export type RestartOverrideJson = z.infer<typeof RestartOverride>;

// ---- path and query ----------------------------------------------------------------------------

export const JobsPathParams = z.object({ workspace: WorkspaceParam });
export const JobPathParams = z.object({ workspace: WorkspaceParam, jobId: JobIdParam });
export const StagePathParams = z.object({
  workspace: WorkspaceParam,
  jobId: JobIdParam,
  stageId: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: "stageId", in: "path" }, description: "processingStageId from the stages listing.", example: "processing" }),
});
export const ListJobsQuery = z.object({ api_key: ApiKeyQuery, pageSize: PageSizeQuery, nextPageToken: PageTokenQuery });
export const CreateJobQuery = z.object({
  api_key: ApiKeyQuery,
  name: z
    .string()
    .max(256)
    .optional()
    .openapi({ param: { name: "name", in: "query" }, description: "Human-readable job name (defaults to the job id)." }),
});
export const KeyOnlyQuery = z.object({ api_key: ApiKeyQuery });
export const ListTasksQuery = z.object({ api_key: ApiKeyQuery, pageSize: PageSizeQuery, nextPageToken: PageTokenQuery });
export const ListLogsQuery = z.object({
  api_key: ApiKeyQuery,
  pageSize: PageSizeQuery,
  nextPageToken: PageTokenQuery,
  severity: z
    .enum(LOG_SEVERITIES)
    .optional()
    .openapi({ param: { name: "severity", in: "query" }, description: "Only logs of this severity." }),
});

// ---- responses ---------------------------------------------------------------------------------

const Notification = z.union([z.record(z.string(), z.unknown()), z.string()]);

export const Job = z
  .object({
    jobId: z.string(),
    name: z.string(),
    jobDefinition: z.record(z.string(), z.unknown()),
    currentStage: z.string().nullable().openapi({ description: "Stage now running (null while queued)." }),
    plannedStages: z.array(z.string()).nullable(),
    error: z.boolean(),
    isTerminal: z.boolean(),
    lastNotification: Notification.nullable(),
    createdAt: Timestamp,
    lastUpdate: Timestamp,
    restartParametersOverride: z.array(z.record(z.string(), z.unknown())),
  })
  .openapi("JobMetadata");

export const Stage = z
  .object({
    processingStageId: z.string(),
    processingStageName: z.string(),
    tasksNumber: z.number().int().positive(),
    outputBatches: z.array(z.string()),
    startTimestamp: Timestamp,
    notification: Notification,
    statusType: z.string().openapi({ description: '"info" while running; contains "success" or "error" when finished ("aborted" after an abort).' }),
    lastEventTimestamp: Timestamp,
  })
  .openapi("JobStageDetails");

export const Task = z
  .object({
    taskId: z.string(),
    notification: Notification,
    statusType: z.string(),
    progress: z.number().nullable(),
    eventTimestamp: Timestamp,
  })
  .openapi("TaskStatus");

export const Log = z
  .object({
    createdAt: Timestamp,
    processingStageId: z.string().nullable(),
    taskId: z.string().nullable(),
    severity: z.enum(LOG_SEVERITIES),
    reportingModule: z.string(),
    logType: z.string(),
    payload: z.record(z.string(), z.unknown()),
  })
  .openapi("JobLog");

export const ListJobsResponse = z.object({ status: z.string(), jobs: z.array(Job), nextPageToken: NextPageToken }).openapi("ListBatchJobsResponse");
export const GetJobResponse = z.object({ status: z.string(), job: Job }).openapi("GetJobMetadataResponse");
export const ListStagesResponse = z.object({ status: z.string(), stages: z.array(Stage) }).openapi("ListJobStagesResponse");
export const ListTasksResponse = z.object({ status: z.string(), tasks: z.array(Task), nextPageToken: NextPageToken }).openapi("ListJobStageTasksResponse");
export const ListLogsResponse = z.object({ status: z.string(), logs: z.array(Log), nextPageToken: NextPageToken }).openapi("JobLogsResponse");
export const JobActionResponse = z.object({ status: z.string(), jobId: z.string(), message: z.string() }).openapi("JobActionResponse");

export type JobJson = z.infer<typeof Job>;
export type StageJson = z.infer<typeof Stage>;
export type TaskJson = z.infer<typeof Task>;
export type LogJson = z.infer<typeof Log>;
