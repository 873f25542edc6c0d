// Test-double control API under /_emulator (tag "Emulator Controls"): reset, seed, snapshot, request
// journal, fault rules, clock, webhook deliveries and a built-in receiver, scripted jobs, and the
// dashboard. Plain HTTP + JSON so any language can drive it. With --admin-token every call needs
// `Authorization: Bearer <token>` (except the receiver, which webhook senders post to, and the
// dashboard's static files, which hold no data).
import crypto from "node:crypto";
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv, Emulator } from "../context.js";
import { ErrorBody, errorResponses, jsonContent } from "../contract/common.js";
import {
  AdvanceBody, ClockBody, ClockState, FaultRuleBody, FaultRuleView, JournalEntry, JournalQuery, JournalSettings, ReceivedDelivery,
  ResetBody, ResetResult, ScriptedJobBody, SeedBody, SeedResult, SendWebhookBody, Snapshot, WebhookDelivery, WebhooksQuery,
} from "../contract/controls.js";
import { ApiError, badRequest, notFound } from "../errors.js";
import type { ControlPlane } from "../controls/plane.js";
import { pathContext, presentFaultRule, type FiredFault } from "../controls/faults.js";
import { pathPredicate } from "../controls/glob.js";
import { resetAll, resetWorkspace } from "../controls/reset.js";
import { exportSnapshot, importSnapshot } from "../controls/snapshot.js";
import { advanceClock, clockView, setClockMode } from "../controls/time.js";
import { clearDeliveries, listDeliveries, presentReceived, storeDelivery } from "../controls/receiver.js";
import { listDeliveriesWithAttempts } from "../controls/webhooks.js";
import { startScriptedJob } from "../controls/scripted-jobs.js";
import { dashboardAsset } from "../dashboard/assets.js";
import { overview } from "../controls/overview.js";
import { applySeedFile } from "../seed.js";
import { maskQuery, selectHeaders, type JournalFilter, type JournalRow } from "../state/journal.js";
import { workspaceExists } from "../state/workspaces.js";
import { FAULT_HEADER } from "./response-check.js";
import { hookFor } from "./validation.js";

export const CONTROL_PREFIX = "/_emulator";
/** Requests with this header (the dashboard's polling) are neither journaled nor faulted. */
export const INTERNAL_HEADER = "x-emulator-internal";

const tags = ["Emulator Controls"];
const Ok = z.object({ status: z.literal("ok") });

function isControlPath(path: string): boolean {
  return path === CONTROL_PREFIX || path.startsWith(`${CONTROL_PREFIX}/`) || path === "/health";
}

/** Paths reachable without the admin token: the receiver (senders cannot add it) and the dashboard's static files. */
function isOpenControlPath(method: string, path: string): boolean {
  if (method === "POST" && path.startsWith(`${CONTROL_PREFIX}/receiver/`)) return true;
  if ((method === "GET" || method === "HEAD") && (path === `${CONTROL_PREFIX}/dashboard` || path.startsWith(`${CONTROL_PREFIX}/dashboard/`))) return true;
  return false;
}

// ---- middleware: journal + request faults, admin token --------------------------------------------

export function controlMiddleware(emu: Emulator): MiddlewareHandler<AppEnv>[] {
  const plane = emu.controls;
  return [journalAndFaults(emu, plane), adminToken(emu)];
}

function journalAndFaults(emu: Emulator, plane: ControlPlane): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const url = new URL(c.req.url);
    const path = url.pathname;
    const control = isControlPath(path);
    const internal = c.req.header(INTERNAL_HEADER) !== undefined;
    const at = emu.clock.now();
    const started = performance.now();
    const ctx = pathContext(path);
    // The control plane itself is never faulted: a test must always be able to clear a rule.
    const fault = control || internal ? null : plane.faults.fire({ domain: "request", method: c.req.method, path, ...ctx });
    let status: number | null = null;
    try {
      if (fault) {
        const injected = await applyRequestFault(c, fault);
        if (injected) {
          status = injected.status === 0 ? null : injected.status;
          return injected.response;
        }
      }
      await next();
      status = c.res.status;
    } finally {
      if (!internal && (!control || plane.journal.includeControls)) {
        plane.journal.record({
          at,
          method: c.req.method,
          path,
          query: maskQuery(url.search),
          headers: selectHeaders((n) => c.req.header(n)),
          status,
          latencyMs: Math.round((performance.now() - started) * 100) / 100,
          workspace: c.get("workspace") ?? ctx.workspace ?? null,
          fault: fault ? { ruleId: fault.ruleId, type: fault.action.type } : null,
          control,
        });
      }
    }
  };
}

/** Applies a request fault; returns the response to send instead of the real one (status 0 = connection dropped), or null to go on. */
async function applyRequestFault(c: Context<AppEnv>, fault: FiredFault): Promise<{ status: number; response: Response } | null> {
  const a = fault.action;
  const delay = a.type === "latency" ? a.ms : a.type === "status" || a.type === "drop-connection" ? (a.latencyMs ?? 0) : 0;
  // Wall-clock on purpose: injected latency is aimed at the client's own timeouts.
  if (delay > 0) await new Promise((r) => setTimeout(r, delay));
  if (a.type === "status") {
    const headers: Record<string, string> = { [FAULT_HEADER]: fault.ruleId };
    const retryAfter = a.retryAfter ?? (a.status === 429 || a.status === 503 ? 1 : undefined);
    if (retryAfter !== undefined) headers["Retry-After"] = String(retryAfter);
    const body = new ApiError(a.status, "injected-fault", a.message ?? defaultFaultMessage(a.status), undefined,
      `Injected by the emulator's fault rule "${fault.ruleId}" (GET /_emulator/faults lists the rules, DELETE clears them).`).body();
    return { status: a.status, response: c.json(body, a.status as 500, headers) };
  }
  if (a.type === "drop-connection") {
    const socket = (c.env as { incoming?: { socket?: { destroy(): void } } } | undefined)?.incoming?.socket;
    if (!socket) throw new ApiError(500, "fault-unsupported", "drop-connection needs a real socket (the app was called in-process)");
    socket.destroy();
    return { status: 0, response: new Response(null, { status: 204, headers: { [FAULT_HEADER]: fault.ruleId } }) };
  }
  return null;
}

function defaultFaultMessage(status: number): string {
  if (status === 429) return "Too many requests";
  if (status === 503) return "Service unavailable";
  if (status === 500) return "Internal server error";
  if (status === 502) return "Bad gateway";
  if (status === 504) return "Gateway timeout";
  return `Error ${status}`;
}

function adminToken(emu: Emulator): MiddlewareHandler<AppEnv> {
  const token = emu.config.adminToken;
  return async (c, next) => {
    if (token && c.req.path.startsWith(CONTROL_PREFIX) && !isOpenControlPath(c.req.method, c.req.path)) {
      const m = /^Bearer\s+(.+)$/i.exec(c.req.header("authorization") ?? "");
      if (!m || !safeEqual(m[1].trim(), token)) {
        throw new ApiError(401, "admin-token-required", m ? "Unauthorized: the admin token is not valid" : "Unauthorized: the control API needs the admin token",
          undefined, "This emulator was started with --admin-token (EMULATOR_ADMIN_TOKEN): send `Authorization: Bearer <token>` on every /_emulator call.");
      }
    }
    await next();
  };
}

function safeEqual(a: string, b: string): boolean {
  const ha = crypto.createHash("sha256").update(a).digest();
  const hb = crypto.createHash("sha256").update(b).digest();
  return crypto.timingSafeEqual(ha, hb);
}

// ---- routes -----------------------------------------------------------------------------------

const P = CONTROL_PREFIX;
const jsonBody = <T extends z.ZodType>(schema: T, description?: string) => ({ body: { required: true, description, content: { "application/json": { schema } } } });

const resetRoute = createRoute({
  method: "post", path: `${P}/reset`, tags, summary: "Reset everything, or one workspace",
  description: "Deletes rows and blobs, stops background work (workers reload), drops pending webhooks. The configured default workspace and key are kept; a one-workspace reset keeps that workspace and its keys. The body is optional.",
  request: { body: { required: false, content: { "application/json": { schema: ResetBody } } } },
  responses: { 200: jsonContent(ResetResult, "What was deleted and how long it took."), ...errorResponses(400, 404) },
});
const seedRoute = createRoute({
  method: "post", path: `${P}/seed`, tags, summary: "Load workspaces, keys, batches (with files) and jobs",
  request: jsonBody(SeedBody),
  responses: { 200: jsonContent(SeedResult, "What was created."), ...errorResponses(400, 409) },
});
const getSnapshotRoute = createRoute({
  method: "get", path: `${P}/snapshot`, tags, summary: "Export the whole emulated world (rows + blobs) as JSON",
  responses: { 200: jsonContent(Snapshot, "The snapshot; POST it back to restore.") , ...errorResponses() },
});
const putSnapshotRoute = createRoute({
  method: "post", path: `${P}/snapshot`, tags, summary: "Import a snapshot (replaces the world)",
  request: jsonBody(Snapshot),
  responses: { 200: jsonContent(z.object({ status: z.literal("ok"), rows: z.record(z.string(), z.number().int()), blobs: z.number().int(), ms: z.number() }), "Imported."), ...errorResponses(400, 409) },
});

const journalRoute = createRoute({
  method: "get", path: `${P}/journal`, tags, summary: "Requests received (filterable)",
  description: "Every request to the emulated API: time (emulator clock), method, path, query with api_key masked, selected headers, status (null = connection dropped), latency, workspace, injected fault. `count` is the number of matching entries, whatever `limit` returns.",
  request: { query: JournalQuery },
  responses: { 200: jsonContent(z.object({ status: z.literal("ok"), count: z.number().int(), entries: z.array(JournalEntry) }), "Matching entries, oldest first unless order=desc."), ...errorResponses(400) },
});
const journalCountRoute = createRoute({
  method: "get", path: `${P}/journal/count`, tags, summary: "Number of matching requests",
  request: { query: JournalQuery },
  responses: { 200: jsonContent(z.object({ status: z.literal("ok"), count: z.number().int() }), "The count."), ...errorResponses(400) },
});
const journalClearRoute = createRoute({
  method: "delete", path: `${P}/journal`, tags, summary: "Clear the journal (or one workspace's entries)",
  request: { query: z.object({ workspace: z.string().optional() }) },
  responses: { 200: jsonContent(z.object({ status: z.literal("ok"), deleted: z.number().int() }), "Cleared."), ...errorResponses() },
});
const journalSettingsRoute = createRoute({
  method: "put", path: `${P}/journal/settings`, tags, summary: "Journal settings (include control calls, rows kept)",
  request: jsonBody(JournalSettings),
  responses: { 200: jsonContent(z.object({ status: z.literal("ok"), includeControls: z.boolean(), limit: z.number().int() }), "Current settings."), ...errorResponses(400) },
});

const faultsAddRoute = createRoute({
  method: "post", path: `${P}/faults`, tags, summary: "Add a fault rule",
  description: "Request faults (status with Retry-After, latency, drop-connection), simulator faults (fail-task, fail-stage) and webhook delivery faults (webhook-drop, -delay, -duplicate, -out-of-order). Fires always, the next `times` times, or with `probability` under `seed` (deterministic). The first matching rule that fires wins.",
  request: jsonBody(FaultRuleBody),
  responses: { 201: jsonContent(FaultRuleView, "The rule."), ...errorResponses(400, 409) },
});
const faultsListRoute = createRoute({
  method: "get", path: `${P}/faults`, tags, summary: "List fault rules with fire counts",
  responses: { 200: jsonContent(z.object({ status: z.literal("ok"), rules: z.array(FaultRuleView) }), "The rules, oldest first."), ...errorResponses() },
});
const faultsClearRoute = createRoute({
  method: "delete", path: `${P}/faults`, tags, summary: "Delete every fault rule",
  responses: { 200: jsonContent(z.object({ status: z.literal("ok"), deleted: z.number().int() }), "Deleted."), ...errorResponses() },
});
const faultsDeleteRoute = createRoute({
  method: "delete", path: `${P}/faults/{id}`, tags, summary: "Delete one fault rule",
  request: { params: z.object({ id: z.string() }) },
  responses: { 200: jsonContent(z.object({ status: z.literal("ok"), deleted: z.number().int() }), "Deleted."), ...errorResponses(404) },
});

const clockGetRoute = createRoute({
  method: "get", path: `${P}/clock`, tags, summary: "The emulator clock",
  responses: { 200: jsonContent(ClockState, "Mode, scale (null = max), now, pending timers."), ...errorResponses() },
});
const clockSetRoute = createRoute({
  method: "post", path: `${P}/clock`, tags, summary: "Set the clock mode (real | scaled | max | manual)",
  request: jsonBody(ClockBody),
  responses: { 200: jsonContent(ClockState, "The clock after the change."), ...errorResponses(400) },
});
const clockAdvanceRoute = createRoute({
  method: "post", path: `${P}/clock/advance`, tags, summary: "Advance a manual clock",
  description: '{"ms": N} moves time forward firing due timers in order; {"to": "next"} jumps to the next timer; {"to": "idle"} keeps jumping until no timer is left.',
  request: jsonBody(AdvanceBody),
  responses: { 200: jsonContent(z.object({ status: z.literal("ok"), fired: z.number().int(), steps: z.number().int(), idle: z.boolean(), clock: ClockState }), "Timers fired and the clock now."), ...errorResponses(400, 409) },
});

const webhooksListRoute = createRoute({
  method: "get", path: `${P}/webhooks`, tags, summary: "Webhook deliveries with all their attempts",
  request: { query: WebhooksQuery },
  responses: { 200: jsonContent(z.object({ status: z.literal("ok"), deliveries: z.array(WebhookDelivery) }), "Deliveries, oldest first."), ...errorResponses(400) },
});
const webhooksSendRoute = createRoute({
  method: "post", path: `${P}/webhooks`, tags, summary: "Send a test notification through the webhook sender",
  description: "Goes through the same durable sender as real notifications (retries, delivery faults, attempts recorded).",
  request: jsonBody(SendWebhookBody),
  responses: { 202: jsonContent(z.object({ status: z.literal("ok"), id: z.string() }), "Queued."), ...errorResponses(400) },
});
const webhooksRedeliverRoute = createRoute({
  method: "post", path: `${P}/webhooks/{id}/redeliver`, tags, summary: "Send a notification once more (a new attempt)",
  request: { params: z.object({ id: z.string() }) },
  responses: { 202: jsonContent(z.object({ status: z.literal("ok"), id: z.string() }), "Queued."), ...errorResponses(404) },
});

const ReceiverName = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, { message: "must match [A-Za-z0-9_.-]{1,64}" }).openapi({ param: { name: "name", in: "path" }, example: "jobs" });
const receiverPostRoute = createRoute({
  method: "post", path: `${P}/receiver/{name}`, tags, summary: "Built-in webhook receiver: stores any delivery",
  description: "Point notificationsURL here. Answers 200, or the status given by ?status=NNN (to exercise retries). Needs no admin token.",
  request: { params: z.object({ name: ReceiverName }), query: z.object({ status: z.string().optional() }) },
  responses: { 200: jsonContent(z.object({ status: z.literal("ok"), seq: z.number().int() }), "Stored."), default: { description: "The status asked for with ?status=.", content: { "application/json": { schema: ErrorBody } } } },
});
const receiverGetRoute = createRoute({
  method: "get", path: `${P}/receiver/{name}`, tags, summary: "Deliveries the receiver got, with headers",
  request: { params: z.object({ name: ReceiverName }), query: z.object({ after: z.string().optional() }) },
  responses: { 200: jsonContent(z.object({ status: z.literal("ok"), name: z.string(), count: z.number().int(), deliveries: z.array(ReceivedDelivery) }), "Deliveries, oldest first."), ...errorResponses(400) },
});
const receiverDeleteRoute = createRoute({
  method: "delete", path: `${P}/receiver/{name}`, tags, summary: "Forget the receiver's deliveries",
  request: { params: z.object({ name: ReceiverName }) },
  responses: { 200: jsonContent(z.object({ status: z.literal("ok"), deleted: z.number().int() }), "Deleted."), ...errorResponses(400) },
});

const scriptedJobRoute = createRoute({
  method: "post", path: `${P}/jobs/{workspace}/{jobId}`, tags, summary: "Start a scripted job (timeline: stage durations, failing tasks, final state)",
  request: { params: z.object({ workspace: z.string(), jobId: z.string().regex(/^[a-z0-9_-]{1,20}$/, { message: "job id must match [a-z0-9_-]{1,20}" }) }), ...jsonBody(ScriptedJobBody) },
  responses: { 201: jsonContent(z.object({ status: z.literal("ok"), jobId: z.string(), created: z.boolean().openapi({ description: "false when the identical job was already started (a replay)." }) }), "Started."), ...errorResponses(400, 404, 409) },
});

const overviewRoute = createRoute({
  method: "get", path: `${P}/overview`, tags, summary: "Everything at a glance (the dashboard's data)",
  responses: { 200: jsonContent(z.record(z.string(), z.unknown()), "Workspaces with keys, batches with file counts, parts and shard statuses, webhook and journal counts, the clock."), ...errorResponses() },
});
const dashboardRoute = createRoute({
  method: "get", path: `${P}/dashboard`, tags, summary: "Dashboard (HTML)",
  responses: { 200: { description: "The dashboard page.", content: { "text/html": { schema: z.string() } } }, 404: { description: "Dashboard files missing from the install.", content: { "application/json": { schema: ErrorBody } } } },
});
const dashboardAssetRoute = createRoute({
  method: "get", path: `${P}/dashboard/{asset}`, tags, summary: "Dashboard static files",
  request: { params: z.object({ asset: z.string() }) },
  responses: { 200: { description: "A static file." }, 404: { description: "No such file.", content: { "application/json": { schema: ErrorBody } } } },
});

// ---- handlers ---------------------------------------------------------------------------------

function journalFilter(q: z.infer<typeof JournalQuery>): JournalFilter {
  const since = q.since === undefined ? undefined : /^\d+$/.test(q.since) ? Number(q.since) : Date.parse(q.since);
  if (since !== undefined && !Number.isFinite(since)) throw badRequest(`since must be an ISO time or epoch ms, got "${q.since}"`, [{ field: "since", problem: "not a time", received: q.since }]);
  if (q.after !== undefined && !/^\d+$/.test(q.after)) throw badRequest(`after must be a journal seq (integer), got "${q.after}"`, [{ field: "after", problem: "not an integer", received: q.after }]);
  if (q.status !== undefined && !/^(\d{3}|[1-5]xx|dropped)$/i.test(q.status)) throw badRequest(`status must be a code (429), a class (4xx) or "dropped", got "${q.status}"`, [{ field: "status", problem: "not a status filter", received: q.status }]);
  return {
    method: q.method,
    pathPrefix: q.path,
    pathTest: pathPredicate(q.pathPattern, q.pathRegex, ["pathPattern", "pathRegex"]),
    workspace: q.workspace,
    status: q.status,
    since,
    afterSeq: q.after === undefined ? undefined : Number(q.after),
    fault: q.fault === undefined ? undefined : q.fault === "true",
    includeControl: q.includeControl === "true",
  };
}

function presentJournal(r: JournalRow) {
  return {
    seq: r.seq,
    at: new Date(r.at).toISOString(),
    method: r.method,
    path: r.path,
    query: r.query,
    headers: JSON.parse(r.headers) as Record<string, string>,
    status: r.status,
    latencyMs: r.latency_ms,
    workspace: r.workspace_id,
    fault: r.fault ? (JSON.parse(r.fault) as { ruleId: string; type: string }) : null,
  };
}

export function controlRoutes(emu: Emulator) {
  const app = new OpenAPIHono<AppEnv>();
  const plane = emu.controls;

  app.openapi(resetRoute, async (c) => {
    const body = (c.req.valid("json") ?? {}) as z.infer<typeof ResetBody>;
    if (body.workspace !== undefined) {
      if (!workspaceExists(emu.db, body.workspace)) throw notFound(`Workspace "${body.workspace}" does not exist`);
      const out = resetWorkspace(emu, body.workspace);
      return c.json({ status: "ok" as const, ...out }, 200);
    }
    const out = resetAll(emu);
    if (body.reseed && plane.startupSeed) applySeedFile(emu, plane.startupSeed);
    return c.json({ status: "ok" as const, ...out }, 200);
  }, hookFor(resetRoute));

  app.openapi(seedRoute, (c) => {
    const res = applySeedFile(emu, c.req.valid("json"));
    return c.json({ status: "ok" as const, workspaces: res.workspaces, batches: res.batches, files: res.files, jobs: res.jobs }, 200);
  }, hookFor(seedRoute));

  app.openapi(getSnapshotRoute, (c) => c.json(exportSnapshot(emu), 200));
  app.openapi(putSnapshotRoute, (c) => c.json({ status: "ok" as const, ...importSnapshot(emu, c.req.valid("json")) }, 200), hookFor(putSnapshotRoute));

  app.openapi(journalRoute, (c) => {
    const q = c.req.valid("query");
    const limit = q.limit === undefined ? 1000 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw badRequest(`limit must be an integer 1-10000, got "${q.limit}"`, [{ field: "limit", problem: "must be an integer 1-10000", received: q.limit }]);
    const { total, rows } = plane.journal.query(journalFilter(q), limit, q.order ?? "asc");
    return c.json({ status: "ok" as const, count: total, entries: rows.map(presentJournal) }, 200);
  }, hookFor(journalRoute));
  app.openapi(journalCountRoute, (c) => c.json({ status: "ok" as const, count: plane.journal.count(journalFilter(c.req.valid("query"))) }, 200), hookFor(journalCountRoute));
  app.openapi(journalClearRoute, (c) => c.json({ status: "ok" as const, deleted: plane.journal.clear(c.req.valid("query").workspace) }, 200), hookFor(journalClearRoute));
  app.openapi(journalSettingsRoute, (c) => {
    const b = c.req.valid("json");
    if (b.includeControls !== undefined) plane.journal.includeControls = b.includeControls;
    if (b.limit !== undefined) plane.journal.limit = b.limit;
    return c.json({ status: "ok" as const, includeControls: plane.journal.includeControls, limit: plane.journal.limit }, 200);
  }, hookFor(journalSettingsRoute));

  app.openapi(faultsAddRoute, (c) => c.json(presentFaultRule(plane.faults.add(c.req.valid("json"))), 201), hookFor(faultsAddRoute));
  app.openapi(faultsListRoute, (c) => c.json({ status: "ok" as const, rules: plane.faults.rows().map(presentFaultRule) }, 200));
  app.openapi(faultsClearRoute, (c) => c.json({ status: "ok" as const, deleted: plane.faults.clear() }, 200));
  app.openapi(faultsDeleteRoute, (c) => {
    const { id } = c.req.valid("param");
    if (!plane.faults.remove(id)) throw notFound(`No fault rule "${id}"`, "GET /_emulator/faults lists the rules.");
    return c.json({ status: "ok" as const, deleted: 1 }, 200);
  }, hookFor(faultsDeleteRoute));

  app.openapi(clockGetRoute, (c) => c.json(clockView(emu), 200));
  app.openapi(clockSetRoute, (c) => {
    const b = c.req.valid("json");
    return c.json(setClockMode(emu, b.mode, b.scale), 200);
  }, hookFor(clockSetRoute));
  app.openapi(clockAdvanceRoute, async (c) => c.json({ status: "ok" as const, ...(await advanceClock(emu, c.req.valid("json"))) }, 200), hookFor(clockAdvanceRoute));

  app.openapi(webhooksListRoute, (c) => c.json({ status: "ok" as const, deliveries: listDeliveriesWithAttempts(emu.db, c.req.valid("query")) }, 200), hookFor(webhooksListRoute));
  app.openapi(webhooksSendRoute, (c) => {
    const b = c.req.valid("json");
    const ws = b.workspace ?? emu.config.workspace;
    if (!workspaceExists(emu.db, ws)) throw notFound(`Workspace "${ws}" does not exist`);
    const id = emu.webhooks.enqueue({ workspaceId: ws, url: b.url, category: b.category ?? "test", subject: b.subject, payload: b.payload ?? { type: "emulator-test-notification-v1" } });
    return c.json({ status: "ok" as const, id }, 202);
  }, hookFor(webhooksSendRoute));
  app.openapi(webhooksRedeliverRoute, (c) => {
    const { id } = c.req.valid("param");
    if (!emu.webhooks.redeliver(id)) throw notFound(`No webhook delivery "${id}"`, "GET /_emulator/webhooks lists them.");
    return c.json({ status: "ok" as const, id }, 202);
  }, hookFor(webhooksRedeliverRoute));

  app.openapi(receiverPostRoute, async (c) => {
    const { name } = c.req.valid("param");
    const want = c.req.valid("query").status;
    const status = want === undefined ? 200 : Number(want);
    if (!Number.isInteger(status) || status < 200 || status > 599) throw badRequest(`status must be an HTTP status 200-599, got "${want}"`);
    const headers: Record<string, string> = {};
    c.req.raw.headers.forEach((v, k) => (headers[k] = v));
    const seq = storeDelivery(emu.db, { name, at: emu.clock.now(), method: c.req.method, headers: JSON.stringify(headers), body: await c.req.text(), status });
    if (status >= 300) return c.json(new ApiError(status, "receiver-status", `The receiver answered ${status} as asked (?status=${status})`).body(), status as 500);
    return c.json({ status: "ok" as const, seq }, 200);
  }, hookFor(receiverPostRoute));
  app.openapi(receiverGetRoute, (c) => {
    const { name } = c.req.valid("param");
    const after = c.req.valid("query").after;
    const rows = listDeliveries(emu.db, name, after === undefined ? 0 : Number(after) || 0);
    return c.json({ status: "ok" as const, name, count: rows.length, deliveries: rows.map(presentReceived) }, 200);
  }, hookFor(receiverGetRoute));
  app.openapi(receiverDeleteRoute, (c) => c.json({ status: "ok" as const, deleted: clearDeliveries(emu.db, c.req.valid("param").name) }, 200), hookFor(receiverDeleteRoute));

  app.openapi(scriptedJobRoute, async (c) => {
    const { workspace, jobId } = c.req.valid("param");
    const b = c.req.valid("json");
    if (!workspaceExists(emu.db, workspace)) throw notFound(`Workspace "${workspace}" does not exist`, "Seed it first (POST /_emulator/seed).");
    const r = startScriptedJob(emu, workspace, jobId, b.definition, { name: b.name, script: b.script });
    return c.json({ status: "ok" as const, jobId, created: r.created }, 201);
  }, hookFor(scriptedJobRoute));

  app.openapi(overviewRoute, (c) => c.json(overview(emu), 200));
  app.openapi(dashboardRoute, (c) => serveAsset(c, "index.html"));
  app.openapi(dashboardAssetRoute, (c) => serveAsset(c, c.req.valid("param").asset), hookFor(dashboardAssetRoute));

  return app;
}

function serveAsset(c: Context<AppEnv>, name: string) {
  const asset = dashboardAsset(name);
  if (!asset) throw notFound(`No dashboard file "${name}"`);
  return c.body(asset.body, 200, { "content-type": asset.contentType, "cache-control": "no-store" }) as any;
}
