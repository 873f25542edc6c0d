// Reads for the contract report: webhook deliveries that gave up, with their last attempt.
import type { Db } from "./db.js";

export interface FailedDeliveryRow {
  id: string;
  workspace_id: string;
  url: string;
  category: string;
  subject: string | null;
  attempts: number;
  created_at: number;
  last_status: number | null;
  last_error: string | null;
}

/** Deliveries in state failed (all, or one workspace's), oldest first, at most `limit`. */
export function failedDeliveries(db: Db, ws?: string, limit = 1000): FailedDeliveryRow[] {
  const where = ws === undefined ? "" : " AND w.workspace_id = ?";
  return db
    .prepare(
      `SELECT w.id, w.workspace_id, w.url, w.category, w.subject, w.attempts, w.created_at,
         (SELECT a.status FROM webhook_attempts a WHERE a.webhook_id = w.id ORDER BY a.attempt DESC, a.seq DESC LIMIT 1) AS last_status,
         (SELECT a.error FROM webhook_attempts a WHERE a.webhook_id = w.id ORDER BY a.attempt DESC, a.seq DESC LIMIT 1) AS last_error
       FROM webhooks w WHERE w.state = 'failed'${where} ORDER BY w.seq LIMIT ?`,
    )
    .all(...(ws === undefined ? [] : [ws]), limit) as FailedDeliveryRow[];
}
