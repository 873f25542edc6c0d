// Data folders written straight into the store (no HTTP), for sections that need many rows.
import { DEFAULT_WORKSPACE } from "../../src/config.js";
import { BATCH_RETENTION_MS, insertBatch, upsertFile } from "../../src/state/batches.js";
import { openStore } from "../../src/state/db.js";
import { png } from "../../test/helpers/fixtures.js";

const WS = DEFAULT_WORKSPACE;

/** A data folder with one simple batch of `files` images (rows straight into the store, one real blob). */
export function seededDataDir(dir: string, batchId: string, files: number): string {
  const store = openStore(dir);
  const now = Date.now();
  insertBatch(store.db, {
    workspace_id: WS,
    batch_id: batchId,
    display_name: batchId,
    batch_type: "simple-batch",
    content_type: "images",
    origin: "user",
    created_at: now,
    expires_at: now + BATCH_RETENTION_MS,
  });
  const blob = store.blobs.write("files", png(1));
  store.db.transaction(() => {
    for (let i = 0; i < files; i++) {
      upsertFile(store.db, {
        workspace_id: WS,
        batch_id: batchId,
        part_name: "",
        file_name: `img-${String(i).padStart(7, "0")}.png`,
        content_type: "image",
        nested_content_type: null,
        shard_id: null,
        blob: blob.blob,
        size: blob.size,
        sha256: blob.sha256,
        media_type: "image/png",
        created_at: now,
      });
    }
  })();
  store.close();
  return dir;
}

/** A data folder with one finished job whose processing stage has `tasks` task rows (straight into the store). */
export function seededTasksDir(dir: string, jobId: string, tasks: number): string {
  const store = openStore(dir);
  const now = Date.now();
  const db = store.db;
  db.prepare(
    `INSERT INTO jobs (workspace_id, job_id, name, job_type, definition, state, planned_stages, current_stage, error, is_terminal, created_at, updated_at)
     VALUES (?, ?, ?, 'simple-image-processing-v1', '{}', 'succeeded', '["processing"]', 'processing', 0, 1, ?, ?)`,
  ).run(WS, jobId, jobId, now, now);
  db.prepare(
    `INSERT INTO job_stages (workspace_id, job_id, stage_id, stage_name, ordinal, tasks_number, output_batches, state, status_type, notification, started_at, last_event_at)
     VALUES (?, ?, 'processing', 'processing', 0, ?, '[]', 'succeeded', 'success', '{}', ?, ?)`,
  ).run(WS, jobId, tasks, now, now);
  const insert = db.prepare(
    `INSERT INTO job_tasks (workspace_id, job_id, stage_id, task_index, task_id, range_from, range_to, items_total, cursor, items_done, attempts, state, status_type, notification, progress, event_at)
     VALUES (?, ?, 'processing', ?, ?, 0, 0, 1, 0, 1, 1, 'succeeded', 'success', '{"type":"task-completed"}', 1, ?)`,
  );
  for (let start = 0; start < tasks; start += 50_000) {
    db.transaction(() => {
      for (let i = start; i < Math.min(tasks, start + 50_000); i++) insert.run(WS, jobId, i, `task-${i}`, now);
    })();
  }
  store.close();
  return dir;
}
