// Snapshot export/import: the whole emulated world (every world table's rows and every blob) as one
// JSON document, so a test can start from a known state or a bug report can carry one. Control-plane
// tables (journal, fault rules, receiver inbox) and the signing secret are not part of it.
// An import is all-or-nothing, also across a kill -9 (src/state/blob-switch.ts): the new blobs are
// staged and fsynced first, the rows are committed with a "pending switch" marker, then the blob
// folders are swapped; a restart finishes or discards what a crash left.
import type { Emulator } from "../context.js";
import type { SnapshotT } from "../contract/controls.js";
import { badRequest, conflict } from "../errors.js";
import { checkBlobName, completeSwitch, discardStaged, recordPendingSwitch, stageBlobs, type StagedBlobs } from "../state/blob-switch.js";
import { MIGRATIONS } from "../state/schema.js";
import { deleteRows, insertRow, selectRows, worldTables } from "../state/tables.js";
import { ensureWorkspace } from "../state/workspaces.js";
import { newStoreGeneration } from "../state/generation.js";
import { afterWorldChange } from "./reset.js";

export const SNAPSHOT_FORMAT = "roboflow-batch-emulator-snapshot";

export function exportSnapshot(emu: Emulator): SnapshotT {
  const tables: SnapshotT["tables"] = {};
  for (const t of worldTables(emu.db)) tables[t.name] = selectRows(emu.db, t);
  const blobs: Record<string, string> = {};
  for (const rel of emu.blobs.list()) blobs[rel] = emu.blobs.read(rel).toString("base64");
  return { format: SNAPSHOT_FORMAT, version: 1, schemaVersion: MIGRATIONS.length, exportedAt: emu.clock.nowIso(), tables, blobs };
}

export interface ImportOutcome {
  rows: Record<string, number>;
  blobs: number;
  ms: number;
}

export async function importSnapshot(emu: Emulator, snap: SnapshotT): Promise<ImportOutcome> {
  const started = performance.now();
  if (snap.schemaVersion !== MIGRATIONS.length) {
    throw conflict(
      `Snapshot schema version ${snap.schemaVersion} differs from this emulator's (${MIGRATIONS.length})`,
      "Export the snapshot again from an emulator of this version.",
    );
  }
  const tables = worldTables(emu.db);
  const known = new Set(tables.map((t) => t.name));
  const unknown = Object.keys(snap.tables).filter((n) => !known.has(n));
  if (unknown.length) throw badRequest(`Snapshot has tables this emulator does not know: ${unknown.join(", ")}`);
  // Validate blob paths before touching anything: a snapshot must not write outside the blob root.
  const entries = Object.entries(snap.blobs).map(([rel, b64]) => {
    try {
      checkBlobName(emu.blobs, rel);
    } catch {
      throw badRequest(`Snapshot blob path "${rel}" escapes the blob folder`);
    }
    return { rel, bytes: () => Buffer.from(b64, "base64") };
  });
  // Background writers are quiesced first: an ingest or job step still running would otherwise
  // commit its rows into the imported world and its files into the blob folder being replaced.
  await quiesce(emu);
  let rows: Record<string, number>;
  try {
    const half = Math.floor(entries.length / 2);
    const staged = await stageBlobs(emu.blobs, entries, (n) => n === half && crashPoint("snapshot-staging"));
    try {
      emu.controls.journal.flush();
      rows = replaceRows(emu, snap, tables, staged);
    } catch (err) {
      discardStaged(emu.blobs, staged);
      throw err;
    }
    crashPoint("snapshot-after-rows");
    // Synchronous from the commit on: nothing can write between the rows and the folder swap.
    completeSwitch(emu.db, emu.blobs, staged, (step) => crashPoint(`snapshot-${step}`));
  } finally {
    afterWorldChange(emu);
  }
  emu.webhooks.start(); // resume deliveries the snapshot left pending
  return { rows, blobs: entries.length, ms: performance.now() - started };
}

/** Every world table emptied and refilled, and the pending switch recorded, in one transaction. */
function replaceRows(emu: Emulator, snap: SnapshotT, tables: ReturnType<typeof worldTables>, staged: StagedBlobs): Record<string, number> {
  const rows: Record<string, number> = {};
  emu.db.transaction(() => {
    emu.db.pragma("defer_foreign_keys = ON");
    for (const t of [...tables].reverse()) deleteRows(emu.db, t);
    for (const t of tables) {
      const list = snap.tables[t.name] ?? [];
      for (const row of list) insertRow(emu.db, t, row);
      if (list.length) rows[t.name] = list.length;
    }
    // The configured key keeps working whatever the snapshot holds.
    ensureWorkspace(emu.db, emu.config.workspace, emu.config.apiKey, emu.clock.now());
    // Row numbers are overwritten: signed URLs issued before the import must name nothing now.
    newStoreGeneration(emu.db);
    recordPendingSwitch(emu.db, staged);
  })();
  return rows;
}

/**
 * Test-only fault seam: EMULATOR_TEST_CRASH_AT=<point> kills the process with SIGKILL at that step
 * of an import (snapshot-staging, snapshot-after-rows, snapshot-after-aside, snapshot-after-switch),
 * so a test can check what a restart makes of it. Read by the import code only; unset in normal use.
 */
function crashPoint(name: string): void {
  if (process.env.EMULATOR_TEST_CRASH_AT === name) process.kill(process.pid, "SIGKILL");
}

/** How long an import waits for in-flight ingest and job steps to end before it goes ahead anyway. */
const QUIESCE_TIMEOUT_MS = 10_000;

async function quiesce(emu: Emulator): Promise<void> {
  emu.ingest.stop();
  emu.jobs.stop();
  const deadline = Date.now() + QUIESCE_TIMEOUT_MS;
  while (!(emu.ingest.idle() && emu.jobs.idle()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}
