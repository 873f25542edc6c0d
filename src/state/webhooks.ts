// Webhook deliveries as stored: one row per notification (its state, attempt count and next
// attempt time) and one row per attempt. The sending logic lives in src/simulator/webhooks.ts.
import type { Db } from "./db.js";

export interface WebhookRow {
  seq: number;
  id: string;
  workspace_id: string;
  url: string;
  category: string;
  subject: string | null;
  payload: string;
  state: "pending" | "delivered" | "failed";
  attempts: number;
  next_attempt_at: number | null;
  created_at: number;
}

export interface AttemptRow {
  seq: number;
  webhook_id: string;
  attempt: number;
  at: number;
  url: string;
  status: number | null;
  error: string | null;
  latency_ms: number;
  body: string;
}

export type NewWebhookRow = Pick<WebhookRow, "id" | "workspace_id" | "url" | "category" | "subject" | "payload" | "created_at">;

/** Stores a notification as pending, due at once. */
export function insertWebhook(db: Db, w: NewWebhookRow): void {
  db.prepare(
    `INSERT INTO webhooks (id, workspace_id, url, category, subject, payload, state, attempts, next_attempt_at, created_at)
     VALUES (@id, @workspace_id, @url, @category, @subject, @payload, 'pending', 0, @created_at, @created_at)`,
  ).run(w);
}

export function getWebhook(db: Db, id: string): WebhookRow | undefined {
  return db.prepare("SELECT * FROM webhooks WHERE id = ?").get(id) as WebhookRow | undefined;
}

/** Ids of pending deliveries whose next attempt is due at `now`. */
export function dueWebhookIds(db: Db, now: number): string[] {
  return (db.prepare("SELECT id FROM webhooks WHERE state = 'pending' AND next_attempt_at <= ?").all(now) as { id: string }[]).map((r) => r.id);
}

/**
 * Pending deliveries whose last claimed attempt never got an outcome: the process stopped or died
 * while sending. They go out again at once after a restart (same event_id, next attempt number).
 * Rows with no due time at all (written by older versions mid-send) count too.
 */
export function interruptedWebhookIds(db: Db): string[] {
  return (
    db
      .prepare(
        `SELECT w.id FROM webhooks w WHERE w.state = 'pending'
           AND (w.next_attempt_at IS NULL OR w.attempts > (SELECT COUNT(*) FROM webhook_attempts a WHERE a.webhook_id = w.id))`,
      )
      .all() as { id: string }[]
  ).map((r) => r.id);
}

/** When the earliest pending delivery is due, or null when none is pending. */
export function nextWebhookDue(db: Db): number | null {
  return (db.prepare("SELECT MIN(next_attempt_at) AS t FROM webhooks WHERE state = 'pending'").get() as { t: number | null }).t;
}

/** Makes a delivery pending again, due at `at` (redelivery). */
export function markWebhookPending(db: Db, id: string, at: number): void {
  db.prepare("UPDATE webhooks SET state = 'pending', next_attempt_at = ? WHERE id = ?").run(at, id);
}

/** Claims attempt number `attempt` before it is sent: no next attempt until its outcome is recorded. */
export function claimWebhookAttempt(db: Db, id: string, attempt: number, leaseUntil: number): void {
  // The lease keeps a due time on the row while it is being sent: if the process dies mid-send the
  // delivery is due again, never stranded.
  db.prepare("UPDATE webhooks SET attempts = ?, next_attempt_at = ? WHERE id = ?").run(attempt, leaseUntil, id);
}

/** What follows an attempt: delivered, failed for good, or another attempt at `retryAt`. */
export type AttemptOutcome = { state: "delivered" } | { state: "failed" } | { state: "pending"; retryAt: number };

/** Records one attempt and its outcome in one transaction. */
export function recordWebhookAttempt(db: Db, a: Omit<AttemptRow, "seq">, outcome: AttemptOutcome): void {
  db.transaction(() => {
    db.prepare(
      "INSERT INTO webhook_attempts (webhook_id, attempt, at, url, status, error, latency_ms, body) VALUES (@webhook_id, @attempt, @at, @url, @status, @error, @latency_ms, @body)",
    ).run(a);
    if (outcome.state === "pending") db.prepare("UPDATE webhooks SET next_attempt_at = ? WHERE id = ?").run(outcome.retryAt, a.webhook_id);
    else db.prepare("UPDATE webhooks SET state = ? WHERE id = ?").run(outcome.state, a.webhook_id);
  })();
}

export interface WebhookFilter {
  workspace?: string;
  state?: string;
  category?: string;
  subject?: string;
}

/** Deliveries matching every given field, oldest first. */
export function listWebhooks(db: Db, f: WebhookFilter): WebhookRow[] {
  const where: string[] = [];
  const args: unknown[] = [];
  const add = (clause: string, value: unknown) => {
    where.push(clause);
    args.push(value);
  };
  if (f.workspace) add("workspace_id = ?", f.workspace);
  if (f.state) add("state = ?", f.state);
  if (f.category) add("category = ?", f.category);
  if (f.subject) add("subject = ?", f.subject);
  return db.prepare(`SELECT * FROM webhooks ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq`).all(...args) as WebhookRow[];
}

export function attemptsOf(db: Db, webhookId: string): AttemptRow[] {
  return db.prepare("SELECT * FROM webhook_attempts WHERE webhook_id = ? ORDER BY attempt, seq").all(webhookId) as AttemptRow[];
}

/** Number of deliveries in each state. */
export function webhookStateCounts(db: Db): Record<string, number> {
  return Object.fromEntries(
    (db.prepare("SELECT state, COUNT(*) AS n FROM webhooks GROUP BY state").all() as { state: string; n: number }[]).map((r) => [r.state, r.n]),
  );
}

/** Deletes the attempts of one workspace's deliveries (they are keyed by webhook id only). */
export function deleteWorkspaceAttempts(db: Db, ws: string): number {
  return db.prepare("DELETE FROM webhook_attempts WHERE webhook_id IN (SELECT id FROM webhooks WHERE workspace_id = ?)").run(ws).changes;
}
