// Batches, their parts and their files.
import { DEFAULT_BATCH_RETENTION_MS } from "../config.js";
import type { Db } from "./db.js";
import { pageOf } from "./pagination.js";
import { getSetting, setSetting } from "./workspaces.js";

export type BatchType = "simple-batch" | "sharded-batch" | "multipart-batch";
export type BatchContentType = "images" | "videos" | "metadata" | "archives" | "mixed";

export interface BatchRow {
  seq: number;
  workspace_id: string;
  batch_id: string;
  display_name: string;
  batch_type: BatchType;
  content_type: BatchContentType;
  origin: "user" | "job-output";
  created_at: number;
  expires_at: number;
}

export interface FileRow {
  seq: number;
  workspace_id: string;
  batch_id: string;
  part_name: string;
  file_name: string;
  content_type: string;
  nested_content_type: string | null;
  shard_id: string | null;
  blob: string;
  size: number;
  sha256: string;
  media_type: string;
  created_at: number;
}

export interface PartRow {
  workspace_id: string;
  batch_id: string;
  part_name: string;
  part_type: string;
  content_type: string;
  description: string | null;
  nested_content_type: string | null;
  seq: number;
}

/** Staged data is ephemeral on the real service; by default the emulator keeps a batch this long (--batch-retention-ms). */
export const BATCH_RETENTION_MS = DEFAULT_BATCH_RETENTION_MS;
const RETENTION_SETTING = "batch_retention_ms";

/**
 * Records the retention new batches get. Kept in the store (settings survive resets and imports) so
 * every creator (uploads, ingests, job outputs, seeds) applies the configured value through insertBatch.
 */
export function setBatchRetention(db: Db, ms: number): void {
  setSetting(db, RETENTION_SETTING, String(ms));
}

export function batchRetention(db: Db): number {
  const ms = Number(getSetting(db, RETENTION_SETTING));
  return Number.isSafeInteger(ms) && ms > 0 ? ms : BATCH_RETENTION_MS;
}

/** The batch row under this id, live or expired (swept batches are renamed to tombstone ids and are not found here). */
export function getBatch(db: Db, ws: string, batchId: string): BatchRow | undefined {
  return db.prepare("SELECT * FROM batches WHERE workspace_id = ? AND batch_id = ?").get(ws, batchId) as BatchRow | undefined;
}

/** Inserts a batch; without `expires_at` it expires the configured retention after `created_at`. */
export function insertBatch(db: Db, row: Omit<BatchRow, "seq" | "expires_at"> & { expires_at?: number }): BatchRow {
  const expires_at = row.expires_at ?? row.created_at + batchRetention(db);
  db.prepare(
    `INSERT INTO batches (workspace_id, batch_id, display_name, batch_type, content_type, origin, created_at, expires_at)
     VALUES (@workspace_id, @batch_id, @display_name, @batch_type, @content_type, @origin, @created_at, @expires_at)`,
  ).run({ ...row, expires_at });
  return getBatch(db, row.workspace_id, row.batch_id)!;
}

/** A page of the batches that have not expired at `now`. */
export function listBatches(db: Db, ws: string, afterSeq: number, size: number, now: number) {
  const rows = db
    .prepare("SELECT * FROM batches WHERE workspace_id = ? AND seq > ? AND expires_at > ? ORDER BY seq LIMIT ?")
    .all(ws, afterSeq, now, size + 1) as BatchRow[];
  return pageOf(rows, size);
}

export function countFiles(db: Db, ws: string, batchId: string, partName?: string): number {
  const row = (
    partName === undefined
      ? db.prepare("SELECT COALESCE(SUM(n), 0) AS n FROM file_counts WHERE workspace_id = ? AND batch_id = ?").get(ws, batchId)
      : db.prepare("SELECT COALESCE(SUM(n), 0) AS n FROM file_counts WHERE workspace_id = ? AND batch_id = ? AND part_name = ?").get(ws, batchId, partName)
  ) as { n: number };
  return row.n;
}

export function listFiles(db: Db, ws: string, batchId: string, partName: string | undefined, afterSeq: number, size: number) {
  const rows = (
    partName === undefined
      ? db.prepare("SELECT * FROM files WHERE workspace_id = ? AND batch_id = ? AND seq > ? ORDER BY seq LIMIT ?").all(ws, batchId, afterSeq, size + 1)
      : db
          .prepare("SELECT * FROM files WHERE workspace_id = ? AND batch_id = ? AND part_name = ? AND seq > ? ORDER BY seq LIMIT ?")
          .all(ws, batchId, partName, afterSeq, size + 1)
  ) as FileRow[];
  return pageOf(rows, size);
}

export function getFileBySeq(db: Db, seq: number): FileRow | undefined {
  return db.prepare("SELECT * FROM files WHERE seq = ?").get(seq) as FileRow | undefined;
}

export function getFileByName(db: Db, ws: string, batchId: string, partName: string, fileName: string): FileRow | undefined {
  return db.prepare("SELECT * FROM files WHERE workspace_id = ? AND batch_id = ? AND part_name = ? AND file_name = ?").get(ws, batchId, partName, fileName) as
    FileRow | undefined;
}

/** Inserts a file, replacing one of the same name in the same part (re-uploads are idempotent). Returns the replaced blob, if any. */
export function upsertFile(db: Db, row: Omit<FileRow, "seq">): { replacedBlob?: string } {
  const existing = getFileByName(db, row.workspace_id, row.batch_id, row.part_name, row.file_name);
  if (existing) {
    db.prepare(
      `UPDATE files SET content_type=@content_type, nested_content_type=@nested_content_type, shard_id=@shard_id, blob=@blob, size=@size,
       sha256=@sha256, media_type=@media_type WHERE seq=@seq`,
    ).run({ ...row, seq: existing.seq });
    return { replacedBlob: existing.blob === row.blob ? undefined : existing.blob };
  }
  db.prepare(
    `INSERT INTO files (workspace_id, batch_id, part_name, file_name, content_type, nested_content_type, shard_id, blob, size, sha256, media_type, created_at)
     VALUES (@workspace_id, @batch_id, @part_name, @file_name, @content_type, @nested_content_type, @shard_id, @blob, @size, @sha256, @media_type, @created_at)`,
  ).run(row);
  return {};
}

export function listParts(db: Db, ws: string, batchId: string): PartRow[] {
  return db.prepare("SELECT * FROM parts WHERE workspace_id = ? AND batch_id = ? ORDER BY seq").all(ws, batchId) as PartRow[];
}

export function upsertPart(db: Db, row: PartRow): void {
  db.prepare(
    `INSERT INTO parts (workspace_id, batch_id, part_name, part_type, content_type, description, nested_content_type, seq)
     VALUES (@workspace_id, @batch_id, @part_name, @part_type, @content_type, @description, @nested_content_type, @seq)
     ON CONFLICT (workspace_id, batch_id, part_name) DO UPDATE SET part_type=excluded.part_type, content_type=excluded.content_type,
       description=excluded.description, nested_content_type=excluded.nested_content_type`,
  ).run(row);
}

// ---- queries the job simulator pages with (keyset by seq, never the whole batch in memory) ----

/** Seq of the file `offset` places after `afterSeq` in a batch part (0 = the next one), or undefined past the end. */
export function nthFileSeqAfter(db: Db, ws: string, batchId: string, partName: string, afterSeq: number, offset: number): number | undefined {
  return db
    .prepare("SELECT seq FROM files WHERE workspace_id = ? AND batch_id = ? AND part_name = ? AND seq > ? ORDER BY seq LIMIT 1 OFFSET ?")
    .pluck()
    .get(ws, batchId, partName, afterSeq, offset) as number | undefined;
}

/** How many files of a batch part come after `afterSeq`, and the last one's seq. */
export function filesAfter(db: Db, ws: string, batchId: string, partName: string, afterSeq: number): { count: number; lastSeq: number | null } {
  return db
    .prepare("SELECT COUNT(*) AS count, MAX(seq) AS lastSeq FROM files WHERE workspace_id = ? AND batch_id = ? AND part_name = ? AND seq > ?")
    .get(ws, batchId, partName, afterSeq) as { count: number; lastSeq: number | null };
}

/** Files of a batch part with afterSeq < seq <= toSeq, in seq order. */
export function filesInSeqRange(db: Db, ws: string, batchId: string, partName: string, afterSeq: number, toSeq: number, limit: number): FileRow[] {
  return db
    .prepare("SELECT * FROM files WHERE workspace_id = ? AND batch_id = ? AND part_name = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?")
    .all(ws, batchId, partName, afterSeq, toSeq, limit) as FileRow[];
}

/** Deletes a batch with its parts and files; returns the blobs the caller should remove from disk. */
export function deleteBatchRows(db: Db, ws: string, batchId: string): string[] {
  const blobs = (db.prepare("SELECT blob FROM files WHERE workspace_id = ? AND batch_id = ?").all(ws, batchId) as { blob: string }[]).map((r) => r.blob);
  db.prepare("DELETE FROM files WHERE workspace_id = ? AND batch_id = ?").run(ws, batchId);
  db.prepare("DELETE FROM parts WHERE workspace_id = ? AND batch_id = ?").run(ws, batchId);
  db.prepare("DELETE FROM batches WHERE workspace_id = ? AND batch_id = ?").run(ws, batchId);
  return blobs;
}
