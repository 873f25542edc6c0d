// Test-double control API under /_emulator (tag "Emulator Controls"): reset, seed, snapshot, request
// journal (search by matcher, verify), contract report, fault rules and stubs, clock, webhook deliveries and a built-in receiver, scripted jobs, and the
// dashboard. Plain HTTP + JSON so any language can drive it. Each handler parses, calls the service
// in src/controls/ and answers; the journal, fault and admin-token middleware is in control-middleware.ts.
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv, Emulator } from "../context.js";
import { ErrorBody, errorResponses, jsonContent } from "../contract/common.js";
import {
  AdvanceBody,
  Advanced,
  ClockBody,
  ClockState,
  Deleted,
  FaultIdParam,
  FaultRuleBody,
  FaultRuleList,
  FaultRuleView,
  JournalClearQuery,
  JournalCount,
  JournalPage,
  JournalQuery,
  JournalSettings,
  JournalSettingsView,
  Queued,
  Received,
  ReceivedList,
  ReceiverGetQuery,
  ReceiverParams,
  ReceiverPostQuery,
  ResetBody,
  ResetResult,
  ScriptedJobBody,
  ScriptedJobParams,
  ScriptedJobStarted,
  SeedRequest,
  SeedResult,
  SendWebhookBody,
  Snapshot,
  SnapshotImported,
  WebhookIdParam,
  WebhookList,
  WebhooksQuery,
} from "../contract/controls.js";
import { ContractReport, JournalSearchBody, VerificationFailed, Verified, VerifyBody } from "../contract/controls-verify.js";
import { notFound } from "../errors.js";
import { clearContractReport, contractReport } from "../controls/contract-report.js";
import { presentFaultRule } from "../controls/faults.js";
import { addFaultRule, clearFaultRules, deleteFaultRule } from "../controls/job-stubs.js";
import { journalCount, journalPage, journalSearch, updateJournalSettings, verifyJournal } from "../controls/journal.js";
import { dashboardState, overview } from "../controls/overview.js";
import { clearReceived, receiveDelivery, receivedDeliveries } from "../controls/receiver.js";
import { reset, seed } from "../controls/reset.js";
import { startScriptedJobIn } from "../controls/scripted-jobs.js";
import { exportSnapshot, importSnapshot } from "../controls/snapshot.js";
import { advanceClock, clockView, setClockMode } from "../controls/time.js";
import { listDeliveriesWithAttempts, redeliverWebhook, sendTestWebhook } from "../controls/webhooks.js";
import { dashboardAsset } from "../dashboard/assets.js";
import { CONTROL_PREFIX } from "./control-middleware.js";
import { hookFor } from "./validation.js";

const tags = ["Emulator Controls"];

const P = CONTROL_PREFIX;
/** Every control route can meet a 404 (e.g. its path with a trailing slash); routes with a JSON body a 415 too. */
const errors = (...codes: number[]) => errorResponses(404, ...codes);
const bodyErrors = (...codes: number[]) => errorResponses(404, 415, ...codes);
const jsonBody = <T extends z.ZodType>(schema: T, description?: string) => ({
  body: { required: true, description, content: { "application/json": { schema } } },
});

const resetRoute = createRoute({
  method: "post",
  path: `${P}/reset`,
  tags,
  summary: "Reset everything, or one workspace",
  description:
    "Deletes rows and blobs, stops background work (workers reload), drops pending webhooks. The configured default workspace and key are kept; a one-workspace reset keeps that workspace and its keys. The body is optional.",
  request: { body: { required: false, content: { "application/json": { schema: ResetBody } } } },
  responses: { 200: jsonContent(ResetResult, "What was deleted and how long it took."), ...bodyErrors(400, 404) },
});
const seedRoute = createRoute({
  method: "post",
  path: `${P}/seed`,
  tags,
  summary: "Load workspaces, keys, batches (with files) and jobs",
  request: jsonBody(SeedRequest),
  responses: { 200: jsonContent(SeedResult, "What was created."), ...bodyErrors(400, 409) },
});
const getSnapshotRoute = createRoute({
  method: "get",
  path: `${P}/snapshot`,
  tags,
  summary: "Export the whole emulated world (rows + blobs) as JSON",
  responses: { 200: jsonContent(Snapshot, "The snapshot; POST it back to restore."), ...errors() },
});
const putSnapshotRoute = createRoute({
  method: "post",
  path: `${P}/snapshot`,
  tags,
  summary: "Import a snapshot (replaces the world)",
  request: jsonBody(Snapshot),
  responses: { 200: jsonContent(SnapshotImported, "Imported."), ...bodyErrors(400, 409) },
});

const journalRoute = createRoute({
  method: "get",
  path: `${P}/journal`,
  tags,
  summary: "Requests received (filterable)",
  description:
    "Every request to the emulated API: time (emulator clock), method, path, query with api_key masked, selected headers, status (null = connection dropped), latency, workspace, injected fault. `count` is the number of matching entries, whatever `limit` returns.",
  request: { query: JournalQuery },
  responses: { 200: jsonContent(JournalPage, "Matching entries, oldest first unless order=desc."), ...errors(400) },
});
const journalCountRoute = createRoute({
  method: "get",
  path: `${P}/journal/count`,
  tags,
  summary: "Number of matching requests",
  request: { query: JournalQuery },
  responses: { 200: jsonContent(JournalCount, "The count."), ...errors(400) },
});
const journalClearRoute = createRoute({
  method: "delete",
  path: `${P}/journal`,
  tags,
  summary: "Clear the journal (or one workspace's entries)",
  request: { query: JournalClearQuery },
  responses: { 200: jsonContent(Deleted, "Cleared."), ...errors() },
});
const journalSettingsRoute = createRoute({
  method: "put",
  path: `${P}/journal/settings`,
  tags,
  summary: "Journal settings (include control calls, rows kept)",
  request: jsonBody(JournalSettings),
  responses: { 200: jsonContent(JournalSettingsView, "Current settings."), ...bodyErrors(400) },
});

const journalSearchRoute = createRoute({
  method: "post",
  path: `${P}/journal/query`,
  tags,
  summary: "Requests matching a matcher (body fields, query parameters, headers...)",
  description:
    "Same page as GET /_emulator/journal, selected by a RequestMatcher: method, path (prefix, glob, regex), operation, workspace, status, query and headers (name → value or {equals, contains, matches, absent}), body (a list of {path, equals | contains | matches | absent} on the JSON body).",
  request: jsonBody(JournalSearchBody),
  responses: { 200: jsonContent(JournalPage, "Matching entries and their count."), ...bodyErrors(400) },
});
const journalVerifyRoute = createRoute({
  method: "post",
  path: `${P}/journal/verify`,
  tags,
  summary: "Verify how many requests matched (WireMock's verify)",
  description:
    "200 when the number of journaled requests matching `match` is `count` (or within atLeast..atMost; default: at least 1). Otherwise 422 with the closest requests (most matcher parts satisfied) and, for each, the parts it failed and what it had instead.",
  request: jsonBody(VerifyBody),
  responses: {
    200: jsonContent(Verified, "The expectation holds."),
    422: jsonContent(VerificationFailed, "It does not: what was found, and the closest requests with the parts they failed."),
    ...bodyErrors(400),
  },
});

const contractReportRoute = createRoute({
  method: "get",
  path: `${P}/contract-report`,
  tags,
  summary: "Contract report of the run: what the real service would refuse, API coverage, failed webhooks",
  description:
    "Every request of the run the real service would refuse or treat differently (invalid bodies, unknown fields, deprecated options, other workspaces, expired URLs, unknown routes), answers that came from fault rules or stubs (marked), the operations of the emulated API the run exercised and those it never touched, and the webhook deliveries that failed. Covers the run since start or the last DELETE: resets do not empty it.",
  responses: { 200: jsonContent(ContractReport, "The report; `text` is its readable form."), ...errors() },
});
const contractReportClearRoute = createRoute({
  method: "delete",
  path: `${P}/contract-report`,
  tags,
  summary: "Start a new contract report (forget the run so far)",
  responses: { 200: jsonContent(Deleted, "Cleared."), ...errors() },
});

const faultsAddRoute = createRoute({
  method: "post",
  path: `${P}/faults`,
  tags,
  summary: "Add a fault rule",
  description:
    "Request faults (status with Retry-After, latency, drop-connection), stubs (respond: any status, headers and body; job-state: put a job into failed, succeeded or aborted at an emulator time), simulator faults (fail-task, fail-stage) and webhook delivery faults (webhook-drop, -delay, -duplicate, -out-of-order). Request rules can also match query parameters, headers and JSON body fields. Fires always, the next `times` times, or with `probability` under `seed` (deterministic). The first matching rule that fires wins.",
  request: jsonBody(FaultRuleBody),
  responses: { 201: jsonContent(FaultRuleView, "The rule."), ...bodyErrors(400, 409) },
});
const faultsListRoute = createRoute({
  method: "get",
  path: `${P}/faults`,
  tags,
  summary: "List fault rules with fire counts",
  responses: { 200: jsonContent(FaultRuleList, "The rules, oldest first."), ...errors() },
});
const faultsClearRoute = createRoute({
  method: "delete",
  path: `${P}/faults`,
  tags,
  summary: "Delete every fault rule",
  responses: { 200: jsonContent(Deleted, "Deleted."), ...errors() },
});
const faultsDeleteRoute = createRoute({
  method: "delete",
  path: `${P}/faults/{id}`,
  tags,
  summary: "Delete one fault rule",
  request: { params: FaultIdParam },
  responses: { 200: jsonContent(Deleted, "Deleted."), ...errors(404) },
});

const clockGetRoute = createRoute({
  method: "get",
  path: `${P}/clock`,
  tags,
  summary: "The emulator clock",
  responses: { 200: jsonContent(ClockState, "Mode, scale (null = max), now, pending timers."), ...errors() },
});
const clockSetRoute = createRoute({
  method: "post",
  path: `${P}/clock`,
  tags,
  summary: "Set the clock mode (real | scaled | max | manual)",
  request: jsonBody(ClockBody),
  responses: { 200: jsonContent(ClockState, "The clock after the change."), ...bodyErrors(400) },
});
const clockAdvanceRoute = createRoute({
  method: "post",
  path: `${P}/clock/advance`,
  tags,
  summary: "Advance a manual clock",
  description:
    '{"ms": N} moves time forward firing due timers in order; {"to": "next"} jumps to the next timer; {"to": "idle"} keeps jumping until no timer is left and no background work (a job step, a shard being indexed, a webhook being sent) is running. After every timer the call waits for the work it started; 409 if that work does not settle within 60 s of real time.',
  request: jsonBody(AdvanceBody),
  responses: { 200: jsonContent(Advanced, "Timers fired and the clock now."), ...bodyErrors(400, 409) },
});

const webhooksListRoute = createRoute({
  method: "get",
  path: `${P}/webhooks`,
  tags,
  summary: "Webhook deliveries with all their attempts",
  request: { query: WebhooksQuery },
  responses: { 200: jsonContent(WebhookList, "Deliveries, oldest first."), ...errors(400) },
});
const webhooksSendRoute = createRoute({
  method: "post",
  path: `${P}/webhooks`,
  tags,
  summary: "Send a test notification through the webhook sender",
  description: "Goes through the same durable sender as real notifications (retries, delivery faults, attempts recorded).",
  request: jsonBody(SendWebhookBody),
  responses: { 202: jsonContent(Queued, "Queued."), ...bodyErrors(400) },
});
const webhooksRedeliverRoute = createRoute({
  method: "post",
  path: `${P}/webhooks/{id}/redeliver`,
  tags,
  summary: "Send a notification once more (a new attempt)",
  request: { params: WebhookIdParam },
  responses: { 202: jsonContent(Queued, "Queued."), ...errors(404) },
});

const receiverPostRoute = createRoute({
  method: "post",
  path: `${P}/receiver/{name}`,
  tags,
  summary: "Built-in webhook receiver: stores any delivery",
  description: "Point notificationsURL here. Answers 200, or the status given by ?status=NNN (to exercise retries). Needs no admin token.",
  request: { params: ReceiverParams, query: ReceiverPostQuery },
  responses: {
    200: jsonContent(Received, "Stored."),
    default: { description: "The status asked for with ?status=.", content: { "application/json": { schema: ErrorBody } } },
  },
});
const receiverGetRoute = createRoute({
  method: "get",
  path: `${P}/receiver/{name}`,
  tags,
  summary: "Deliveries the receiver got, with headers",
  request: { params: ReceiverParams, query: ReceiverGetQuery },
  responses: { 200: jsonContent(ReceivedList, "Deliveries, oldest first."), ...errors(400) },
});
const receiverDeleteRoute = createRoute({
  method: "delete",
  path: `${P}/receiver/{name}`,
  tags,
  summary: "Forget the receiver's deliveries",
  request: { params: ReceiverParams },
  responses: { 200: jsonContent(Deleted, "Deleted."), ...errors(400) },
});

const scriptedJobRoute = createRoute({
  method: "post",
  path: `${P}/jobs/{workspace}/{jobId}`,
  tags,
  summary: "Start a scripted job (timeline: stage durations, failing tasks, final state)",
  request: { params: ScriptedJobParams, ...jsonBody(ScriptedJobBody) },
  responses: { 201: jsonContent(ScriptedJobStarted, "Started."), ...bodyErrors(400, 404, 409) },
});

const overviewRoute = createRoute({
  method: "get",
  path: `${P}/overview`,
  tags,
  summary: "Everything at a glance (the dashboard's data)",
  responses: {
    200: jsonContent(
      z.record(z.string(), z.unknown()),
      "Workspaces with keys, batches with file counts, parts and shard statuses, webhook and journal counts, the clock.",
    ),
    ...errors(),
  },
});
const dashboardRoute = createRoute({
  method: "get",
  path: `${P}/dashboard`,
  tags,
  summary: "Dashboard (HTML)",
  responses: {
    200: { description: "The dashboard page.", content: { "text/html": { schema: z.string() } } },
    404: { description: "Dashboard files missing from the install.", content: { "application/json": { schema: ErrorBody } } },
  },
});
const dashboardAssetRoute = createRoute({
  method: "get",
  path: `${P}/dashboard/{asset}`,
  tags,
  summary: "Dashboard static files",
  request: { params: z.object({ asset: z.string() }) },
  responses: { 200: { description: "A static file." }, 404: { description: "No such file.", content: { "application/json": { schema: ErrorBody } } } },
});

// ---- handlers ---------------------------------------------------------------------------------

const ok = <T extends object>(body: T) => ({ status: "ok" as const, ...body });

export function controlRoutes(emu: Emulator) {
  const app = new OpenAPIHono<AppEnv>();
  const plane = emu.controls;

  app.openapi(resetRoute, (c) => c.json(ok(reset(emu, c.req.valid("json") ?? {})), 200), hookFor(resetRoute));
  app.openapi(
    seedRoute,
    (c) => {
      const { workspaces, batches, files, jobs } = seed(emu, c.req.valid("json"));
      return c.json(ok({ workspaces, batches, files, jobs }), 200);
    },
    hookFor(seedRoute),
  );
  app.openapi(getSnapshotRoute, (c) => c.json(exportSnapshot(emu), 200));
  app.openapi(putSnapshotRoute, async (c) => c.json(ok(await importSnapshot(emu, c.req.valid("json"))), 200), hookFor(putSnapshotRoute));

  app.openapi(journalRoute, (c) => c.json(ok(journalPage(plane.journal, c.req.valid("query"))), 200), hookFor(journalRoute));
  app.openapi(journalCountRoute, (c) => c.json(ok({ count: journalCount(plane.journal, c.req.valid("query")) }), 200), hookFor(journalCountRoute));
  app.openapi(journalClearRoute, (c) => c.json(ok({ deleted: plane.journal.clear(c.req.valid("query").workspace) }), 200), hookFor(journalClearRoute));
  app.openapi(journalSettingsRoute, (c) => c.json(ok(updateJournalSettings(plane.journal, c.req.valid("json"))), 200), hookFor(journalSettingsRoute));

  app.openapi(journalSearchRoute, (c) => c.json(ok(journalSearch(plane.journal, c.req.valid("json"))), 200), hookFor(journalSearchRoute));
  app.openapi(
    journalVerifyRoute,
    (c) => {
      const v = verifyJournal(plane.journal, c.req.valid("json"));
      return "failure" in v ? c.json(v.failure, 422) : c.json(ok(v), 200);
    },
    hookFor(journalVerifyRoute),
  );
  app.openapi(contractReportRoute, async (c) => c.json(await contractReport(emu), 200));
  app.openapi(contractReportClearRoute, (c) => {
    clearContractReport(emu);
    return c.json(ok({ deleted: 1 }), 200);
  });

  app.openapi(faultsAddRoute, (c) => c.json(presentFaultRule(addFaultRule(emu, c.req.valid("json"))), 201), hookFor(faultsAddRoute));
  app.openapi(faultsListRoute, (c) => c.json(ok({ rules: plane.faults.rows().map(presentFaultRule) }), 200));
  app.openapi(faultsClearRoute, (c) => c.json(ok({ deleted: clearFaultRules(emu) }), 200));
  app.openapi(
    faultsDeleteRoute,
    (c) => {
      deleteFaultRule(emu, c.req.valid("param").id);
      return c.json(ok({ deleted: 1 }), 200);
    },
    hookFor(faultsDeleteRoute),
  );

  app.openapi(clockGetRoute, (c) => c.json(clockView(emu), 200));
  app.openapi(
    clockSetRoute,
    (c) => {
      const b = c.req.valid("json");
      return c.json(setClockMode(emu, b.mode, b.scale), 200);
    },
    hookFor(clockSetRoute),
  );
  app.openapi(clockAdvanceRoute, async (c) => c.json(ok(await advanceClock(emu, c.req.valid("json"))), 200), hookFor(clockAdvanceRoute));

  app.openapi(webhooksListRoute, (c) => c.json(ok({ deliveries: listDeliveriesWithAttempts(emu.db, c.req.valid("query")) }), 200), hookFor(webhooksListRoute));
  app.openapi(webhooksSendRoute, (c) => c.json(ok({ id: sendTestWebhook(emu, c.req.valid("json")) }), 202), hookFor(webhooksSendRoute));
  app.openapi(
    webhooksRedeliverRoute,
    (c) => {
      const { id } = c.req.valid("param");
      redeliverWebhook(emu, id);
      return c.json(ok({ id }), 202);
    },
    hookFor(webhooksRedeliverRoute),
  );

  app.openapi(
    receiverPostRoute,
    async (c) => {
      const headers: Record<string, string> = {};
      c.req.raw.headers.forEach((v, k) => (headers[k] = v));
      const d = { name: c.req.valid("param").name, status: c.req.valid("query").status ?? 200, method: c.req.method, headers, body: await c.req.text() };
      return c.json(ok({ seq: receiveDelivery(emu, d) }), 200);
    },
    hookFor(receiverPostRoute),
  );
  app.openapi(
    receiverGetRoute,
    (c) => {
      const { name } = c.req.valid("param");
      const deliveries = receivedDeliveries(emu, name, c.req.valid("query").after);
      return c.json(ok({ name, count: deliveries.length, deliveries }), 200);
    },
    hookFor(receiverGetRoute),
  );
  app.openapi(receiverDeleteRoute, (c) => c.json(ok({ deleted: clearReceived(emu, c.req.valid("param").name) }), 200), hookFor(receiverDeleteRoute));

  app.openapi(
    scriptedJobRoute,
    (c) => {
      const { workspace, jobId } = c.req.valid("param");
      return c.json(ok({ jobId, created: startScriptedJobIn(emu, workspace, jobId, c.req.valid("json")).created }), 201);
    },
    hookFor(scriptedJobRoute),
  );

  app.openapi(overviewRoute, (c) => c.json(overview(emu), 200));
  // The page carries the world as it is (first paint shows data), unless an admin token guards the data: the page itself is open.
  app.openapi(dashboardRoute, async (c) => serveAsset(c, "index.html", emu.config.adminToken ? undefined : await dashboardState(emu)));
  app.openapi(dashboardAssetRoute, (c) => serveAsset(c, c.req.valid("param").asset), hookFor(dashboardAssetRoute));

  return app;
}

function serveAsset(c: Context<AppEnv>, name: string, initial?: unknown): Response {
  const asset = dashboardAsset(name, initial);
  if (!asset) throw notFound(`No dashboard file "${name}"`);
  return c.body(asset.body, 200, { "content-type": asset.contentType, "cache-control": "no-store" });
}
