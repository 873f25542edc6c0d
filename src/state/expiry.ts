// Expired batches in the store. A batch expires at its expires_at on the emulator clock; reads refuse
// it from then on (src/staging/expiry.ts). The sweep then deletes its files, shards, parts, ingests
// and upload slots and renames the row to a tombstone id ("<batchId>~expired~<seq>", never a valid
// batch id), so the id is free for a new batch while an expired one can still say when it expired.
import type { BatchRow } from "./batches.js";
import type { Db } from "./db.js";

const TOMBSTONE_MARK = "~expired~";

export const isTombstoneId = (batchId: string) => batchId.includes(TOMBSTONE_MARK);
const tombstoneId = (b: Pick<BatchRow, "batch_id" | "seq">) => `${b.batch_id}${TOMBSTONE_MARK}${b.seq}`;

/** The most recent tombstone of `batchId` (the row of its last expired incarnation), if any. */
export function latestTombstone(db: Db, ws: string, batchId: string): BatchRow | undefined {
  // "~" sorts after every digit, so this range is exactly "<batchId>~expired~<digits>" (on the unique index).
  const low = `${batchId}${TOMBSTONE_MARK}`;
  return db.prepare("SELECT * FROM batches WHERE workspace_id = ? AND batch_id > ? AND batch_id < ? ORDER BY seq DESC LIMIT 1").get(ws, low, `${low}~`) as
    BatchRow | undefined;
}

/** A job that is not finished reads the batch (its jobInput) or writes it (an output batch of one of its stages). */
const HOLDING_JOB = `SELECT j.job_id FROM jobs j WHERE j.workspace_id = b.workspace_id AND j.is_terminal = 0 AND (
    json_extract(j.definition, '$.jobInput.batchId') = b.batch_id
    OR EXISTS (SELECT 1 FROM job_stages s, json_each(s.output_batches) o WHERE s.workspace_id = j.workspace_id AND s.job_id = j.job_id AND o.value = b.batch_id))`;

/** The id of an unfinished job that still reads or writes this batch (its files stay until that job ends). */
export function jobHoldingBatch(db: Db, ws: string, batchId: string): string | undefined {
  return (
    (db.prepare(`SELECT (${HOLDING_JOB} LIMIT 1) FROM (SELECT ? AS workspace_id, ? AS batch_id) b`).pluck().get(ws, batchId) as string | null) ?? undefined
  );
}

/** Expired at `now`, not held by an unfinished job, and still named as a batch or still holding files or shards. */
const SWEEPABLE = `FROM batches b WHERE b.expires_at <= @now
  AND (instr(b.batch_id, '${TOMBSTONE_MARK}') = 0
    OR EXISTS (SELECT 1 FROM files f WHERE f.workspace_id = b.workspace_id AND f.batch_id = b.batch_id)
    OR EXISTS (SELECT 1 FROM shards s WHERE s.workspace_id = b.workspace_id AND s.batch_id = b.batch_id))
  AND NOT EXISTS (${HOLDING_JOB})`;

export function hasSweepableBatch(db: Db, now: number): boolean {
  return db.prepare(`SELECT 1 ${SWEEPABLE} LIMIT 1`).get({ now }) !== undefined;
}

/** Batches the sweep should clear now, soonest expired first. */
export function sweepableBatches(db: Db, now: number, limit: number): BatchRow[] {
  return db.prepare(`SELECT b.* ${SWEEPABLE} ORDER BY b.expires_at, b.seq LIMIT @limit`).all({ now, limit }) as BatchRow[];
}

/**
 * Moves an expired batch out of the way of a new batch with its id: the row, its files and its
 * shards go under the tombstone id (the sweep deletes them and their blobs); its parts, ingests (so a
 * repeated ingest is not taken for a duplicate) and upload slots are dropped. Returns the tombstone id.
 * Call inside a transaction.
 */
export function retireBatch(db: Db, b: BatchRow): string {
  const ws = b.workspace_id;
  const id = tombstoneId(b);
  db.prepare("UPDATE files SET batch_id = ? WHERE workspace_id = ? AND batch_id = ?").run(id, ws, b.batch_id);
  db.prepare("UPDATE shards SET batch_id = ? WHERE workspace_id = ? AND batch_id = ?").run(id, ws, b.batch_id);
  for (const table of ["parts", "ingests", "upload_slots"]) db.prepare(`DELETE FROM ${table} WHERE workspace_id = ? AND batch_id = ?`).run(ws, b.batch_id);
  db.prepare("DELETE FROM file_counts WHERE workspace_id = ? AND batch_id = ? AND n = 0").run(ws, b.batch_id);
  db.prepare("UPDATE batches SET batch_id = ? WHERE seq = ?").run(id, b.seq);
  return id;
}

/** Sweeps one expired batch: retired to its tombstone, then its files and shards deleted. Returns the blobs to remove. Call inside a transaction. */
export function sweepBatch(db: Db, b: BatchRow): string[] {
  const ws = b.workspace_id;
  const id = isTombstoneId(b.batch_id) ? b.batch_id : retireBatch(db, b);
  const files = db.prepare("SELECT blob FROM files WHERE workspace_id = ? AND batch_id = ?").pluck().all(ws, id) as string[];
  // A tar shard not indexed yet still holds its uploaded archive.
  const tars = db
    .prepare("SELECT json_extract(payload, '$.tarBlob') FROM shards WHERE workspace_id = ? AND batch_id = ? AND payload LIKE '%tarBlob%'")
    .pluck()
    .all(ws, id) as (string | null)[];
  db.prepare("DELETE FROM files WHERE workspace_id = ? AND batch_id = ?").run(ws, id);
  db.prepare("DELETE FROM shards WHERE workspace_id = ? AND batch_id = ?").run(ws, id);
  db.prepare("DELETE FROM file_counts WHERE workspace_id = ? AND batch_id = ? AND n = 0").run(ws, id);
  return [...files, ...tars.filter((t): t is string => typeof t === "string")];
}
