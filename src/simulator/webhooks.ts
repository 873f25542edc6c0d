// Durable webhook delivery. A notification is stored first, then sent; failures are retried with
// exponential backoff on the emulator clock, every attempt is recorded, and pending deliveries
// resume after a restart.
import type { Db } from "../state/db.js";
import type { Clock } from "../clock.js";

export const MAX_DELIVERY_ATTEMPTS = 5;
export const DELIVERY_TIMEOUT_MS = 10_000;
export const BASE_BACKOFF_MS = 1_000;

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

export interface NewNotification {
  workspaceId: string;
  url: string;
  category: string;
  subject?: string;
  /** Payload without `delivery_attempt` (added per attempt) and `event_id` (added here). */
  payload: Record<string, unknown>;
}

/** Delay before attempt `n + 1` after `n` failed attempts: 1 s, 2 s, 4 s, 8 s ... */
export function backoffMs(failedAttempts: number): number {
  return BASE_BACKOFF_MS * 2 ** Math.max(0, failedAttempts - 1);
}

/** What one delivery attempt sends: the stored payload with the attempt number. */
export function attemptBody(payload: string, attempt: number): string {
  return JSON.stringify({ ...JSON.parse(payload), delivery_attempt: attempt });
}

export type DeliveryHook = (row: WebhookRow) => "deliver" | "drop" | { delayMs: number } | "duplicate";

/** What the sender is built from: where rows live, the clock, how to send, and the test-double hooks. */
export interface WebhookSenderDeps {
  db: Db;
  clock: Clock;
  /** How an attempt is sent (the platform fetch in production; any fetch-compatible function). */
  transport: typeof fetch;
  /** Decides what happens to one attempt (delivery faults). */
  faultHook: DeliveryHook;
  /** Event ids (seeded in deterministic runs). */
  newId: () => string;
}

export class WebhookSender {
  readonly name = "webhooks";
  private timer: number | null = null;
  private inFlight = new Set<string>();
  private closed = false;
  private readonly db: Db;
  private readonly clock: Clock;
  private readonly transport: typeof fetch;
  private readonly faultHook: DeliveryHook;
  private readonly newId: () => string;

  constructor(deps: WebhookSenderDeps) {
    this.db = deps.db;
    this.clock = deps.clock;
    this.transport = deps.transport;
    this.faultHook = deps.faultHook;
    this.newId = deps.newId;
  }

  enqueue(n: NewNotification): string {
    const id = this.newId();
    const payload = { ...n.payload, event_id: id };
    const now = this.clock.now();
    this.db
      .prepare(
        `INSERT INTO webhooks (id, workspace_id, url, category, subject, payload, state, attempts, next_attempt_at, created_at)
         VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)`,
      )
      .run(id, n.workspaceId, n.url, n.category, n.subject ?? null, JSON.stringify(payload), now, now);
    // First attempts go out at once, whatever the clock mode; retries wait on the clock.
    setImmediate(() => void this.attempt(id));
    return id;
  }

  /** Resumes deliveries left pending by a previous process, and arms the retry timer. */
  start(): void {
    this.closed = false;
    const due = this.db.prepare("SELECT id FROM webhooks WHERE state = 'pending' AND next_attempt_at <= ?").all(this.clock.now()) as { id: string }[];
    for (const { id } of due) setImmediate(() => void this.attempt(id));
    this.schedule();
  }

  stop(): void {
    this.closed = true;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
  }

  /** Sends a delivered or failed notification once more, as a new attempt. */
  redeliver(id: string): boolean {
    const row = this.get(id);
    if (!row) return false;
    this.db.prepare("UPDATE webhooks SET state = 'pending', next_attempt_at = ? WHERE id = ?").run(this.clock.now(), id);
    setImmediate(() => void this.attempt(id, true));
    return true;
  }

  get(id: string): WebhookRow | undefined {
    return this.db.prepare("SELECT * FROM webhooks WHERE id = ?").get(id) as WebhookRow | undefined;
  }

  /** True when no attempt is being sent (close waits for this; pending retries resume after a restart). */
  idle(): boolean {
    return this.inFlight.size === 0;
  }

  private schedule(): void {
    if (this.closed) return;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    const next = this.db.prepare("SELECT MIN(next_attempt_at) AS t FROM webhooks WHERE state = 'pending'").get() as { t: number | null };
    if (next.t === null) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      const due = this.db.prepare("SELECT id FROM webhooks WHERE state = 'pending' AND next_attempt_at <= ?").all(this.clock.now()) as { id: string }[];
      for (const { id } of due) void this.attempt(id);
      this.schedule();
    }, Math.max(0, next.t - this.clock.now()));
  }

  private async attempt(id: string, force = false): Promise<void> {
    if (this.closed || this.inFlight.has(id)) return;
    const row = this.get(id);
    if (!row || row.state !== "pending") return;
    if (!force && row.next_attempt_at !== null && row.next_attempt_at > this.clock.now()) return this.schedule();
    this.inFlight.add(id);
    try {
      const attempt = row.attempts + 1;
      // Claim the attempt before sending, so a crash mid-send never repeats an attempt number.
      this.db.prepare("UPDATE webhooks SET attempts = ?, next_attempt_at = NULL WHERE id = ?").run(attempt, id);
      const body = attemptBody(row.payload, attempt);
      const decision = this.faultHook(row);
      const started = Date.now();
      let status: number | null = null;
      let error: string | null = null;
      if (decision === "drop") {
        error = "dropped by an emulator delivery fault";
      } else {
        if (typeof decision === "object") await new Promise((r) => setTimeout(r, decision.delayMs));
        const sends = decision === "duplicate" ? 2 : 1;
        for (let i = 0; i < sends; i++) {
          try {
            const res = await this.transport(row.url, {
              method: "POST",
              headers: { "content-type": "application/json", authorization: `Bearer rf_${row.workspace_id}` },
              body,
              signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
              redirect: "manual",
            });
            status = res.status;
            await res.body?.cancel().catch(() => {});
            if (status < 200 || status >= 300) error = `receiver answered ${status}`;
          } catch (err) {
            error = describeFetchError(err);
          }
        }
      }
      const latency = Date.now() - started;
      if (this.closed) return;
      const now = this.clock.now();
      const ok = error === null;
      this.db.transaction(() => {
        this.db
          .prepare("INSERT INTO webhook_attempts (webhook_id, attempt, at, url, status, error, latency_ms, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
          .run(id, attempt, now, row.url, status, error, latency, body);
        if (ok) this.db.prepare("UPDATE webhooks SET state = 'delivered' WHERE id = ?").run(id);
        else if (attempt >= MAX_DELIVERY_ATTEMPTS) this.db.prepare("UPDATE webhooks SET state = 'failed' WHERE id = ?").run(id);
        else this.db.prepare("UPDATE webhooks SET next_attempt_at = ? WHERE id = ?").run(now + backoffMs(attempt), id);
      })();
    } catch (err) {
      if (!this.closed) console.error("[webhooks] delivery bookkeeping failed:", err);
    } finally {
      this.inFlight.delete(id);
      this.schedule();
    }
  }
}

function describeFetchError(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === "TimeoutError") return `timed out after ${DELIVERY_TIMEOUT_MS} ms`;
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}

export function listWebhooks(db: Db, filter: { workspaceId?: string; subject?: string; state?: string }, afterSeq: number, size: number): WebhookRow[] {
  const where: string[] = ["seq > ?"];
  const args: unknown[] = [afterSeq];
  if (filter.workspaceId) (where.push("workspace_id = ?"), args.push(filter.workspaceId));
  if (filter.subject) (where.push("subject = ?"), args.push(filter.subject));
  if (filter.state) (where.push("state = ?"), args.push(filter.state));
  return db.prepare(`SELECT * FROM webhooks WHERE ${where.join(" AND ")} ORDER BY seq LIMIT ?`).all(...args, size + 1) as WebhookRow[];
}

export function attemptsOf(db: Db, webhookId: string): AttemptRow[] {
  return db.prepare("SELECT * FROM webhook_attempts WHERE webhook_id = ? ORDER BY attempt, seq").all(webhookId) as AttemptRow[];
}
