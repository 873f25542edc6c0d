// Ingestion bookkeeping: signed upload slots, reference/RoboQL ingests (for de-duplication) and the
// shard queries the ingestion workers need. Which batch an upload may go to is decided in
// src/staging/targets.ts.
import type { Db } from "./db.js";
import type { ShardRow } from "./shards.js";

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

/** Records the time of the slot's latest committed PUT (a slot takes PUTs until it expires); false when the slot is gone. */
export function markUploadSlotUsed(db: Db, token: string, now: number): boolean {
  return db.prepare("UPDATE upload_slots SET used_at = ? WHERE token = ?").run(now, token).changes === 1;
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

/**
 * A tar shard's URL was PUT again: the shard takes the new archive and goes back to "uploaded", with
 * what its earlier body set (count, metadata, notification_config.json settings) cleared. Answers the
 * archive it named before, or null when the shard does not exist yet.
 */
export function reopenShardUpload(db: Db, shardId: string, payload: string, now: number): { previousTarBlob: string | null } | null {
  const row = db.prepare("SELECT json_extract(payload, '$.tarBlob') AS blob FROM shards WHERE shard_id = ?").get(shardId) as
    { blob: string | null } | undefined;
  if (!row) return null;
  db.prepare(
    `UPDATE shards SET payload = ?, status_name = 'uploaded', status_type = 'info', objects_count = 0, status_metadata = NULL,
       ingest_id = NULL, notifications_url = NULL, notification_categories = NULL, event_at = ? WHERE shard_id = ?`,
  ).run(payload, now, shardId);
  return { previousTarBlob: row.blob };
}

/** Removes the file rows a shard staged (before it is indexed again); answers their blobs, to delete after the commit. */
export function deleteFilesOfShard(db: Db, ws: string, batchId: string, shardId: string): string[] {
  const rows = db.prepare("SELECT blob FROM files WHERE workspace_id = ? AND batch_id = ? AND shard_id = ?").all(ws, batchId, shardId) as { blob: string }[];
  db.prepare("DELETE FROM files WHERE workspace_id = ? AND batch_id = ? AND shard_id = ?").run(ws, batchId, shardId);
  return rows.map((r) => r.blob);
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
