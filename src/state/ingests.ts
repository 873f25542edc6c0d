// Ingestion bookkeeping: which kind of batch an upload may go to (and creating it on first use),
// signed upload slots, reference/RoboQL ingests (for de-duplication) and the shard queries the
// ingestion workers need.
import type { Db } from "./db.js";
import { BATCH_RETENTION_MS, getBatch, insertBatch, type BatchContentType, type BatchRow, type BatchType } from "./batches.js";
import { conflict } from "../errors.js";
import type { ShardRow } from "./shards.js";

// ---- batch kinds ----------------------------------------------------------------------------

/** What an ingestion route needs the batch to be. */
export interface BatchTarget {
  type: BatchType;
  content: BatchContentType;
  /** How this upload is described in errors, e.g. "single-image uploads". */
  what: string;
}

export const SINGLE_IMAGES: BatchTarget = { type: "simple-batch", content: "images", what: "single-image uploads (upload/image)" };
export const BULK_IMAGES: BatchTarget = { type: "sharded-batch", content: "images", what: "bulk image ingests (bulk-upload/image-files, image-references, roboql-ingest)" };
export const VIDEOS: BatchTarget = { type: "simple-batch", content: "videos", what: "video uploads (upload/video, bulk-upload/video-references)" };

function describeBatch(b: BatchRow): string {
  if (b.origin === "job-output") return `the output of a job (${b.batch_type} of ${b.content_type})`;
  if (b.batch_type === "sharded-batch") return `a sharded-batch of ${b.content_type} (filled by bulk ingests)`;
  if (b.batch_type === "simple-batch" && b.content_type === "images") return "a simple-batch of images (filled by single-image uploads)";
  return `a ${b.batch_type} of ${b.content_type}`;
}

/** Throws 409 when `b` cannot take data of kind `target`. */
export function assertBatchAccepts(b: BatchRow, target: BatchTarget): void {
  if (b.origin === "job-output") {
    throw conflict(`Batch "${b.batch_id}" is ${describeBatch(b)}; uploads to job output batches are refused`, "Stage input data in a new batch id.");
  }
  if (b.batch_type !== target.type || b.content_type !== target.content) {
    throw conflict(
      `Batch "${b.batch_id}" is ${describeBatch(b)}; ${target.what} cannot be added to it`,
      "Single-image and bulk uploads cannot be mixed in one batch, nor images and videos: use a new batch id for this data.",
    );
  }
}

/** Returns the batch, creating it (with `displayName`) when absent; 409 when it is of another kind. Call inside a transaction. */
export function ensureBatch(db: Db, ws: string, batchId: string, target: BatchTarget, displayName: string | undefined, now: number): BatchRow {
  const existing = getBatch(db, ws, batchId);
  if (existing) {
    assertBatchAccepts(existing, target);
    return existing;
  }
  return insertBatch(db, {
    workspace_id: ws,
    batch_id: batchId,
    display_name: displayName || batchId,
    batch_type: target.type,
    content_type: target.content,
    origin: "user",
    created_at: now,
    expires_at: now + BATCH_RETENTION_MS,
  });
}

/** Checks without creating (used before reading a body, so a doomed upload fails fast). */
export function checkBatchTarget(db: Db, ws: string, batchId: string, target: BatchTarget): void {
  const existing = getBatch(db, ws, batchId);
  if (existing) assertBatchAccepts(existing, target);
}

// ---- upload slots ---------------------------------------------------------------------------

export interface UploadSlotRow {
  token: string;
  workspace_id: string;
  batch_id: string;
  kind: "video" | "shard";
  file_name: string | null;
  shard_id: string | null;
  max_size: number;
  expires_at: number;
  used_at: number | null;
}

export function insertUploadSlot(db: Db, row: UploadSlotRow): void {
  db.prepare(
    `INSERT INTO upload_slots (token, workspace_id, batch_id, kind, file_name, shard_id, max_size, expires_at, used_at)
     VALUES (@token, @workspace_id, @batch_id, @kind, @file_name, @shard_id, @max_size, @expires_at, @used_at)`,
  ).run(row);
}

export function getUploadSlot(db: Db, token: string): UploadSlotRow | undefined {
  return db.prepare("SELECT * FROM upload_slots WHERE token = ?").get(token) as UploadSlotRow | undefined;
}

/** Marks a slot used; false when it already was (another upload won the race). */
export function consumeUploadSlot(db: Db, token: string, now: number): boolean {
  return db.prepare("UPDATE upload_slots SET used_at = ? WHERE token = ? AND used_at IS NULL").run(now, token).changes === 1;
}

// ---- ingests --------------------------------------------------------------------------------

export type IngestKind = "image-references" | "video-references" | "roboql";

export interface IngestRow {
  workspace_id: string;
  batch_id: string;
  ingest_id: string;
  kind: IngestKind;
  request_hash: string;
  created_at: number;
}

export function getIngest(db: Db, ws: string, batchId: string, ingestId: string): IngestRow | undefined {
  return db.prepare("SELECT * FROM ingests WHERE workspace_id = ? AND batch_id = ? AND ingest_id = ?").get(ws, batchId, ingestId) as IngestRow | undefined;
}

export function insertIngest(db: Db, row: IngestRow): void {
  db.prepare(
    "INSERT INTO ingests (workspace_id, batch_id, ingest_id, kind, request_hash, created_at) VALUES (@workspace_id, @batch_id, @ingest_id, @kind, @request_hash, @created_at)",
  ).run(row);
}

// ---- shards as the ingestion workers see them -----------------------------------------------

/** Shards still in progress (statusType "info"), oldest first: what a restarted worker resumes. */
export function listUnfinishedShards(db: Db): ShardRow[] {
  return db.prepare("SELECT * FROM shards WHERE status_type = 'info' ORDER BY seq").all() as ShardRow[];
}

/** Shards of one ingest in one batch, in creation order. */
export function listShardsOfIngest(db: Db, ws: string, batchId: string, ingestId: string): ShardRow[] {
  return db.prepare("SELECT * FROM shards WHERE workspace_id = ? AND batch_id = ? AND ingest_id = ? ORDER BY seq").all(ws, batchId, ingestId) as ShardRow[];
}

export function setShardPayload(db: Db, shardId: string, payload: unknown): void {
  db.prepare("UPDATE shards SET payload = ? WHERE shard_id = ?").run(JSON.stringify(payload), shardId);
}

/** Notification settings found inside a tar shard (notification_config.json). */
export function setShardNotifications(db: Db, shardId: string, n: { ingestId: string | null; url: string | null; categories: string[] | null }): void {
  db.prepare("UPDATE shards SET ingest_id = COALESCE(?, ingest_id), notifications_url = ?, notification_categories = ? WHERE shard_id = ?").run(
    n.ingestId,
    n.url,
    n.categories ? JSON.stringify(n.categories) : null,
    shardId,
  );
}
