// Reset: the whole emulator, or one workspace, back to empty in one call. Rows go in one
// transaction, blobs after it commits, then every background worker re-reads the store (which
// drops its timers for work that no longer exists) and the default workspace and key are restored.
import type { Emulator, Worker } from "../context.js";
import type { ResetBodyT, SeedRequestT } from "../contract/controls.js";
import { notFound } from "../errors.js";
import { applySeedFile, type SeedSummary } from "../seed.js";
import { resetJobs } from "../jobs/commands.js";
import { newStoreGeneration } from "../state/generation.js";
import { allTables, blobsOf, CONTROL_TABLES, countRows, deleteRows, KEPT_TABLES, resetSequences } from "../state/tables.js";
import { deleteWorkspaceAttempts } from "../state/webhooks.js";
import { ensureWorkspace, workspaceExists } from "../state/workspaces.js";
import { keepFailedWebhooks } from "./contract-report.js";
import { disarmAll } from "./job-stubs.js";
import { adoptStartupSeed } from "./plane.js";

export interface ResetOutcome {
  workspace: string | null;
  ms: number;
  deletedRows: Record<string, number>;
  blobsRemoved: number;
}

/** Tables of one workspace's world are those with a workspace_id column; these two are kept so its keys still work. */
const WORKSPACE_IDENTITY = new Set(["workspaces", "api_keys"]);

/** POST /_emulator/reset: one workspace (which must exist), or everything and optionally the start-up seed again (any start path's). */
export function reset(emu: Emulator, body: ResetBodyT): ResetOutcome {
  if (body.workspace !== undefined) {
    if (!workspaceExists(emu.db, body.workspace)) throw notFound(`Workspace "${body.workspace}" does not exist`);
    return resetWorkspace(emu, body.workspace);
  }
  const out = resetAll(emu);
  if (body.reseed && emu.controls.startupSeed) applySeedFile(emu, emu.controls.startupSeed);
  return out;
}

/** POST /_emulator/seed: applies a seed; with asStartupSeed it first becomes the one reset {reseed: true} restores. */
export function seed(emu: Emulator, body: SeedRequestT): SeedSummary {
  const { asStartupSeed, ...world } = body;
  // Adopted first, so the ids it draws are the ones a reset + reseed draws again.
  if (asStartupSeed) adoptStartupSeed(emu.controls, emu.clock, emu.config, world);
  return applySeedFile(emu, world);
}

export function resetAll(emu: Emulator): ResetOutcome {
  const started = performance.now();
  const plane = emu.controls;
  plane.journal.discardBuffered();
  // The run's contract report outlives resets: failed deliveries are taken in before their rows go.
  keepFailedWebhooks(emu);
  disarmAll(emu);
  // The simulator first: it cancels job timers and temp files before the rows go.
  resetJobs(emu);
  const blobRows = countBlobRows(emu);
  const deletedRows: Record<string, number> = {};
  const tables = allTables(emu.db).filter((t) => !KEPT_TABLES.has(t.name));
  emu.db.transaction(() => {
    for (const t of tables) {
      const n = deleteRows(emu.db, t);
      if (n) deletedRows[t.name] = n;
    }
    resetSequences(
      emu.db,
      tables.map((t) => t.name),
    );
    newStoreGeneration(emu.db); // row numbers restart: signed URLs issued before must name nothing now
    ensureWorkspace(emu.db, emu.config.workspace, emu.config.apiKey, emu.clock.now());
  })();
  emu.blobs.discardAll();
  plane.faults.invalidate();
  emu.ids.restart();
  afterWorldChange(emu);
  return { workspace: null, ms: performance.now() - started, deletedRows, blobsRemoved: blobRows };
}

export function resetWorkspace(emu: Emulator, ws: string): ResetOutcome {
  const started = performance.now();
  const plane = emu.controls;
  plane.journal.flush();
  keepFailedWebhooks(emu, ws);
  const jobs = resetJobs(emu, ws);
  const deletedRows: Record<string, number> = {};
  const tables = allTables(emu.db).filter((t) => t.columns.includes("workspace_id") && !WORKSPACE_IDENTITY.has(t.name) && !KEPT_TABLES.has(t.name));
  const blobs: string[] = [];
  emu.db.transaction(() => {
    for (const t of tables) if (t.columns.includes("blob")) blobs.push(...blobsOf(emu.db, t, ws));
    // Attempts are keyed by webhook id only: remove them before their webhooks.
    const attempts = deleteWorkspaceAttempts(emu.db, ws);
    if (attempts) deletedRows.webhook_attempts = attempts;
    for (const t of tables) {
      if (CONTROL_TABLES.has(t.name) && t.name !== "journal") continue;
      const n = deleteRows(emu.db, t, ws);
      if (n) deletedRows[t.name] = n;
    }
    if (ws === emu.config.workspace) ensureWorkspace(emu.db, ws, emu.config.apiKey, emu.clock.now());
  })();
  if (jobs) deletedRows.jobs = (deletedRows.jobs ?? 0) + jobs;
  // Rows are gone, so nothing can read these any more: unlink them off the request path.
  emu.blobs.removeLater(blobs);
  // resetJobs stopped this workspace's jobs; reloading the engine would restart other workspaces' running tasks.
  afterWorldChange(emu, emu.jobs);
  return { workspace: ws, ms: performance.now() - started, deletedRows, blobsRemoved: blobs.length };
}

/** Workers drop timers of work that is gone and pick up what the store now holds. */
export function afterWorldChange(emu: Emulator, except?: Worker): void {
  for (const w of emu.workers) {
    if (w === except) continue;
    try {
      w.reload?.();
    } catch (err) {
      console.error(`[controls] worker ${w.name} failed to reload:`, err);
    }
  }
}

/** Number of rows that name a blob, over every table with a `blob` column. */
function countBlobRows(emu: Emulator): number {
  let n = 0;
  for (const t of allTables(emu.db)) if (t.columns.includes("blob")) n += countRows(emu.db, t);
  return n;
}
