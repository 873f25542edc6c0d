// Pure rules of the job simulator: which stages a job has, how its work is cut into tasks, what
// a task costs in simulated machine time, when it fails, and how long each step takes on the
// emulator clock. Documented in docs/fidelity.md.
import type { CompilationDevice, ImageJobDefinition, JobDefinitionJson, RestartOverrideJson, TrtJobDefinition, VideoJobDefinition } from "../contract/jobs.js";

/** Images per processing task: the official client's shard size (MAX_SHARD_SIZE = 256). */
export const IMAGES_PER_TASK = 256;
/** Videos are processed one per task ("processing chunks such as image shards or individual video files"). */
export const VIDEOS_PER_TASK = 1;
/** Processing results bundled into one export archive. */
export const RESULTS_PER_ARCHIVE = 64;
/** Images handled per engine step, so one step never blocks the event loop for long. */
export const IMAGES_PER_STEP = 64;
/** Frames written per video at most (longer videos are cut off; nothing is decoded anyway). */
export const MAX_FRAMES_PER_VIDEO = 10_000;

export const DEFAULT_TIMEOUT_SECONDS = 3600;
export const DEFAULT_WORKERS_PER_MACHINE = 4;
export const DEFAULT_MAX_PARALLEL_TASKS = 4;
export const DEFAULT_VIDEO_FPS = 30;
/** Absolute failures a task tolerates when maxImageFailureRate is not set (client help text: "10 absolute failures per shard"). */
export const DEFAULT_ALLOWED_FAILURES = 10;

/** Simulated worker time per image (or video frame): a light Workflow on one worker. */
export const WORKER_MS_PER_ITEM = { cpu: 400, gpu: 100 } as const;

/** Default step delays on the emulator clock (real time at time scale 1), chosen so a person can watch a small job. */
export const DELAYS = {
  queuedMs: 3000,
  stageStartMs: 2000,
  processingStepMs: 1000,
  exportTaskMs: 2000,
  compilationTaskMs: 3000,
} as const;

/** A job definition narrowed once by its type: `kind` tells which definition `def` is. */
export type JobSpec = { kind: "image"; def: ImageJobDefinition } | { kind: "video"; def: VideoJobDefinition } | { kind: "trt"; def: TrtJobDefinition };
export type WorkflowSpec = Extract<JobSpec, { kind: "image" | "video" }>;
export type JobKind = JobSpec["kind"];

export function specOf(def: JobDefinitionJson): JobSpec {
  switch (def.type) {
    case "simple-image-processing-v1":
      return { kind: "image", def };
    case "simple-video-processing-v1":
      return { kind: "video", def };
    case "trt-compilation-v1":
      return { kind: "trt", def };
  }
}

/** Devices a TRT job compiles for, one task each, in this order when the definition names none. */
export const DEFAULT_COMPILATION_DEVICES: readonly CompilationDevice[] = ["nvidia-t4", "nvidia-l4", "nvidia-l40s"];

export function compilationDevices(def: TrtJobDefinition): readonly CompilationDevice[] {
  return def.compilationDevices ?? DEFAULT_COMPILATION_DEVICES;
}

export function plannedStages(kind: JobKind): string[] {
  return kind === "trt" ? ["compilation"] : ["processing", "export"];
}

export interface EffectiveParams {
  machineType: "cpu" | "gpu";
  workersPerMachine: number;
  maxParallelTasks: number;
  timeoutSeconds: number;
  maxImageFailureRate: number | null;
  aggregationFormat: "jsonl" | "csv";
  maxVideoFps: number;
}

/** The job definition with every restart override applied in order (later overrides win). */
export function effectiveParams(def: JobDefinitionJson, overrides: RestartOverrideJson[]): EffectiveParams {
  const w = def.type === "trt-compilation-v1" ? undefined : def;
  const p: EffectiveParams = {
    machineType: w?.computeConfiguration?.machineType ?? "cpu",
    workersPerMachine: w?.computeConfiguration?.workersPerMachine ?? DEFAULT_WORKERS_PER_MACHINE,
    maxParallelTasks: w?.maxParallelTasks ?? DEFAULT_MAX_PARALLEL_TASKS,
    timeoutSeconds: w?.processingTimeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
    maxImageFailureRate: (def.type === "simple-image-processing-v1" ? def.maxImageFailureRate : null) ?? null,
    aggregationFormat: w?.processingSpecification.aggregationFormat ?? "jsonl",
    maxVideoFps: Math.min((def.type === "simple-video-processing-v1" ? def.processingSpecification.maxVideoFPS : null) ?? DEFAULT_VIDEO_FPS, DEFAULT_VIDEO_FPS),
  };
  for (const o of overrides) {
    if (o.computeConfiguration?.machineType) p.machineType = o.computeConfiguration.machineType;
    if (o.computeConfiguration?.workersPerMachine) p.workersPerMachine = o.computeConfiguration.workersPerMachine;
    if (o.maxParallelTasks != null) p.maxParallelTasks = o.maxParallelTasks;
    if (o.processingTimeoutSeconds != null) p.timeoutSeconds = o.processingTimeoutSeconds;
    if (o.maxImageFailureRate != null) p.maxImageFailureRate = o.maxImageFailureRate;
  }
  return p;
}

/** Simulated machine milliseconds for `items` images or frames: workers on one machine share its time. */
export function machineMsFor(items: number, p: Pick<EffectiveParams, "machineType" | "workersPerMachine">): number {
  return Math.round((items * WORKER_MS_PER_ITEM[p.machineType]) / Math.max(1, p.workersPerMachine));
}

/** The timeout is total machine time, divided evenly across a stage's tasks (known_issues.md: "Divided per chunk"). */
export function taskBudgetMs(p: Pick<EffectiveParams, "timeoutSeconds">, tasksNumber: number): number {
  return (p.timeoutSeconds * 1000) / Math.max(1, tasksNumber);
}

/** True when a task with `failed` of `total` images has failed too many to be kept. */
export function tooManyFailures(failed: number, total: number, rate: number | null): boolean {
  if (failed === 0) return false;
  if (rate === null) return failed > DEFAULT_ALLOWED_FAILURES;
  return failed > rate * total;
}

export function framesFor(durationSeconds: number, fps: number): number {
  return Math.max(1, Math.min(MAX_FRAMES_PER_VIDEO, Math.round(durationSeconds * fps)));
}

export interface JobScript {
  /** Emulated duration of each named stage; spread evenly over the stage's steps. */
  stageDurationsMs?: Record<string, number>;
  /** Task indexes that fail on their first attempt, per stage name (a restart then succeeds). */
  failTasks?: Record<string, number[]>;
  /** "fail": the job fails at the end of its last stage instead of succeeding. */
  finalState?: "success" | "fail";
}

/** Delay before the next step of a stage: the scripted stage duration spread over its steps, or the default. */
export function stepDelay(script: JobScript | null, stageName: string, expectedSteps: number, fallbackMs: number): number {
  const total = script?.stageDurationsMs?.[stageName];
  if (total === undefined) return fallbackMs;
  // Whole milliseconds: a fractional step would leave the clock between milliseconds.
  return Math.max(0, Math.round(total / Math.max(1, expectedSteps)));
}

export function pad5(n: number): string {
  return String(n).padStart(5, "0");
}

/** Output batch of a stage, named like the real service's (`<job-id>-processing`, `<job-id>-export`). */
export function outputBatchId(jobId: string, stageName: string): string {
  return `${jobId}-${stageName}`;
}

export function resultFileName(taskIndex: number, format: "jsonl" | "csv"): string {
  return `results-${pad5(taskIndex)}.${format}`;
}

export function archiveFileName(taskIndex: number): string {
  return `export-${pad5(taskIndex)}.tar.gz`;
}

/** Recursively drops null/undefined values: the stored definition echoes what the official client sends (exclude_none). */
export function withoutNulls<T>(value: T): T {
  if (Array.isArray(value)) return value.map(withoutNulls) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== null && v !== undefined)
        .map(([k, v]) => [k, withoutNulls(v)]),
    ) as T;
  }
  return value;
}

/** JSON with sorted keys, for comparing two definitions. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}
