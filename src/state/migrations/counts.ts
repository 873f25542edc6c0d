// File counts per batch part, kept by triggers, so `count` costs the same at a million files as at
// a thousand (COUNT(*) walks the whole index). Derived data: snapshots and resets leave it to the
// triggers.
export const COUNTS_MIGRATION = `
  CREATE TABLE file_counts (
    workspace_id TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    part_name TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, batch_id, part_name)
  );
  INSERT INTO file_counts (workspace_id, batch_id, part_name, n)
    SELECT workspace_id, batch_id, part_name, COUNT(*) FROM files GROUP BY workspace_id, batch_id, part_name;

  CREATE TRIGGER files_count_insert AFTER INSERT ON files BEGIN
    INSERT INTO file_counts (workspace_id, batch_id, part_name, n) VALUES (NEW.workspace_id, NEW.batch_id, NEW.part_name, 1)
      ON CONFLICT (workspace_id, batch_id, part_name) DO UPDATE SET n = n + 1;
  END;
  CREATE TRIGGER files_count_delete AFTER DELETE ON files BEGIN
    UPDATE file_counts SET n = n - 1 WHERE workspace_id = OLD.workspace_id AND batch_id = OLD.batch_id AND part_name = OLD.part_name;
  END;
  CREATE TRIGGER files_count_move AFTER UPDATE OF workspace_id, batch_id, part_name ON files BEGIN
    UPDATE file_counts SET n = n - 1 WHERE workspace_id = OLD.workspace_id AND batch_id = OLD.batch_id AND part_name = OLD.part_name;
    INSERT INTO file_counts (workspace_id, batch_id, part_name, n) VALUES (NEW.workspace_id, NEW.batch_id, NEW.part_name, 1)
      ON CONFLICT (workspace_id, batch_id, part_name) DO UPDATE SET n = n + 1;
  END;
`;
