// The in-process test helper (package export "roboflow-batch-emulator/testing"): starts an emulator on
// a free loopback port with an in-memory store and no waiting, and gives back a small typed client
// of the control API. The client also works against an emulator started elsewhere (Docker, CLI).
import type { z } from "@hono/zod-openapi";
import type { EmulatorConfig } from "./config.js";
import type { Job } from "./contract/jobs.js";
import type {
  ClockMode,
  FaultRuleBodyT,
  JobScriptT,
  SeedBodyT,
  SnapshotT,
  ClockState,
  FaultRuleView,
  JournalEntry,
  ReceivedDelivery,
  ResetResult,
  SeedResult,
  WebhookDelivery,
} from "./contract/controls.js";
import type { ContractReport as ContractReportSchema, RequestMatcherT } from "./contract/controls-verify.js";
import { startEmulator } from "./server.js";

export type { ClockMode };
export type FaultRule = z.infer<typeof FaultRuleView>;
export type JournalRecord = z.infer<typeof JournalEntry>;
export type Delivery = z.infer<typeof WebhookDelivery>;
export type Received = z.infer<typeof ReceivedDelivery>;
export type Clock = z.infer<typeof ClockState>;
export type ContractReport = z.infer<typeof ContractReportSchema>;
export type RequestMatcher = RequestMatcherT;
/** A job as GET /batch-processing/v1/external/{workspace}/jobs/{jobId} shows it. */
export type JobView = z.infer<typeof Job>;

export interface ResetOptions {
  /** Only this workspace's data (it and its keys are kept). */
  workspace?: string;
  /** After a full reset, apply the start-up seed again (--seed file, startEmulatorForTests({ seed }), or a seed posted with asStartupSeed). */
  reseed?: boolean;
}

export interface WaitForJobOptions {
  /** Real-time limit (default 30 000 ms). */
  timeoutMs?: number;
  /** Default: the emulator's default workspace. */
  workspace?: string;
}

export interface JournalFilter {
  method?: string;
  /** Path prefix. */
  path?: string;
  /** Glob: * within a segment, ** across. */
  pathPattern?: string;
  pathRegex?: string;
  workspace?: string;
  /** 429, "4xx" or "dropped". */
  status?: number | string;
  /** ISO time or epoch ms on the emulator clock. */
  since?: string | number;
  /** Entries with seq greater than this (the next page of an ascending read). */
  after?: number;
  /** Entries with seq less than this (the next page of a descending read). */
  before?: number;
  fault?: boolean;
  /** Operation as /openapi.json names it: "POST /batch-processing/v1/external/{workspace}/jobs/{jobId}". */
  operation?: string;
  /** JSON path into the request body, with bodyEquals / bodyContains / bodyRegex / bodyAbsent (none: present). */
  bodyPath?: string;
  bodyEquals?: string;
  bodyContains?: string;
  bodyRegex?: string;
  bodyAbsent?: boolean;
  queryParam?: string;
  queryEquals?: string;
  queryContains?: string;
  queryRegex?: string;
  queryAbsent?: boolean;
  header?: string;
  headerEquals?: string;
  headerContains?: string;
  headerRegex?: string;
  headerAbsent?: boolean;
  limit?: number;
  order?: "asc" | "desc";
}

/** How many requests a verification expects: exactly `count`, or within atLeast..atMost (default: at least 1). */
export interface VerifyExpectation {
  count?: number;
  atLeast?: number;
  atMost?: number;
  /** Only requests at or after this emulator time (ISO or epoch ms). */
  since?: string | number;
  /** Near misses listed on failure (default 3). */
  closest?: number;
}

export class ControlApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    message: string,
  ) {
    super(message);
  }
}

/** A verification that did not hold: the message names the closest requests and the matcher parts they failed. */
export class VerificationError extends ControlApiError {}

/** The run's contract report holds violations (startEmulatorForTests({ failOnContractViolations })). */
export class ContractViolationError extends Error {
  constructor(
    readonly report: ContractReport,
    message: string,
  ) {
    super(message);
  }
}

export interface ReceiverHandle {
  /** The URL to give as notificationsURL. */
  url: string;
  list(): Promise<Received[]>;
  clear(): Promise<void>;
  /** Resolves once at least `count` deliveries arrived (polls; real-time timeout). */
  waitFor(count: number, timeoutMs?: number): Promise<Received[]>;
}

export interface ControlClient {
  /** Empties everything; `{ reseed: true }` restores the start-up seed, `"ws"` or `{ workspace }` empties one workspace. */
  reset(opts?: string | ResetOptions): Promise<z.infer<typeof ResetResult>>;
  /** Applies a seed; `{ asStartupSeed: true }` also makes it the one reset({ reseed: true }) restores. */
  seed(seed: SeedBodyT, opts?: { asStartupSeed?: boolean }): Promise<z.infer<typeof SeedResult>>;
  snapshot(): Promise<SnapshotT>;
  restore(snapshot: SnapshotT): Promise<void>;
  /** One page: `truncated` when it stopped at its size cap before `limit` (read on with after/before = the last seq). */
  journal(filter?: JournalFilter): Promise<{ count: number; truncated: boolean; entries: JournalRecord[] }>;
  journalCount(filter?: JournalFilter): Promise<number>;
  clearJournal(workspace?: string): Promise<void>;
  /** Journal entries matching a matcher (body fields, query parameters, headers...). */
  searchJournal(
    match?: RequestMatcher,
    opts?: { limit?: number; order?: "asc" | "desc"; after?: number; since?: string | number },
  ): Promise<{ count: number; truncated: boolean; entries: JournalRecord[] }>;
  /** Resolves with the number of matching requests when the expectation holds; otherwise throws a VerificationError naming the closest requests. */
  verify(match: RequestMatcher, expect?: VerifyExpectation): Promise<number>;
  /** What the run's requests would meet at the real service, API coverage and failed webhooks (survives resets). */
  contractReport(): Promise<ContractReport>;
  /** Starts a new report. */
  clearContractReport(): Promise<void>;
  faults: {
    add(rule: FaultRuleBodyT): Promise<FaultRule>;
    list(): Promise<FaultRule[]>;
    remove(id: string): Promise<void>;
    clear(): Promise<void>;
  };
  clock: {
    get(): Promise<Clock>;
    set(mode: ClockMode, scale?: number): Promise<Clock>;
    advance(ms: number): Promise<Clock>;
    next(): Promise<Clock>;
    /** Fires timers until none is left (or maxSteps); returns whether it got there. */
    runUntilIdle(maxSteps?: number): Promise<{ idle: boolean; clock: Clock }>;
  };
  webhooks: {
    list(filter?: { workspace?: string; state?: "pending" | "delivered" | "failed"; category?: string; subject?: string }): Promise<Delivery[]>;
    redeliver(id: string): Promise<void>;
    send(n: { url: string; workspace?: string; category?: string; subject?: string; payload?: Record<string, unknown> }): Promise<string>;
  };
  receiver(name: string): ReceiverHandle;
  startScriptedJob(workspace: string, jobId: string, body: { definition: Record<string, unknown>; name?: string; script?: JobScriptT }): Promise<void>;
}

/** A typed client of /_emulator on `baseUrl` (plain fetch; no dependencies). */
export function controlClient(baseUrl: string, opts: { adminToken?: string } = {}): ControlClient {
  const base = baseUrl.replace(/\/$/, "");
  const call = async <T>(method: string, path: string, body?: unknown, query?: Record<string, string | number | boolean | undefined>): Promise<T> => {
    const url = new URL(base + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (opts.adminToken) headers.authorization = `Bearer ${opts.adminToken}`;
    const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = text;
    }
    if (!res.ok) throw new ControlApiError(res.status, json, `${method} ${path} answered ${res.status}: ${(json as { message?: string })?.message ?? text}`);
    return json as T;
  };
  const flag = (v: boolean | undefined) => (v === undefined ? undefined : String(v));
  const journalQuery = (f: JournalFilter = {}) => ({
    ...f,
    fault: flag(f.fault),
    bodyAbsent: flag(f.bodyAbsent),
    queryAbsent: flag(f.queryAbsent),
    headerAbsent: flag(f.headerAbsent),
  });
  const client: ControlClient = {
    reset: (opts) => call("POST", "/_emulator/reset", typeof opts === "string" ? { workspace: opts } : (opts ?? {})),
    seed: (seed, opts) => call("POST", "/_emulator/seed", opts?.asStartupSeed ? { ...seed, asStartupSeed: true } : seed),
    snapshot: () => call("GET", "/_emulator/snapshot"),
    restore: async (snapshot) => void (await call("POST", "/_emulator/snapshot", snapshot)),
    journal: (filter) => call("GET", "/_emulator/journal", undefined, journalQuery(filter)),
    journalCount: async (filter) => (await call<{ count: number }>("GET", "/_emulator/journal/count", undefined, journalQuery(filter))).count,
    clearJournal: async (workspace) => void (await call("DELETE", "/_emulator/journal", undefined, { workspace })),
    searchJournal: (match, o = {}) => call("POST", "/_emulator/journal/query", { ...(match ? { match } : {}), ...o }),
    verify: async (match, expect = {}) => {
      try {
        return (await call<{ matched: number }>("POST", "/_emulator/journal/verify", { match, ...expect })).matched;
      } catch (err) {
        if (err instanceof ControlApiError && err.status === 422)
          throw new VerificationError(err.status, err.body, (err.body as { message?: string })?.message ?? err.message);
        throw err;
      }
    },
    contractReport: () => call("GET", "/_emulator/contract-report"),
    clearContractReport: async () => void (await call("DELETE", "/_emulator/contract-report")),
    faults: {
      add: (rule) => call("POST", "/_emulator/faults", rule),
      list: async () => (await call<{ rules: FaultRule[] }>("GET", "/_emulator/faults")).rules,
      remove: async (id) => void (await call("DELETE", `/_emulator/faults/${encodeURIComponent(id)}`)),
      clear: async () => void (await call("DELETE", "/_emulator/faults")),
    },
    clock: {
      get: () => call("GET", "/_emulator/clock"),
      set: (mode, scale) => call("POST", "/_emulator/clock", scale === undefined ? { mode } : { mode, scale }),
      advance: async (ms) => (await call<{ clock: Clock }>("POST", "/_emulator/clock/advance", { ms })).clock,
      next: async () => (await call<{ clock: Clock }>("POST", "/_emulator/clock/advance", { to: "next" })).clock,
      runUntilIdle: async (maxSteps) => call("POST", "/_emulator/clock/advance", maxSteps === undefined ? { to: "idle" } : { to: "idle", maxSteps }),
    },
    webhooks: {
      list: async (filter) => (await call<{ deliveries: Delivery[] }>("GET", "/_emulator/webhooks", undefined, filter)).deliveries,
      redeliver: async (id) => void (await call("POST", `/_emulator/webhooks/${encodeURIComponent(id)}/redeliver`)),
      send: async (n) => (await call<{ id: string }>("POST", "/_emulator/webhooks", n)).id,
    },
    receiver: (name) => {
      const path = `/_emulator/receiver/${encodeURIComponent(name)}`;
      const list = async () => (await call<{ deliveries: Received[] }>("GET", path)).deliveries;
      return {
        url: base + path,
        list,
        clear: async () => void (await call("DELETE", path)),
        waitFor: async (count, timeoutMs = 10_000) => {
          const deadline = Date.now() + timeoutMs;
          for (;;) {
            const got = await list();
            if (got.length >= count) return got;
            if (Date.now() > deadline) throw new Error(`receiver "${name}" got ${got.length} of ${count} deliveries within ${timeoutMs} ms`);
            await new Promise((r) => setTimeout(r, 20));
          }
        },
      };
    },
    startScriptedJob: async (workspace, jobId, body) =>
      void (await call("POST", `/_emulator/jobs/${encodeURIComponent(workspace)}/${encodeURIComponent(jobId)}`, body)),
  };
  return client;
}

export interface EmulatorForTestsOptions {
  workspace?: string;
  apiKey?: string;
  adminToken?: string;
  /** A seed (same shape as --seed / POST /_emulator/seed) applied at start; reset({ reseed: true }) applies it again. */
  seed?: SeedBodyT;
  /** Clock at start: "max" (default: nothing waits), "manual", "real", or a scale factor. */
  clock?: "max" | "manual" | "real" | number;
  /** Default ":memory:". */
  dataDir?: string;
  /** Default 0 (a free port). */
  port?: number;
  /** Extra configuration passed through to the emulator. */
  config?: Partial<EmulatorConfig>;
  /**
   * close() (and assertContract()) throw a ContractViolationError when the run's contract report holds
   * a violation: a request the real service would refuse or treat differently, or a failed webhook
   * delivery. `{ ignore: ["unauthorized"] }` leaves out kinds your suite provokes on purpose.
   */
  failOnContractViolations?: boolean | { ignore?: string[] };
}

export interface EmulatorForTests {
  /** e.g. http://127.0.0.1:41234 — set API_BASE_URL to this for the official client. */
  baseUrl: string;
  workspace: string;
  apiKey: string;
  controls: ControlClient;
  /**
   * Polls the job until it is terminal and returns it; on a manual clock each poll advances the clock
   * to its next timer (and the work that timer starts), so the job moves without real waiting.
   */
  waitForJob(jobId: string, opts?: WaitForJobOptions): Promise<JobView>;
  /** Throws a ContractViolationError with a readable summary when the contract report holds a violation. */
  assertContract(opts?: { ignore?: string[] }): Promise<ContractReport>;
  /** Stops the emulator; with failOnContractViolations, then throws if the run broke the contract. */
  close(): Promise<void>;
}

/** The report's violations minus the ignored kinds, as a readable message (null when there are none). */
export function contractViolations(report: ContractReport, ignore: readonly string[] = []): string | null {
  const findings = report.findings.filter((f) => f.violation && !ignore.includes(f.kind));
  const hooks = ignore.includes("webhook-failed") ? [] : report.webhooks.failed.filter((w) => w.violation);
  const counted = Object.entries(report.summary.findings).filter(([k]) => !ignore.includes(k));
  if (!findings.length && !hooks.length) return null;
  const lines = [
    `The run broke the API contract (${findings.length} request(s), ${hooks.length} failed webhook delivery(ies); counts: ${counted.map(([k, n]) => `${k} ${n}`).join(", ")}):`,
  ];
  for (const f of findings.slice(0, 25))
    lines.push(
      `  [${f.kind}] ${f.method} ${f.path} → ${f.status ?? "dropped"}${f.fields.length ? ` (${f.fields.join(", ")})` : ""}: ${f.message.split("\n")[0]}`,
    );
  if (findings.length > 25) lines.push(`  … and ${findings.length - 25} more`);
  for (const w of hooks.slice(0, 10))
    lines.push(`  [webhook-failed] ${w.category} → ${w.url}: ${w.attempts} attempt(s), last ${w.lastStatus ?? w.lastError ?? "no answer"}`);
  lines.push("GET /_emulator/contract-report (controls.contractReport()) has every finding; pass { ignore: [kind] } to accept a kind on purpose.");
  return lines.join("\n");
}

/** GET the job until isTerminal (real-time deadline), stepping a manual clock between polls. */
async function pollJob(baseUrl: string, apiKey: string, controls: ControlClient, workspace: string, jobId: string, timeoutMs: number): Promise<JobView> {
  const path = `/batch-processing/v1/external/${encodeURIComponent(workspace)}/jobs/${encodeURIComponent(jobId)}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${baseUrl}${path}?api_key=${encodeURIComponent(apiKey)}`);
    const body = (await res.json().catch(() => undefined)) as { job?: JobView; message?: string } | undefined;
    if (!res.ok || !body?.job) throw new ControlApiError(res.status, body, `GET ${path} answered ${res.status}: ${body?.message ?? "no job in the answer"}`);
    if (body.job.isTerminal) return body.job;
    if (Date.now() > deadline)
      throw new Error(
        `job ${jobId} did not end within ${timeoutMs} ms (stage ${body.job.currentStage ?? "none"}, last notification ${JSON.stringify(body.job.lastNotification)})`,
      );
    const clock = await controls.clock.get();
    if (clock.mode === "manual" && clock.pendingTimers > 0) await controls.clock.next();
    else await new Promise((r) => setTimeout(r, 20));
  }
}

export async function startEmulatorForTests(opts: EmulatorForTestsOptions = {}): Promise<EmulatorForTests> {
  const timeScale = typeof opts.clock === "number" ? opts.clock : opts.clock === "real" ? 1 : Infinity;
  const running = await startEmulator({
    port: opts.port ?? 0,
    host: "127.0.0.1",
    dataDir: opts.dataDir ?? ":memory:",
    timeScale,
    quiet: true,
    ...(opts.workspace ? { workspace: opts.workspace } : {}),
    ...(opts.apiKey ? { apiKey: opts.apiKey } : {}),
    ...(opts.adminToken ? { adminToken: opts.adminToken } : {}),
    ...opts.config,
  });
  const controls = controlClient(running.url, { adminToken: opts.adminToken });
  const strict = !!opts.failOnContractViolations;
  const ignored = typeof opts.failOnContractViolations === "object" ? (opts.failOnContractViolations.ignore ?? []) : [];
  try {
    if (opts.clock === "manual") await controls.clock.set("manual");
    // Adopted as the start-up seed, so reset({ reseed: true }) brings this world back.
    if (opts.seed) await controls.seed(opts.seed, { asStartupSeed: true });
  } catch (err) {
    await running.close();
    throw err;
  }
  return {
    baseUrl: running.url,
    workspace: running.workspace,
    apiKey: running.apiKey,
    controls,
    waitForJob: (jobId, w = {}) => pollJob(running.url, running.apiKey, controls, w.workspace ?? running.workspace, jobId, w.timeoutMs ?? 30_000),
    assertContract: async (o = {}) => {
      const report = await controls.contractReport();
      const message = contractViolations(report, o.ignore ?? ignored);
      if (message) throw new ContractViolationError(report, message);
      return report;
    },
    close: async () => {
      // Read before the emulator stops; thrown after, so a failing check never leaves it running.
      const report = strict ? await controls.contractReport().catch(() => null) : null;
      await running.close();
      const message = report && contractViolations(report, ignored);
      if (report && message) throw new ContractViolationError(report, message);
    },
  };
}
