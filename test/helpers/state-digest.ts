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
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[])
    .map((t) => t.name)
    .filter((n) => !TRAFFIC_TABLES.has(n));
  for (const t of tables) {
    hash.update(`\u0000table ${t}\n`);
    let rows: string[];
    try {
      rows = (db.prepare(`SELECT * FROM "${t}" ORDER BY rowid`).all() as unknown[]).map((r) => JSON.stringify(r));
    } catch {
      // WITHOUT ROWID tables: order by content instead.
      rows = (db.prepare(`SELECT * FROM "${t}"`).all() as unknown[]).map((r) => JSON.stringify(r)).sort();
    }
    for (const r of rows) hash.update(r);
  }
  hash.update(`\u0000blobs\n${listTree(path.join(dataRoot, "blobs")).join("\n")}`);
  hash.update(`\u0000tmp\n${listTree(path.join(dataRoot, "tmp")).join("\n")}`);
  return hash.digest("hex");
}

/** Files anywhere under `root` (for "nothing written outside the data folder" checks). */
export function filesUnder(root: string): string[] {
  return listTree(root);
}
