// Webhook deliveries as the control API shows them: each notification with all of its attempts.
import type { Db } from "../state/db.js";
import { attemptsOf, type AttemptRow, type WebhookRow } from "../simulator/webhooks.js";

export interface WebhookFilter {
  workspace?: string;
  state?: string;
  category?: string;
  subject?: string;
}

export function listDeliveriesWithAttempts(db: Db, f: WebhookFilter) {
  const where: string[] = [];
  const args: unknown[] = [];
  if (f.workspace) (where.push("workspace_id = ?"), args.push(f.workspace));
  if (f.state) (where.push("state = ?"), args.push(f.state));
  if (f.category) (where.push("category = ?"), args.push(f.category));
  if (f.subject) (where.push("subject = ?"), args.push(f.subject));
  const rows = db.prepare(`SELECT * FROM webhooks ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq`).all(...args) as WebhookRow[];
  return rows.map((r) => presentDelivery(r, attemptsOf(db, r.id)));
}

export function presentDelivery(r: WebhookRow, attempts: AttemptRow[]) {
  return {
    id: r.id,
    workspace: r.workspace_id,
    url: r.url,
    category: r.category,
    subject: r.subject,
    state: r.state,
    attemptCount: r.attempts,
    nextAttemptAt: r.next_attempt_at === null ? null : new Date(r.next_attempt_at).toISOString(),
    createdAt: new Date(r.created_at).toISOString(),
    payload: JSON.parse(r.payload) as unknown,
    attempts: attempts.map((a) => ({
      attempt: a.attempt,
      at: new Date(a.at).toISOString(),
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
