// Which tables hold what, found from the schema itself, so tables other areas add later are
// covered by reset and snapshot without edits here.
import type { Db } from "../state/db.js";

/** Control-plane tables: not part of "the world" that snapshots carry. */
export const CONTROL_TABLES = new Set(["journal", "fault_rules", "receiver_deliveries"]);
/** Kept by every reset and snapshot: the signing secret lives here. */
export const KEPT_TABLES = new Set(["settings"]);
/** Maintained by triggers from other tables (src/state/migrations/counts.ts): never copied or cleared directly. */
export const DERIVED_TABLES = new Set(["file_counts"]);

export interface TableInfo {
  name: string;
  columns: string[];
}

/** Every table of the store in creation order (sqlite's internal tables excluded). */
export function allTables(db: Db): TableInfo[] {
  const names = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid").all() as { name: string }[];
  return names.map(({ name }) => ({ name, columns: (db.prepare(`PRAGMA table_info("${name}")`).all() as { name: string }[]).map((c) => c.name) }));
}

/** Tables that make up the emulated world (workspaces, batches, files, jobs, webhooks...). */
export function worldTables(db: Db): TableInfo[] {
  return allTables(db).filter((t) => !CONTROL_TABLES.has(t.name) && !KEPT_TABLES.has(t.name) && !DERIVED_TABLES.has(t.name));
}

export const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;
