// Ordered migrations. Each runs once, inside a transaction; `PRAGMA user_version` records progress.
// Append new migrations at the end; never edit one that has shipped. Each API area owns its file.
import { JOBS_MIGRATION } from "./migrations/jobs.js";
import { CONTROLS_MIGRATION } from "./migrations/controls.js";
import { COUNTS_MIGRATION } from "./migrations/counts.js";
import { JOURNAL_BODIES_MIGRATION } from "./migrations/journal-bodies.js";
import { WORKSPACE_IDS_MIGRATION } from "./migrations/workspace-ids.js";

const STAGING_MIGRATION = `
  CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);

  CREATE TABLE workspaces (
    id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE api_keys (
    key TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE
  );

  -- seq gives a stable, indexed order for keyset pagination.
  CREATE TABLE batches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    batch_type TEXT NOT NULL,          -- simple-batch | sharded-batch | multipart-batch
    content_type TEXT NOT NULL,        -- images | videos | metadata | archives | mixed
    origin TEXT NOT NULL,              -- user | job-output
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    UNIQUE (workspace_id, batch_id)
  );
  CREATE INDEX batches_ws_seq ON batches (workspace_id, seq);

  CREATE TABLE parts (
    workspace_id TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    part_name TEXT NOT NULL,
    part_type TEXT NOT NULL,
    content_type TEXT NOT NULL,
    description TEXT,
    nested_content_type TEXT,
    seq INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, batch_id, part_name)
  );

  CREATE TABLE files (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    part_name TEXT NOT NULL DEFAULT '',
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,        -- image | video | archive | metadata | ...
    nested_content_type TEXT,
    shard_id TEXT,
    blob TEXT NOT NULL,                -- path relative to the blob root
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    media_type TEXT NOT NULL,          -- MIME type served on download
    created_at INTEGER NOT NULL,
    UNIQUE (workspace_id, batch_id, part_name, file_name)
  );
  CREATE INDEX files_batch_seq ON files (workspace_id, batch_id, seq);
  CREATE INDEX files_part_seq ON files (workspace_id, batch_id, part_name, seq);

  CREATE TABLE shards (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    shard_id TEXT NOT NULL UNIQUE,
    workspace_id TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    ingest_id TEXT,
    kind TEXT NOT NULL,                -- tar-upload | references
    status_name TEXT NOT NULL,
    status_type TEXT NOT NULL,
    objects_count INTEGER NOT NULL DEFAULT 0,
    status_metadata TEXT,              -- JSON
    notifications_url TEXT,
    notification_categories TEXT,      -- JSON array
    payload TEXT,                      -- JSON: references for reference shards, upload path for tar
    created_at INTEGER NOT NULL,
    event_at INTEGER NOT NULL
  );
  CREATE INDEX shards_batch_seq ON shards (workspace_id, batch_id, seq);
  CREATE INDEX shards_pending ON shards (status_type, status_name);

  CREATE TABLE ingests (
    workspace_id TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    ingest_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, batch_id, ingest_id)
  );

  -- Signed upload slots handed out by upload/video and bulk-upload/image-files.
  CREATE TABLE upload_slots (
    token TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    kind TEXT NOT NULL,                -- video | shard
    file_name TEXT,
    shard_id TEXT,
    max_size INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
  );

  -- Outgoing webhooks: one row per notification, one attempt row per try.
  CREATE TABLE webhooks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    workspace_id TEXT NOT NULL,
    url TEXT NOT NULL,
    category TEXT NOT NULL,            -- ingest-status | files-status | job
    subject TEXT,                      -- batch id or job id
    payload TEXT NOT NULL,             -- JSON without delivery_attempt
    state TEXT NOT NULL,               -- pending | delivered | failed
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX webhooks_due ON webhooks (state, next_attempt_at);
  CREATE TABLE webhook_attempts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at INTEGER NOT NULL,
    url TEXT NOT NULL,
    status INTEGER,
    error TEXT,
    latency_ms INTEGER NOT NULL,
    body TEXT NOT NULL
  );
  CREATE INDEX webhook_attempts_hook ON webhook_attempts (webhook_id, attempt);
`;

export const MIGRATIONS: readonly string[] = [
  STAGING_MIGRATION,
  JOBS_MIGRATION,
  CONTROLS_MIGRATION,
  COUNTS_MIGRATION,
  JOURNAL_BODIES_MIGRATION,
  WORKSPACE_IDS_MIGRATION,
];
