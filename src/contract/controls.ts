// Schemas of the test-double control API under /_emulator (tag "Emulator Controls"). Bodies that
// people type by hand are strict, so a misspelt key gets a did-you-mean instead of being ignored.
import { z } from "@hono/zod-openapi";
import { intQuery } from "./common.js";
import { BodyMatch, BodySummary, ValueMatch } from "./controls-verify.js";

import { ok } from "./controls-ok.js";

export * from "./controls-webhooks.js";
export const Deleted = ok({ deleted: z.number().int() });
export const Queued = ok({ id: z.string() });

/** How the emulator clock runs: real time, scaled, no waiting at all, or advanced by hand. */
export const ClockMode = z.enum(["real", "scaled", "max", "manual"]);
export type ClockMode = z.infer<typeof ClockMode>;

// ---- seed ------------------------------------------------------------------------------------

const IdString = z.string().regex(/^[a-z0-9_-]{1,64}$/, { message: "must match [a-z0-9_-]{1,64}" });

export const SeedImageSpec = z.strictObject({
  width: z.number().int().min(1).max(4096).optional().openapi({ description: "Pixels (default 64)." }),
  height: z.number().int().min(1).max(4096).optional().openapi({ description: "Pixels (default 48)." }),
  color: z
    .string()
    .regex(/^#?[0-9a-fA-F]{6}$/)
    .optional()
    .openapi({ description: "Base colour as RRGGBB (default: derived from the file name)." }),
});

export const SeedFileEntry = z
  .strictObject({
    name: z
      .string()
      .min(1)
      .max(256)
      .regex(/^[^/\\]+$/, { message: "must be a file name without slashes" }),
    base64: z.string().optional().openapi({ description: "File bytes, base64." }),
    text: z.string().optional().openapi({ description: "File bytes as UTF-8 text (e.g. a JSONL or CSV part)." }),
    image: SeedImageSpec.optional().openapi({ description: "Generate a PNG image (the name should end in .png)." }),
    partName: z.string().optional().openapi({ description: "Part of a multipart batch." }),
    contentType: z.string().optional().openapi({ description: "Listing contentType (default: from the extension: image, video, archive, metadata...)." }),
    mediaType: z.string().optional().openapi({ description: "MIME type served on download (default: from the extension)." }),
    shardId: z.string().optional(),
  })
  .openapi("SeedFileEntry");

export const SeedBatch = z
  .strictObject({
    workspace: IdString.optional().openapi({ description: "Default: the emulator's default workspace." }),
    batchId: IdString,
    displayName: z.string().optional(),
    batchType: z
      .enum(["simple-batch", "sharded-batch", "multipart-batch"])
      .optional()
      .openapi({ description: "Default: multipart-batch when parts are given, else simple-batch." }),
    contentType: z.enum(["images", "videos", "metadata", "archives", "mixed"]).optional(),
    origin: z.enum(["user", "job-output"]).optional(),
    parts: z
      .array(
        z.strictObject({
          name: z.string().min(1),
          type: z.string().optional(),
          contentType: z.string().optional(),
          description: z.string().optional(),
          nestedContentType: z.string().optional(),
        }),
      )
      .optional(),
    files: z.array(SeedFileEntry).optional(),
    images: z
      .strictObject({
        count: z.number().int().min(1).max(10_000),
        width: z.number().int().min(1).max(4096).optional(),
        height: z.number().int().min(1).max(4096).optional(),
        prefix: z
          .string()
          .regex(/^[^/\\]*$/)
          .optional()
          .openapi({ description: "File name prefix (default image-)." }),
        partName: z.string().optional(),
      })
      .optional()
      .openapi({ description: "Generate this many distinct PNG images." }),
  })
  .openapi("SeedBatch");

export const JobScript = z
  .strictObject({
    stageDurationsMs: z
      .record(z.string(), z.number().min(0))
      .optional()
      .openapi({
        description: "Emulated duration of each named stage (processing, export...), spread over its steps.",
        example: { processing: 60000, export: 10000 },
      }),
    failTasks: z
      .record(z.string(), z.array(z.number().int().min(0)))
      .optional()
      .openapi({ description: "Task indexes that fail on their first attempt, per stage name.", example: { processing: [0] } }),
    finalState: z.enum(["success", "fail"]).optional().openapi({ description: "fail: the job fails at the end of its last stage." }),
  })
  .openapi("JobScript");

export const SeedJob = z
  .strictObject({
    workspace: IdString.optional(),
    jobId: z.string().regex(/^[a-z0-9_-]{1,20}$/, { message: "must match [a-z0-9_-]{1,20}" }),
    name: z.string().optional(),
    definition: z.record(z.string(), z.unknown()).openapi({ description: "A job definition, as POSTed to the jobs API." }),
    script: JobScript.optional(),
    state: z
      .enum(["succeeded", "failed", "running"])
      .optional()
      .openapi({ description: "Shortcut: succeeded / failed set script.finalState; running makes the processing stage last (practically) forever." }),
  })
  .openapi("SeedJob");

export const DeterministicSpec = z.strictObject({
  seed: z.union([z.number().int(), z.string()]).openapi({ description: "Seed of the id generator (event ids, shard ids, generated job ids)." }),
  startTime: z
    .string()
    .datetime({ offset: true })
    .optional()
    .openapi({ description: "The clock starts at this instant (honoured at start-up, --seed only).", example: "2026-01-01T00:00:00Z" }),
  clock: ClockMode.optional().openapi({ description: "Clock mode to start in; manual makes every timestamp reproducible." }),
});

const SeedWorkspace = z
  .strictObject({
    id: IdString,
    apiKeys: z.array(z.string().min(1)).optional(),
    internalId: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, { message: "internalId must be 1-64 letters, digits, '-' or '_'" })
      .optional()
      .openapi({
        description:
          "The workspace's internal id, as the real service has one besides the URL name: webhooks carry Authorization: Bearer rf_{internalId}. Default: 20 letters and digits derived from id (the same on every start).",
        example: "Xq3Lr9TzVb2N8sKp4WdE",
      }),
  })
  .openapi("SeedWorkspace");

const seedFields = {
  deterministic: DeterministicSpec.optional(),
  workspaces: z.array(SeedWorkspace).optional(),
  batches: z.array(SeedBatch).optional(),
  jobs: z.array(SeedJob).optional(),
};
export const SeedBody = z.strictObject(seedFields).openapi("Seed");
export type SeedBodyT = z.infer<typeof SeedBody>;
export type SeedBatchT = z.infer<typeof SeedBatch>;
export type SeedJobT = z.infer<typeof SeedJob>;
export type JobScriptT = z.infer<typeof JobScript>;

/** POST /_emulator/seed: a seed, optionally adopted as the start-up seed. */
export const SeedRequest = z
  .strictObject({
    ...seedFields,
    asStartupSeed: z.boolean().optional().openapi({
      description:
        "Also make this the start-up seed, as if given with --seed: reset {reseed: true} applies it again, and its deterministic block seeds the ids (restarted by every reset) and sets the clock mode (startTime is honoured at start-up only).",
    }),
  })
  .openapi("SeedRequest");
export type SeedRequestT = z.infer<typeof SeedRequest>;

export const SeedResult = z.object({
  status: z.literal("ok"),
  workspaces: z.number().int(),
  batches: z.number().int(),
  files: z.number().int(),
  jobs: z.number().int(),
});

// ---- reset / snapshot ------------------------------------------------------------------------

export const ResetBody = z.strictObject({
  workspace: IdString.optional().openapi({ description: "Reset only this workspace's data (it and its keys are kept). Omit for everything." }),
  reseed: z.boolean().optional().openapi({
    description:
      "After a full reset, apply the start-up seed again: the --seed file, the seed startEmulatorForTests({seed}) started with, or the last one posted with asStartupSeed.",
  }),
});
export type ResetBodyT = z.infer<typeof ResetBody>;
export const ResetResult = z.object({
  status: z.literal("ok"),
  workspace: z.string().nullable(),
  ms: z.number().openapi({ description: "Time the reset took." }),
  deletedRows: z.record(z.string(), z.number().int()),
  blobsRemoved: z.number().int(),
});

export const Snapshot = z
  .object({
    format: z.literal("roboflow-batch-emulator-snapshot"),
    version: z.literal(1),
    schemaVersion: z.number().int(),
    exportedAt: z.string(),
    tables: z.record(z.string(), z.array(z.record(z.string(), z.unknown()))),
    blobs: z.record(z.string(), z.string()).openapi({ description: "Blob path → base64 bytes." }),
  })
  .openapi("Snapshot");
export type SnapshotT = z.infer<typeof Snapshot>;
export const SnapshotImported = ok({ rows: z.record(z.string(), z.number().int()), blobs: z.number().int(), ms: z.number() });

// ---- journal ---------------------------------------------------------------------------------

/** Epoch ms from an ISO time or a number of epoch ms. */
const EmulatorTime = z.string().transform((text, ctx) => {
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (Number.isFinite(ms)) return ms;
  ctx.addIssue({ code: "custom", message: "since must be an ISO time or epoch ms", input: text });
  return z.NEVER;
});

export const JournalQuery = z.object({
  method: z.string().optional(),
  path: z.string().optional().openapi({ description: "Path prefix, e.g. /batch-processing/v1/external/ws/jobs" }),
  pathPattern: z.string().optional().openapi({ description: "Glob on the path: * within a segment, ** across." }),
  pathRegex: z.string().optional(),
  workspace: z.string().optional(),
  status: z
    .string()
    .regex(/^(\d{3}|[1-5][xX]{2}|dropped)$/, { message: 'status must be a code (429), a class (4xx) or "dropped"' })
    .optional()
    .openapi({ description: "Exact status, a class (4xx), or dropped." }),
  since: EmulatorTime.optional().openapi({ description: "ISO time or epoch ms (emulator clock)." }),
  after: intQuery("after", 0).optional().openapi({ description: "Only entries with seq greater than this (the next page of an ascending read)." }),
  before: intQuery("before", 0).optional().openapi({ description: "Only entries with seq less than this (the next page of a descending read)." }),
  fault: z.enum(["true", "false"]).optional().openapi({ description: "Only entries with (true) or without (false) an injected fault." }),
  includeControl: z.enum(["true", "false"]).optional(),
  operation: z
    .string()
    .optional()
    .openapi({ description: 'Operation as /openapi.json names it, e.g. "POST /batch-processing/v1/external/{workspace}/jobs/{jobId}".' }),
  bodyPath: z.string().optional().openapi({
    description:
      "JSON path into the request body (processingSpecification.aggregationFormat, a.b[0].c); with bodyEquals, bodyContains, bodyRegex or bodyAbsent (none: the field is present).",
  }),
  bodyEquals: z.string().optional(),
  bodyContains: z.string().optional(),
  bodyRegex: z.string().optional(),
  bodyAbsent: z.enum(["true", "false"]).optional(),
  queryParam: z.string().optional().openapi({ description: "A query parameter of the request; with queryEquals, queryContains, queryRegex or queryAbsent." }),
  queryEquals: z.string().optional(),
  queryContains: z.string().optional(),
  queryRegex: z.string().optional(),
  queryAbsent: z.enum(["true", "false"]).optional(),
  header: z.string().optional().openapi({ description: "A request header; with headerEquals, headerContains, headerRegex or headerAbsent." }),
  headerEquals: z.string().optional(),
  headerContains: z.string().optional(),
  headerRegex: z.string().optional(),
  headerAbsent: z.enum(["true", "false"]).optional(),
  limit: intQuery("limit", 1, 10_000).default(1000).openapi({
    description:
      "Max entries returned (default 1000, max 10000); a page also stops at about 8 MB of entries (then truncated is true). count is always the full total.",
  }),
  order: z.enum(["asc", "desc"]).optional(),
});
export type JournalQueryT = z.infer<typeof JournalQuery>;
export const JournalClearQuery = z.object({ workspace: z.string().optional() });

export const JournalEntry = z
  .object({
    seq: z.number().int(),
    at: z.string(),
    method: z.string(),
    path: z.string(),
    query: z.string(),
    headers: z.record(z.string(), z.string()),
    status: z.number().int().nullable(),
    latencyMs: z.number(),
    workspace: z.string().nullable(),
    fault: z.object({ ruleId: z.string(), type: z.string() }).nullable(),
    operation: z.string().nullable().openapi({ description: 'Operation of /openapi.json ("METHOD /path/{param}"); null for an unknown route.' }),
    requestBody: BodySummary.nullable(),
    responseHeaders: z.record(z.string(), z.string()).nullable(),
    responseBody: BodySummary.nullable(),
  })
  .openapi("JournalEntry");

export const JournalSettings = z.strictObject({
  includeControls: z.boolean().optional().openapi({ description: "Journal calls to /_emulator too." }),
  limit: z.number().int().min(10).max(1_000_000).optional().openapi({ description: "Rows kept (oldest pruned). Default 10000." }),
  bodyBytes: z
    .number()
    .int()
    .min(0)
    .max(1024 * 1024)
    .optional()
    .openapi({ description: "Bytes of each JSON or text body kept (default 16384; 0 keeps no body summaries). Files are kept as sizes and sha256 only." }),
});
export type JournalSettingsT = z.infer<typeof JournalSettings>;
export const JournalPage = ok({
  count: z.number().int(),
  truncated: z.boolean().openapi({
    description: "The page stopped at its size cap (about 8 MB of entries) before limit: read on with after=<last seq> (asc) or before=<last seq> (desc).",
  }),
  entries: z.array(JournalEntry),
});
export const JournalCount = ok({ count: z.number().int() });
export const JournalSettingsView = ok({ includeControls: z.boolean(), limit: z.number().int(), bodyBytes: z.number().int() });

// ---- faults ----------------------------------------------------------------------------------

export const FaultMatch = z
  .strictObject({
    method: z.union([z.string(), z.array(z.string())]).optional(),
    path: z
      .string()
      .optional()
      .openapi({ description: "Glob on the request path: * within a segment, ** across.", example: "/batch-processing/v1/external/*/jobs/*" }),
    pathRegex: z.string().optional(),
    workspace: z.string().optional(),
    jobId: z.string().optional(),
    batchId: z.string().optional(),
    stage: z.string().optional().openapi({ description: "Simulator faults: stage id." }),
    taskIndex: z.union([z.number().int().min(0), z.array(z.number().int().min(0))]).optional(),
    category: z.string().optional().openapi({ description: "Webhook faults: notification category (ingest-status, files-status, job...)." }),
    url: z.string().optional().openapi({ description: "Webhook faults: glob on the receiver URL (use ** to cross slashes)." }),
    query: z
      .record(z.string(), z.union([z.string(), ValueMatch]))
      .optional()
      .openapi({ description: "Request faults and stubs: query parameters (a string is equals)." }),
    headers: z
      .record(z.string(), z.union([z.string(), ValueMatch]))
      .optional()
      .openapi({ description: "Request faults and stubs: request headers (any case)." }),
    body: z.array(BodyMatch).optional().openapi({ description: "Request faults and stubs: JSON body fields by path (JSON bodies only)." }),
  })
  .openapi("FaultMatch");

const LatencyMs = z.number().int().min(0).max(600_000);
export const FaultAction = z
  .discriminatedUnion("type", [
    z.strictObject({
      type: z.literal("status"),
      status: z.number().int().min(400).max(599),
      retryAfter: z.number().int().min(0).optional().openapi({ description: "Retry-After seconds (default 1 on 429 and 503)." }),
      message: z.string().optional(),
      latencyMs: LatencyMs.optional(),
    }),
    z.strictObject({ type: z.literal("latency"), ms: LatencyMs }),
    z.strictObject({ type: z.literal("drop-connection"), latencyMs: LatencyMs.optional() }),
    z.strictObject({ type: z.literal("fail-task") }),
    z.strictObject({ type: z.literal("fail-stage") }),
    z.strictObject({ type: z.literal("webhook-drop") }),
    z.strictObject({ type: z.literal("webhook-delay"), ms: LatencyMs }),
    z.strictObject({ type: z.literal("webhook-duplicate") }),
    z.strictObject({
      type: z.literal("webhook-out-of-order"),
      ms: LatencyMs.optional().openapi({ description: "How long the delivery is held back (default 500)." }),
    }),
    z
      .strictObject({
        type: z.literal("respond"),
        status: z.number().int().min(200).max(599),
        headers: z.record(z.string(), z.string()).optional(),
        body: z
          .unknown()
          .optional()
          .openapi({ description: "JSON value sent as application/json; a string is sent as is (text/plain unless headers say otherwise)." }),
        latencyMs: LatencyMs.optional(),
      })
      .openapi({ description: "Stub: answer the matched request with this status, headers and body instead of the emulated service." }),
    z
      .strictObject({
        type: z.literal("job-state"),
        workspace: z.string().optional().openapi({ description: "Default: the emulator's default workspace." }),
        jobId: z.string(),
        state: z.enum(["failed", "succeeded", "aborted"]),
        at: z
          .union([z.string().datetime({ offset: true }), z.number().int()])
          .optional()
          .openapi({ description: "Emulator time (ISO or epoch ms) at which the job is put in the state." }),
        afterMs: z
          .number()
          .int()
          .min(0)
          .optional()
          .openapi({ description: "Or: this long (emulator time) after the rule is added. Neither: at once (on the next clock tick)." }),
        message: z.string().optional(),
      })
      .openapi({ description: "Stub: put a job into a terminal state at a given emulator time (what the simulator cannot reach on its own)." }),
  ])
  .openapi("FaultAction");
export type FaultActionT = z.infer<typeof FaultAction>;

export const FaultRuleBody = z
  .strictObject({
    id: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/)
      .optional()
      .openapi({ description: "Your name for the rule (default: generated)." }),
    match: FaultMatch.optional(),
    action: FaultAction,
    times: z.number().int().min(1).optional().openapi({ description: "Fire only the next N times it matches." }),
    probability: z.number().min(0).max(1).optional().openapi({ description: "Fire with this probability (seeded, deterministic)." }),
    seed: z.number().int().optional().openapi({ description: "Seed of the rule's generator (default 1)." }),
  })
  .openapi("FaultRuleInput");
export type FaultRuleBodyT = z.infer<typeof FaultRuleBody>;

export const FaultRuleView = z
  .object({
    id: z.string(),
    match: FaultMatch,
    action: FaultAction,
    times: z.number().int().nullable(),
    remaining: z.number().int().nullable(),
    probability: z.number().nullable(),
    seed: z.number().int().nullable(),
    fired: z.number().int(),
    evaluated: z.number().int(),
    createdAt: z.string(),
    lastFiredAt: z.string().nullable(),
  })
  .openapi("FaultRule");
export const FaultRuleList = ok({ rules: z.array(FaultRuleView) });
export const FaultIdParam = z.object({ id: z.string() });

// ---- clock -----------------------------------------------------------------------------------

export const ClockState = z
  .object({ mode: ClockMode, scale: z.number().nullable(), now: z.string(), pendingTimers: z.number().int(), nextTimerAt: z.string().nullable() })
  .openapi("ClockState");
export const ClockBody = z.strictObject({ mode: ClockMode, scale: z.number().positive().optional() });
export const AdvanceBody = z
  .strictObject({
    ms: z.number().int().min(0).optional().openapi({ description: "Move the clock forward by this many ms, firing due timers in order." }),
    to: z
      .enum(["next", "idle"])
      .optional()
      .openapi({ description: "next: jump to the next timer; idle: keep jumping until no timer is left and no background work is running (or maxSteps)." }),
    maxSteps: z.number().int().min(1).max(100_000).optional(),
  })
  .openapi("AdvanceClock");
export type AdvanceBodyT = z.infer<typeof AdvanceBody>;
export const Advanced = ok({ fired: z.number().int(), steps: z.number().int(), idle: z.boolean(), clock: ClockState });

// ---- scripted jobs ----------------------------------------------------------------------------

export const ScriptedJobBody = z
  .strictObject({
    name: z.string().optional(),
    definition: z.record(z.string(), z.unknown()),
    script: JobScript.optional(),
  })
  .openapi("ScriptedJob");
export type ScriptedJobBodyT = z.infer<typeof ScriptedJobBody>;
export const ScriptedJobParams = z.object({
  workspace: z.string(),
  jobId: z.string().regex(/^[a-z0-9_-]{1,20}$/, { message: "job id must match [a-z0-9_-]{1,20}" }),
});
export const ScriptedJobStarted = ok({
  jobId: z.string(),
  created: z.boolean().openapi({ description: "false when the identical job was already started (a replay)." }),
});
