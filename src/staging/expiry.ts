// Batches expire: at expiryDate on the emulator clock a batch (an upload's or a job's output) and its
// files stop being listed, read, downloaded and used as job input, with a 404 saying when it expired.
// The sweep (BatchExpiry) then removes the expired files from the store and their blobs from disk,
// and frees the id: the next upload to it starts a new batch. A batch an unfinished job still reads
// or writes is swept once that job ends (the reads refuse it all the same).
import { iso, type Clock } from "../clock.js";
import type { Worker } from "../context.js";
import { ApiError } from "../errors.js";
import { getBatch, type BatchRow } from "../state/batches.js";
import type { BlobStore } from "../state/blobs.js";
import type { Db } from "../state/db.js";
import { hasSweepableBatch, isTombstoneId, jobHoldingBatch, latestTombstone, retireBatch, sweepBatch, sweepableBatches } from "../state/expiry.js";
import type { JobRow } from "../state/jobs.js";
import { listStages } from "../state/jobs.js";

/** Real time between two looks for expired batches (the clock may jump, so expiry is compared, not timed). */
export const SWEEP_INTERVAL_MS = 200;
/** Batches swept per transaction, and blobs removed per turn of the event loop. */
const BATCHES_PER_SWEEP = 16;
const BLOBS_PER_TURN = 256;

const UNITS: [number, string][] = [
  [86_400_000, "day"],
  [3_600_000, "hour"],
  [60_000, "minute"],
  [1000, "second"],
];

/** "7 days", "90 minutes", "1500 ms": the largest unit that divides the duration. */
export function describeDuration(ms: number): string {
  for (const [size, name] of UNITS) {
    if (ms >= size && ms % size === 0) return `${ms / size} ${name}${ms === size ? "" : "s"}`;
  }
  return `${ms} ms`;
}

const expiredWhen = (b: BatchRow) =>
  `expired at ${iso(b.expires_at)} (batches are kept ${describeDuration(b.expires_at - b.created_at)} after they are created)`;

/** The batch under this id when it has expired at `now`: the expired row, or, once swept, its tombstone. */
export function expiredBatch(db: Db, ws: string, batchId: string, now: number): BatchRow | undefined {
  const b = getBatch(db, ws, batchId);
  if (b) return b.expires_at <= now ? b : undefined;
  return latestTombstone(db, ws, batchId);
}

/** The 404 every read of an expired batch answers. `lead` names what was asked for, e.g. `Input batch "x" in workspace "w"`. */
export function batchExpired(lead: string, b: BatchRow, hint?: string): ApiError {
  return new ApiError(
    404,
    "batch-expired",
    `${lead} ${expiredWhen(b)}; its files are no longer available`,
    undefined,
    hint ??
      "Stage the data again: the next upload to this batch id starts a new batch. GET /data-staging/v1/external/{workspace}/batches lists the batches still available.",
  );
}

/** The input batch a job starts from: refused with the expired 404 when it expired (for the job's checkInput). */
export function assertInputNotExpired(emu: { db: Db; clock: Clock }, ws: string, batchId: string): void {
  const b = expiredBatch(emu.db, ws, batchId, emu.clock.now());
  if (b)
    throw batchExpired(
      `Input batch "${batchId}" in workspace "${ws}"`,
      b,
      `Stage the input again (an upload to batch id "${batchId}" starts a new batch) and start the job once GET .../count is above 0.`,
    );
}

/** A restart reads the job's input and adds to its output batches: 409 when any of them expired. */
export function assertJobBatchesLive(emu: { db: Db; clock: Clock }, ws: string, job: JobRow): void {
  const now = emu.clock.now();
  const input = (JSON.parse(job.definition) as { jobInput?: { batchId?: string } }).jobInput?.batchId;
  const outputs = listStages(emu.db, ws, job.job_id).flatMap((s) => JSON.parse(s.output_batches) as string[]);
  for (const [role, batchId] of [...(input ? [["input", input]] : []), ...outputs.map((o) => ["output", o])]) {
    const b = expiredBatch(emu.db, ws, batchId, now);
    if (b) {
      throw new ApiError(
        409,
        "batch-expired",
        `Job "${job.job_id}" cannot be restarted: its ${role} batch "${batchId}" ${expiredWhen(b)}`,
        undefined,
        "Stage the input again and start a new job (with a new job id).",
      );
    }
  }
}

/**
 * Before a new batch takes the id of an expired one (an upload into an expired batch id): the expired
 * batch is retired, so none of its files, parts or shards show up in the new one. 409 while an
 * unfinished job still reads or writes it. Call inside the transaction that creates the new batch.
 */
export function retireExpired(db: Db, b: BatchRow): void {
  if (isTombstoneId(b.batch_id)) {
    // Late work for a retired batch (a shard indexed after the retirement) lands nowhere.
    throw new ApiError(409, "batch-expired", `The batch this work was for ${expiredWhen(b)}`);
  }
  const job = jobHoldingBatch(db, b.workspace_id, b.batch_id);
  if (job) {
    throw new ApiError(
      409,
      "batch-expired",
      `Batch "${b.batch_id}" ${expiredWhen(b)}, but job "${job}" still uses it; it cannot be replaced by a new batch until that job ends`,
      undefined,
      "Wait for the job to finish (or abort it), or stage the data under a new batch id.",
    );
  }
  retireBatch(db, b);
}

export interface BatchExpiryDeps {
  db: Db;
  blobs: BlobStore;
  clock: Clock;
}

/**
 * The sweep: every SWEEP_INTERVAL_MS of real time it compares expiry dates with the emulator clock
 * and clears what expired. Not a clock timer on purpose: in "max" mode, and on an advance to "idle",
 * the clock jumps to every planned timer, so a timer at the next expiry would make every batch expire
 * days early. A manual advance still sees the sweep: idle() is false until it is done.
 */
export class BatchExpiry implements Worker {
  readonly name = "batch-expiry";
  private timer: NodeJS.Timeout | null = null;
  private draining: NodeJS.Immediate | null = null;
  /** Blobs whose rows are gone, removed a few at a time so a large batch never blocks requests. */
  private pending: string[] = [];
  private stopped = true;
  /** Set while sweeps fail (logged once), so a broken sweep cannot hold a clock advance forever. */
  private failing = false;

  constructor(private readonly deps: BatchExpiryDeps) {}

  start(): void {
    this.stopped = false;
    this.timer ??= setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.draining) clearImmediate(this.draining);
    this.timer = null;
    this.draining = null;
  }

  /** After a reset or an import the blob tree is another one: names queued for removal may be restored files. */
  reload(): void {
    this.pending = [];
  }

  idle(): boolean {
    if (this.stopped) return true;
    if (this.pending.length) return false;
    try {
      return this.failing || !hasSweepableBatch(this.deps.db, this.deps.clock.now());
    } catch {
      return true;
    }
  }

  /** Clears every batch expired by now (the interval calls it; tests and controls may too). */
  sweep(): number {
    if (this.stopped) return 0;
    const { db, clock } = this.deps;
    let swept = 0;
    try {
      // Bounded per tick: whatever is left is swept on the next one.
      for (let round = 0; round < 64; round++) {
        const batches = sweepableBatches(db, clock.now(), BATCHES_PER_SWEEP);
        if (!batches.length) break;
        for (const b of batches) this.pending.push(...db.transaction(() => sweepBatch(db, b))());
        swept += batches.length;
      }
      this.failing = false;
    } catch (err) {
      if (!this.failing) console.error("[emulator] batch expiry sweep failed (retried every interval):", err);
      this.failing = true;
    }
    this.drain();
    return swept;
  }

  private drain(): void {
    this.draining = null;
    if (this.stopped) return;
    for (const blob of this.pending.splice(0, BLOBS_PER_TURN)) this.deps.blobs.remove(blob);
    if (this.pending.length) this.draining = setImmediate(() => this.drain());
  }
}
