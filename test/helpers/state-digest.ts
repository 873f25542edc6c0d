// A digest of everything a request could change: every data table of the store (not the request
// journal, fault-rule counters, webhook attempts or the receiver inbox, which record traffic by design)
// and the files under the data folder's blob and tmp trees. Equal digests = nothing changed.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Db } from "../../src/state/db.js";

export const TRAFFIC_TABLES = new Set(["journal", "fault_rules", "receiver_deliveries", "webhook_attempts", "sqlite_sequence"]);

function listTree(root: string, rel = ""): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(path.join(root, rel), { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) {
    const p = path.join(rel, e.name);
    if (e.isDirectory()) out.push(...listTree(root, p));
    else out.push(`${p}:${fs.lstatSync(path.join(root, p)).size}`);
  }
  return out.sort();
}

export function stateDigest(db: Db, dataRoot: string): string {
  const hash = crypto.createHash("sha256");
  for (const [k, v] of Object.entries(stateParts(db, dataRoot))) hash.update(`${k}\u0000${v}\u0000`);
  return hash.digest("hex");
}

/** Per-part digests (each table, the blob tree, the tmp tree), to say what changed. */
export function stateParts(db: Db, dataRoot: string): Record<string, string> {
  const out: Record<string, string> = {};
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[])
    .map((t) => t.name)
    .filter((n) => !TRAFFIC_TABLES.has(n));
  for (const t of tables) {
    const hash = crypto.createHash("sha256");
    let rows: string[];
    // The clock position is saved on a timer (so a restart resumes it): bookkeeping, not request state.
    const where = t === "settings" ? ` WHERE key <> 'clock_now'` : "";
    try {
      rows = db
        .prepare(`SELECT * FROM "${t}"${where} ORDER BY rowid`)
        .all()
        .map((r) => JSON.stringify(r));
    } catch {
      // WITHOUT ROWID tables: order by content instead.
      rows = db
        .prepare(`SELECT * FROM "${t}"${where}`)
        .all()
        .map((r) => JSON.stringify(r))
        .sort();
    }
    for (const r of rows) hash.update(r);
    out[`table ${t}`] = hash.digest("hex");
  }
  out.blobs = listTree(path.join(dataRoot, "blobs")).join("\n");
  out.tmp = listTree(path.join(dataRoot, "tmp")).join("\n");
  return out;
}

/** Which parts differ between two stateParts() results. */
export function changedParts(a: Record<string, string>, b: Record<string, string>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])]
    .filter((k) => a[k] !== b[k])
    .map((k) => (k === "tmp" || k === "blobs" ? `${k}: ${JSON.stringify(a[k] ?? "").slice(0, 200)} → ${JSON.stringify(b[k] ?? "").slice(0, 200)}` : k));
}

/** Files anywhere under `root` (for "nothing written outside the data folder" checks). */
export function filesUnder(root: string): string[] {
  return listTree(root);
}
