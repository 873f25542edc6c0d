// Shards: one per tar upload or reference ingest chunk, with the status the shards listing shows.
import type { Db } from "./db.js";
import { pageOf } from "./pagination.js";

export interface ShardRow {
  seq: number;
  shard_id: string;
  workspace_id: string;
  batch_id: string;
  ingest_id: string | null;
  kind: "tar-upload" | "references" | "roboql";
  status_name: string;
  status_type: string;
  objects_count: number;
  status_metadata: string | null;
  notifications_url: string | null;
  notification_categories: string | null;
  payload: string | null;
  created_at: number;
  event_at: number;
}

export function listShards(db: Db, ws: string, batchId: string, afterSeq: number, size: number) {
  const rows = db
    .prepare("SELECT * FROM shards WHERE workspace_id = ? AND batch_id = ? AND seq > ? ORDER BY seq LIMIT ?")
    .all(ws, batchId, afterSeq, size + 1) as ShardRow[];
  return pageOf(rows, size);
}

export function getShard(db: Db, shardId: string): ShardRow | undefined {
  return db.prepare("SELECT * FROM shards WHERE shard_id = ?").get(shardId) as ShardRow | undefined;
}

export function insertShard(db: Db, row: Omit<ShardRow, "seq">): void {
  db.prepare(
    `INSERT INTO shards (shard_id, workspace_id, batch_id, ingest_id, kind, status_name, status_type, objects_count, status_metadata,
       notifications_url, notification_categories, payload, created_at, event_at)
     VALUES (@shard_id, @workspace_id, @batch_id, @ingest_id, @kind, @status_name, @status_type, @objects_count, @status_metadata,
       @notifications_url, @notification_categories, @payload, @created_at, @event_at)`,
  ).run(row);
}

export function updateShardStatus(db: Db, shardId: string, status: { name: string; type: string; count?: number; metadata?: unknown; at: number }): void {
  db.prepare(
    `UPDATE shards SET status_name = ?, status_type = ?, objects_count = COALESCE(?, objects_count),
       status_metadata = COALESCE(?, status_metadata), event_at = ? WHERE shard_id = ?`,
  ).run(status.name, status.type, status.count ?? null, status.metadata === undefined ? null : JSON.stringify(status.metadata), status.at, shardId);
}
