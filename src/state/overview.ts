// Whole-store summaries for the dashboard's overview: every batch, file counts per part, parts and
// shard status counts, each in one query rather than one per batch.
import type { BatchRow } from "./batches.js";
import type { Db } from "./db.js";

export interface PartFileCount {
  w: string;
  b: string;
  p: string;
  n: number;
}

export interface ShardStatusCount {
  w: string;
  b: string;
  s: string;
  t: string;
  n: number;
  objects: number;
}

export function allBatches(db: Db): BatchRow[] {
  return db.prepare("SELECT * FROM batches ORDER BY workspace_id, seq").all() as BatchRow[];
}

export function fileCountsByPart(db: Db): PartFileCount[] {
  return db
    .prepare("SELECT workspace_id AS w, batch_id AS b, part_name AS p, COUNT(*) AS n FROM files GROUP BY workspace_id, batch_id, part_name")
    .all() as PartFileCount[];
}

export function allPartNames(db: Db): { w: string; b: string; p: string }[] {
  return db.prepare("SELECT workspace_id AS w, batch_id AS b, part_name AS p FROM parts ORDER BY seq").all() as { w: string; b: string; p: string }[];
}

export function shardStatusCounts(db: Db): ShardStatusCount[] {
  return db
    .prepare(
      "SELECT workspace_id AS w, batch_id AS b, status_name AS s, status_type AS t, COUNT(*) AS n, SUM(objects_count) AS objects FROM shards GROUP BY workspace_id, batch_id, status_name, status_type",
    )
    .all() as ShardStatusCount[];
}

/** Per stage of one job: tasks finished with success, and the summed fraction of the others that report progress (0..1 or 0..100). */
export interface StageProgress {
  stage: string;
  done: number;
  partial: number;
}

export function stageProgress(db: Db, ws: string, jobId: string): StageProgress[] {
  return db
    .prepare(
      `SELECT stage_id AS stage, SUM(status_type LIKE '%success%') AS done,
        SUM(CASE WHEN status_type NOT LIKE '%success%' AND progress IS NOT NULL THEN MIN(1.0, CASE WHEN progress > 1 THEN progress / 100.0 ELSE progress END) ELSE 0 END) AS partial
      FROM job_tasks WHERE workspace_id = ? AND job_id = ? GROUP BY stage_id`,
    )
    .all(ws, jobId) as StageProgress[];
}
