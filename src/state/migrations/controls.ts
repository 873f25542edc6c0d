// Schema of the test-double controls (owned by the controls area): the request journal, fault
// rules with their fire counts and PRNG state, and the built-in webhook receiver's inbox.
export const CONTROLS_MIGRATION = `
  DROP TABLE IF EXISTS controls_placeholder;

  -- One row per request received (bounded: the oldest rows are pruned past the limit).
  CREATE TABLE journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,               -- emulator clock, ms
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    query TEXT NOT NULL,               -- query string with api_key masked
    headers TEXT NOT NULL,             -- JSON object of selected request headers
    status INTEGER,                    -- null when the connection was dropped
    latency_ms REAL NOT NULL,
    workspace_id TEXT,
    fault TEXT,                        -- JSON {ruleId, type} of the injected fault, if any
    control INTEGER NOT NULL DEFAULT 0 -- 1 for calls to /_emulator itself (journaled only on request)
  );
  CREATE INDEX journal_ws_seq ON journal (workspace_id, seq);

  CREATE TABLE fault_rules (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    rule TEXT NOT NULL,                -- JSON: {match, action, times?, probability?, seed?}
    remaining INTEGER,                 -- null = no limit
    prng_state INTEGER,                -- for probability rules: the seeded generator's state
    fired INTEGER NOT NULL DEFAULT 0,
    evaluated INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    last_fired_at INTEGER
  );

  -- Deliveries received by POST /_emulator/receiver/{name}.
  CREATE TABLE receiver_deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    at INTEGER NOT NULL,
    method TEXT NOT NULL,
    headers TEXT NOT NULL,
    body TEXT NOT NULL,
    status INTEGER NOT NULL
  );
  CREATE INDEX receiver_name_seq ON receiver_deliveries (name, seq);
`;
