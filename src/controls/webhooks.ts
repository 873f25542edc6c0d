// Webhook deliveries as the control API shows them (each notification with all of its attempts),
// and the test sends and redeliveries that go through the real sender.
import { iso } from "../clock.js";
import type { Emulator } from "../context.js";
import type { SendWebhookBodyT } from "../contract/controls.js";
import { badRequest, conflict, notFound } from "../errors.js";
import { CONTROL_API_LOOP, pointsAtControlApi } from "../http/self-url.js";
import { MAX_DELIVERY_ATTEMPTS, MAX_REDELIVERIES } from "../simulator/webhooks.js";
import type { Db } from "../state/db.js";
import { attemptsOf, listWebhooks, type AttemptRow, type WebhookFilter, type WebhookRow } from "../state/webhooks.js";
import { workspaceExists } from "../state/workspaces.js";

export function listDeliveriesWithAttempts(db: Db, f: WebhookFilter) {
  return listWebhooks(db, f).map((r) => presentDelivery(r, attemptsOf(db, r.id)));
}

/** Queues a test notification through the durable sender; returns its id. */
export function sendTestWebhook(emu: Emulator, b: SendWebhookBodyT): string {
  const ws = b.workspace ?? emu.config.workspace;
  if (!workspaceExists(emu.db, ws)) throw notFound(`Workspace "${ws}" does not exist`);
  if (pointsAtControlApi(b.url, emu))
    throw badRequest(`Invalid url: ${CONTROL_API_LOOP}`, [{ field: "url", problem: "points at the emulator's own control API", received: b.url }]);
  return emu.webhooks.enqueue({
    workspaceId: ws,
    url: b.url,
    category: b.category ?? "test",
    subject: b.subject,
    payload: b.payload ?? { type: "emulator-test-notification-v1" },
  });
}

export function redeliverWebhook(emu: Emulator, id: string): void {
  const r = emu.webhooks.redeliver(id);
  if (r === "missing") throw notFound(`No webhook delivery "${id}"`, "GET /_emulator/webhooks lists them.");
  if (r === "exhausted")
    throw conflict(
      `Webhook delivery "${id}" was already sent ${MAX_DELIVERY_ATTEMPTS + MAX_REDELIVERIES} times; it is not sent again`,
      "Send a new test notification instead (POST /_emulator/webhooks).",
    );
}

function presentDelivery(r: WebhookRow, attempts: AttemptRow[]) {
  return {
    id: r.id,
    workspace: r.workspace_id,
    url: r.url,
    category: r.category,
    subject: r.subject,
    state: r.state,
    attemptCount: r.attempts,
    nextAttemptAt: r.next_attempt_at === null ? null : iso(r.next_attempt_at),
    createdAt: iso(r.created_at),
    payload: JSON.parse(r.payload) as unknown,
    attempts: attempts.map((a) => ({
      attempt: a.attempt,
      at: iso(a.at),
      url: a.url,
      status: a.status,
      error: a.error,
      latencyMs: a.latency_ms,
      body: parseOr(a.body),
    })),
  };
}

function parseOr(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}
