// Durable webhook delivery. A notification is stored first, then sent; failures are retried with
// exponential backoff on the emulator clock, every attempt is recorded, and pending deliveries
// resume after a restart: at least once, with the same event_id, even when the process stopped or
// died in the middle of sending.
import type { Clock } from "../clock.js";
import { describeFetchError } from "../http/fetch-errors.js";
import type { Db } from "../state/db.js";
import { internalIdOf } from "../state/workspaces.js";
import { EMULATOR_USER_AGENT } from "../version.js";
import {
  claimWebhookAttempt,
  dueWebhookIds,
  getWebhook,
  insertWebhook,
  interruptedWebhookIds,
  markWebhookPending,
  nextWebhookDue,
  recordWebhookAttempt,
  type AttemptOutcome,
  type WebhookRow,
} from "../state/webhooks.js";

export const MAX_DELIVERY_ATTEMPTS = 5;
export const DELIVERY_TIMEOUT_MS = 10_000;
export const BASE_BACKOFF_MS = 1_000;
/** A notification can be sent by hand (redelivered) this many times beyond its automatic attempts. */
export const MAX_REDELIVERIES = 50;

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
  /** Why a URL must not be sent to (e.g. the emulator's own control API: a webhook loop), or null. */
  refuseUrl: (url: string) => string | null;
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
  private readonly refuseUrl: (url: string) => string | null;

  constructor(deps: WebhookSenderDeps) {
    this.refuseUrl = deps.refuseUrl;
    this.db = deps.db;
    this.clock = deps.clock;
    this.transport = deps.transport;
    this.faultHook = deps.faultHook;
    this.newId = deps.newId;
  }

  enqueue(n: NewNotification): string {
    const id = this.newId();
    const payload = { ...n.payload, event_id: id };
    insertWebhook(this.db, {
      id,
      workspace_id: n.workspaceId,
      url: n.url,
      category: n.category,
      subject: n.subject ?? null,
      payload: JSON.stringify(payload),
      created_at: this.clock.now(),
    });
    // First attempts go out at once, whatever the clock mode; retries wait on the clock.
    setImmediate(() => void this.attempt(id));
    return id;
  }

  /** Resumes deliveries left pending by a previous process, and arms the retry timer. */
  start(): void {
    this.closed = false;
    const resume = new Set([...interruptedWebhookIds(this.db), ...dueWebhookIds(this.db, this.clock.now())]);
    for (const id of resume) setImmediate(() => void this.attempt(id, true));
    this.schedule();
  }

  stop(): void {
    this.closed = true;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
  }

  /** Sends a delivered or failed notification once more, as a new attempt (bounded, so no loop runs forever). */
  redeliver(id: string): "queued" | "missing" | "exhausted" {
    const row = this.get(id);
    if (!row) return "missing";
    if (row.attempts >= MAX_DELIVERY_ATTEMPTS + MAX_REDELIVERIES) return "exhausted";
    markWebhookPending(this.db, id, this.clock.now());
    setImmediate(() => void this.attempt(id, true));
    return "queued";
  }

  get(id: string): WebhookRow | undefined {
    return getWebhook(this.db, id);
  }

  /** True when no attempt is being sent (close waits for this; pending retries resume after a restart). */
  idle(): boolean {
    return this.inFlight.size === 0;
  }

  private schedule(): void {
    if (this.closed) return;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    const next = nextWebhookDue(this.db);
    if (next === null) return;
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = null;
        for (const id of dueWebhookIds(this.db, this.clock.now())) void this.attempt(id);
        this.schedule();
      },
      Math.max(0, next - this.clock.now()),
    );
  }

  private async attempt(id: string, force = false): Promise<void> {
    if (this.closed || this.inFlight.has(id)) return;
    const row = this.get(id);
    if (!row || row.state !== "pending") return;
    if (!force && row.next_attempt_at !== null && row.next_attempt_at > this.clock.now()) return this.schedule();
    this.inFlight.add(id);
    try {
      const attempt = row.attempts + 1;
      const body = attemptBody(row.payload, attempt);
      const refused = this.refuseUrl(row.url);
      const decision = refused ? "drop" : this.faultHook(row);
      const sends = decision === "duplicate" ? 2 : 1;
      const lease = (typeof decision === "object" ? decision.delayMs : 0) + sends * DELIVERY_TIMEOUT_MS + BASE_BACKOFF_MS;
      // Claim the attempt before sending, so a crash mid-send never repeats an attempt number.
      claimWebhookAttempt(this.db, id, attempt, this.clock.now() + lease);
      const started = Date.now();
      let status: number | null = null;
      let error: string | null = null;
      if (refused) {
        error = refused;
      } else if (decision === "drop") {
        error = "dropped by an emulator delivery fault";
      } else {
        if (typeof decision === "object") await new Promise((r) => setTimeout(r, decision.delayMs));
        for (let i = 0; i < sends; i++) {
          try {
            const res = await this.transport(row.url, {
              method: "POST",
              // As the real service: Bearer rf_{the workspace's internal id}; the User-Agent names the emulator.
              headers: {
                "content-type": "application/json",
                authorization: `Bearer rf_${internalIdOf(this.db, row.workspace_id)}`,
                "user-agent": EMULATOR_USER_AGENT,
              },
              body,
              signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
              redirect: "manual",
            });
            status = res.status;
            await res.body?.cancel().catch(() => {});
            if (status < 200 || status >= 300) error = `receiver answered ${status}`;
          } catch (err) {
            const f = describeFetchError(err);
            error = f.timedOut ? `timed out after ${DELIVERY_TIMEOUT_MS} ms` : f.reason;
          }
        }
      }
      const latency = Date.now() - started;
      // Recorded even while closing: close waits for sends in flight, so the store is still open.
      const now = this.clock.now();
      const outcome: AttemptOutcome =
        error === null
          ? { state: "delivered" }
          : refused || attempt >= MAX_DELIVERY_ATTEMPTS
            ? { state: "failed" }
            : { state: "pending", retryAt: now + backoffMs(attempt) };
      recordWebhookAttempt(this.db, { webhook_id: id, attempt, at: now, url: row.url, status, error, latency_ms: latency, body }, outcome);
    } catch (err) {
      // The claim's lease (or the interrupted-attempt check at the next start) sends it again.
      if (!this.closed) console.error("[webhooks] delivery bookkeeping failed; it will be retried:", err);
    } finally {
      this.inFlight.delete(id);
      this.schedule();
    }
  }
}
