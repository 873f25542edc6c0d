// Schema of the batch-processing jobs, stages, tasks and logs (owned by the jobs area).
// The simulator keeps all of its progress here, so a killed emulator resumes every job where the
// last committed task left it.
export const JOBS_MIGRATION = `
  CREATE TABLE jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    name TEXT NOT NULL,
    job_type TEXT NOT NULL,
    definition TEXT NOT NULL,          -- JSON job definition as accepted (nulls dropped)
    overrides TEXT NOT NULL DEFAULT '[]', -- JSON array: restartParametersOverride, oldest first
    script TEXT,                       -- JSON scripted behaviour for test doubles (startJob)
    state TEXT NOT NULL,               -- queued | running | succeeded | failed | aborted
    planned_stages TEXT NOT NULL,      -- JSON array of stage names
    current_stage TEXT,
    error INTEGER NOT NULL DEFAULT 0,
    is_terminal INTEGER NOT NULL DEFAULT 0,
    last_notification TEXT,            -- JSON
    generation INTEGER NOT NULL DEFAULT 0, -- bumped by abort/restart; in-flight steps of an older generation are dropped
    input_count INTEGER NOT NULL DEFAULT 0,
    machine_ms INTEGER NOT NULL DEFAULT 0, -- simulated machine time of committed tasks
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (workspace_id, job_id)
  );
  CREATE INDEX jobs_ws_seq ON jobs (workspace_id, seq);
  CREATE INDEX jobs_active ON jobs (is_terminal);

  CREATE TABLE job_stages (
    workspace_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    stage_id TEXT NOT NULL,
    stage_name TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    tasks_number INTEGER NOT NULL,
    output_batches TEXT NOT NULL,      -- JSON array of batch ids
    state TEXT NOT NULL,               -- running | succeeded | failed | aborted
    status_type TEXT NOT NULL,
    notification TEXT NOT NULL,        -- JSON
    started_at INTEGER NOT NULL,
    last_event_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, job_id, stage_id)
  );

  CREATE TABLE job_tasks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    stage_id TEXT NOT NULL,
    task_index INTEGER NOT NULL,
    task_id TEXT NOT NULL,
    range_from INTEGER NOT NULL,       -- processing: input file seq (exclusive); export: first processing task index; compilation: device index
    range_to INTEGER NOT NULL,         -- processing: input file seq (inclusive); export: last processing task index
    items_total INTEGER NOT NULL,
    cursor INTEGER NOT NULL,           -- processing: last input seq handled in the current attempt
    items_done INTEGER NOT NULL DEFAULT 0,
    items_failed INTEGER NOT NULL DEFAULT 0,
    machine_ms INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL,               -- pending | running | succeeded | failed | aborted
    status_type TEXT NOT NULL DEFAULT 'info',
    notification TEXT,                 -- JSON
    progress REAL,
    event_at INTEGER NOT NULL,
    UNIQUE (workspace_id, job_id, stage_id, task_index)
  );
  CREATE INDEX job_tasks_list ON job_tasks (workspace_id, job_id, stage_id, seq);
  CREATE INDEX job_tasks_state ON job_tasks (workspace_id, job_id, stage_id, state, task_index);

  CREATE TABLE job_logs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    severity TEXT NOT NULL,            -- info | warning | error
    reporting_module TEXT NOT NULL,
    log_type TEXT NOT NULL,
    payload TEXT NOT NULL,             -- JSON object
    stage_id TEXT,
    task_id TEXT
  );
  CREATE INDEX job_logs_job ON job_logs (workspace_id, job_id, seq);
  CREATE INDEX job_logs_severity ON job_logs (workspace_id, job_id, severity, seq);
`;
