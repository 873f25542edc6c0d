// Workspaces and their API keys.
import type { Db } from "./db.js";

export function ensureWorkspace(db: Db, workspaceId: string, apiKey: string | undefined, now: number): void {
  db.prepare("INSERT OR IGNORE INTO workspaces (id, created_at) VALUES (?, ?)").run(workspaceId, now);
  if (apiKey !== undefined) {
    db.prepare("INSERT INTO api_keys (key, workspace_id) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET workspace_id = excluded.workspace_id").run(apiKey, workspaceId);
  }
}

export function workspaceOfKey(db: Db, apiKey: string): string | undefined {
  const row = db.prepare("SELECT workspace_id FROM api_keys WHERE key = ?").get(apiKey) as { workspace_id: string } | undefined;
  return row?.workspace_id;
}

export function workspaceExists(db: Db, workspaceId: string): boolean {
  return db.prepare("SELECT 1 FROM workspaces WHERE id = ?").get(workspaceId) !== undefined;
}

export function listWorkspaces(db: Db): { id: string; apiKeys: string[] }[] {
  const rows = db.prepare("SELECT w.id, k.key FROM workspaces w LEFT JOIN api_keys k ON k.workspace_id = w.id ORDER BY w.id").all() as { id: string; key: string | null }[];
  const map = new Map<string, string[]>();
  for (const r of rows) {
    if (!map.has(r.id)) map.set(r.id, []);
    if (r.key) map.get(r.id)!.push(r.key);
  }
  return [...map].map(([id, apiKeys]) => ({ id, apiKeys }));
}

export function getSetting(db: Db, key: string): string | undefined {
  return (db.prepare("SELECT value FROM settings WHERE key = ?").get(key) as { value: string } | undefined)?.value;
}

export function setSetting(db: Db, key: string, value: string): void {
  db.prepare("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(key, value);
}

export function deleteSetting(db: Db, key: string): void {
  db.prepare("DELETE FROM settings WHERE key = ?").run(key);
}
