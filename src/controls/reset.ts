// Reset: the whole emulator, or one workspace, back to empty in one call. Rows go in one
// transaction, blobs after it commits, then every background worker re-reads the store (which
// drops its timers for work that no longer exists) and the default workspace and key are restored.
import type { Emulator } from "../context.js";
import { ensureWorkspace } from "../state/workspaces.js";
import { allTables, CONTROL_TABLES, KEPT_TABLES, quoteIdent } from "./tables.js";
import { resetJobs } from "../simulator/engine.js";

export interface ResetOutcome {
  workspace: string | null;
  ms: number;
  deletedRows: Record<string, number>;
  blobsRemoved: number;
}

/** Tables of one workspace's world are those with a workspace_id column; these two are kept so its keys still work. */
const WORKSPACE_IDENTITY = new Set(["workspaces", "api_keys"]);

export function resetAll(emu: Emulator): ResetOutcome {
  const started = performance.now();
  const plane = emu.controls;
  plane.journal.discardBuffered();
  // The simulator first: it cancels job timers and temp files before the rows go.
  resetJobs(emu);
  const blobRows = countBlobRows(emu);
  const deletedRows: Record<string, number> = {};
  const tables = allTables(emu.db).filter((t) => !KEPT_TABLES.has(t.name));
  emu.db.transaction(() => {
    for (const t of tables) {
      const n = emu.db.prepare(`DELETE FROM ${quoteIdent(t.name)}`).run().changes;
      if (n) deletedRows[t.name] = n;
    }
    // Sequences restart too, so a reset world numbers its rows (and page tokens) as a fresh one does.
    if (emu.db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").get()) {
      emu.db.prepare(`DELETE FROM sqlite_sequence WHERE name IN (${tables.map(() => "?").join(",")})`).run(...tables.map((t) => t.name));
    }
    ensureWorkspace(emu.db, emu.config.workspace, emu.config.apiKey, emu.clock.now());
  })();
  const blobsRemoved = discardBlobs(emu, blobRows);
  plane.faults.invalidate();
  emu.ids.restart();
  afterWorldChange(emu);
  return { workspace: null, ms: performance.now() - started, deletedRows, blobsRemoved };
}

export function resetWorkspace(emu: Emulator, ws: string): ResetOutcome {
  const started = performance.now();
  const plane = emu.controls;
  plane.journal.flush();
  const jobs = resetJobs(emu, ws);
  const deletedRows: Record<string, number> = {};
  const tables = allTables(emu.db).filter((t) => t.columns.includes("workspace_id") && !WORKSPACE_IDENTITY.has(t.name) && !KEPT_TABLES.has(t.name));
  const blobs: string[] = [];
  emu.db.transaction(() => {
    for (const t of tables) {
      if (t.columns.includes("blob")) {
        for (const r of emu.db.prepare(`SELECT blob FROM ${quoteIdent(t.name)} WHERE workspace_id = ?`).all(ws) as { blob: string | null }[]) if (r.blob) blobs.push(r.blob);
      }
    }
    // Attempts are keyed by webhook id only: remove them before their webhooks.
    const attempts = emu.db.prepare("DELETE FROM webhook_attempts WHERE webhook_id IN (SELECT id FROM webhooks WHERE workspace_id = ?)").run(ws).changes;
    if (attempts) deletedRows.webhook_attempts = attempts;
    for (const t of tables) {
      if (CONTROL_TABLES.has(t.name) && t.name !== "journal") continue;
      const n = emu.db.prepare(`DELETE FROM ${quoteIdent(t.name)} WHERE workspace_id = ?`).run(ws).changes;
      if (n) deletedRows[t.name] = n;
    }
    if (ws === emu.config.workspace) ensureWorkspace(emu.db, ws, emu.config.apiKey, emu.clock.now());
  })();
  if (jobs) deletedRows.jobs = (deletedRows.jobs ?? 0) + jobs;
  // Rows are gone, so nothing can read these any more: unlink them off the request path.
  emu.blobs.removeLater(blobs);
  afterWorldChange(emu);
  return { workspace: ws, ms: performance.now() - started, deletedRows, blobsRemoved: blobs.length };
}

/** Workers drop timers of work that is gone and pick up what the store now holds. */
export function afterWorldChange(emu: Emulator): void {
  for (const w of emu.workers) {
    try {
      w.reload?.();
    } catch (err) {
      console.error(`[controls] worker ${w.name} failed to reload:`, err);
    }
  }
}

/**
 * Empties the blob folder in O(1): it is renamed aside and deleted in the background, so a reset
 * costs the same with 5 files or 5000. Returns how many blobs the store's rows named.
 */
export function discardBlobs(emu: Emulator, blobRows: number): number {
  emu.blobs.discardAll();
  return blobRows;
}

/** Number of rows that name a blob, over every table with a `blob` column. */
export function countBlobRows(emu: Emulator, ws?: string): number {
  let n = 0;
  for (const t of allTables(emu.db)) {
    if (!t.columns.includes("blob")) continue;
    const sql = `SELECT COUNT(*) AS n FROM ${quoteIdent(t.name)}${ws !== undefined && t.columns.includes("workspace_id") ? " WHERE workspace_id = ?" : ""}`;
    n += (emu.db.prepare(sql).get(...(ws !== undefined && t.columns.includes("workspace_id") ? [ws] : [])) as { n: number }).n;
  }
  return n;
}
