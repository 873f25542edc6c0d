// Which tables hold what, found from the schema itself, so tables other areas add later are
// covered by reset and snapshot without edits there; and the generic row operations they use.
import type { Db } from "./db.js";

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
  return names.map(({ name }) => ({ name, columns: (db.prepare(`PRAGMA table_info(${quoteIdent(name)})`).all() as { name: string }[]).map((c) => c.name) }));
}

/** Tables that make up the emulated world (workspaces, batches, files, jobs, webhooks...). */
export function worldTables(db: Db): TableInfo[] {
  return allTables(db).filter((t) => !CONTROL_TABLES.has(t.name) && !KEPT_TABLES.has(t.name) && !DERIVED_TABLES.has(t.name));
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;
/** The whole table, or one workspace's rows (none, in a table without a workspace_id column). */
function scope(t: TableInfo, ws?: string): [string, unknown[]] {
  if (ws === undefined) return ["", []];
  return t.columns.includes("workspace_id") ? [" WHERE workspace_id = ?", [ws]] : [" WHERE 0", []];
}

/** Deletes every row of a table, or only one workspace's; returns how many went. */
export function deleteRows(db: Db, t: TableInfo, ws?: string): number {
  const [where, args] = scope(t, ws);
  return db.prepare(`DELETE FROM ${quoteIdent(t.name)}${where}`).run(...args).changes;
}

/** Number of rows of a table, or of one workspace's. */
export function countRows(db: Db, t: TableInfo, ws?: string): number {
  const [where, args] = scope(t, ws);
  return (db.prepare(`SELECT COUNT(*) AS n FROM ${quoteIdent(t.name)}${where}`).get(...args) as { n: number }).n;
}

/** Blob paths named by a table's `blob` column, or by one workspace's rows. */
export function blobsOf(db: Db, t: TableInfo, ws?: string): string[] {
  const [where, args] = scope(t, ws);
  return (db.prepare(`SELECT blob FROM ${quoteIdent(t.name)}${where}`).all(...args) as { blob: string | null }[]).flatMap((r) => (r.blob ? [r.blob] : []));
}

export function selectRows(db: Db, t: TableInfo): Record<string, unknown>[] {
  return db.prepare(`SELECT * FROM ${quoteIdent(t.name)}`).all() as Record<string, unknown>[];
}

/** Inserts a row given as JSON (a snapshot's): unknown columns are ignored; booleans and objects stored as SQLite keeps them. */
export function insertRow(db: Db, t: TableInfo, row: Record<string, unknown>): boolean {
  const cols = Object.keys(row).filter((c) => t.columns.includes(c));
  if (!cols.length) return false;
  db.prepare(`INSERT INTO ${quoteIdent(t.name)} (${cols.map(quoteIdent).join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`).run(
    ...cols.map((c) => sqlValue(row[c])),
  );
  return true;
}

function sqlValue(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "object") return JSON.stringify(v);
  return v;
}

/** Restarts the AUTOINCREMENT sequences of these tables, so a reset world numbers its rows as a fresh one does. */
export function resetSequences(db: Db, names: string[]): void {
  if (!db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").get()) return;
  db.prepare(`DELETE FROM sqlite_sequence WHERE name IN (${names.map(() => "?").join(",")})`).run(...names);
}
