// Snapshot export/import: the whole emulated world (every world table's rows and every blob) as one
// JSON document, so a test can start from a known state or a bug report can carry one. Control-plane
// tables (journal, fault rules, receiver inbox) and the signing secret are not part of it.
import type { Emulator } from "../context.js";
import type { SnapshotT } from "../contract/controls.js";
import { badRequest, conflict } from "../errors.js";
import { newStoreGeneration } from "../state/generation.js";
import { MIGRATIONS } from "../state/schema.js";
import { deleteRows, insertRow, selectRows, worldTables } from "../state/tables.js";
import { ensureWorkspace } from "../state/workspaces.js";
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

export function importSnapshot(emu: Emulator, snap: SnapshotT): ImportOutcome {
  const started = performance.now();
  if (snap.schemaVersion !== MIGRATIONS.length) {
    throw conflict(`Snapshot schema version ${snap.schemaVersion} differs from this emulator's (${MIGRATIONS.length})`, "Export the snapshot again from an emulator of this version.");
  }
  const tables = worldTables(emu.db);
  const known = new Map(tables.map((t) => [t.name, t]));
  const unknown = Object.keys(snap.tables).filter((n) => !known.has(n));
  if (unknown.length) throw badRequest(`Snapshot has tables this emulator does not know: ${unknown.join(", ")}`);
  // Validate blob paths before touching anything: a snapshot must not write outside the blob root.
  const blobEntries = Object.entries(snap.blobs).map(([rel, b64]) => {
    try {
      return { rel, abs: emu.blobs.path(rel), bytes: Buffer.from(b64, "base64") };
    } catch {
      throw badRequest(`Snapshot blob path "${rel}" escapes the blob folder`);
    }
  });
  emu.controls.journal.flush();
  const rows: Record<string, number> = {};
  emu.db.transaction(() => {
    emu.db.pragma("defer_foreign_keys = ON");
    for (const t of [...tables].reverse()) deleteRows(emu.db, t);
    for (const t of tables) {
      const list = snap.tables[t.name] ?? [];
      for (const row of list) insertRow(emu.db, t, row);
      if (list.length) rows[t.name] = list.length;
    }
    newStoreGeneration(emu.db); // the imported rows reuse row numbers: signed URLs issued before must name nothing now
    // The configured key keeps working whatever the snapshot holds.
    ensureWorkspace(emu.db, emu.config.workspace, emu.config.apiKey, emu.clock.now());
  })();
  emu.blobs.discardAll();
  for (const b of blobEntries) {
    emu.blobs.commitAt(emu.blobs.writeTemp(b.bytes, "snapshot").tmp, b.rel);
  }
  afterWorldChange(emu);
  emu.webhooks.start(); // resume deliveries the snapshot left pending
  return { rows, blobs: blobEntries.length, ms: performance.now() - started };
}
