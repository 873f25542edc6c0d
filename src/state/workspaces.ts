// Workspaces, their internal ids and their API keys.
import crypto from "node:crypto";
import type { Db } from "./db.js";

const ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/**
 * The internal id a workspace has when no seed gave it one: 20 letters and digits (the shape of
 * Roboflow's ids) from a hash of the name, so it is the same on every start and every machine.
 */
export function derivedInternalId(workspaceId: string): string {
  const digest = crypto.createHash("sha256").update(`roboflow-batch-emulator/workspace/${workspaceId}`).digest();
  return Array.from(digest.subarray(0, 20), (b) => ID_ALPHABET[b % ID_ALPHABET.length]).join("");
}

/** The workspace's internal id (what webhooks carry as Bearer rf_{id}): the seeded one, else the derived one. */
export function internalIdOf(db: Db, workspaceId: string): string {
  const row = db.prepare("SELECT internal_id FROM workspaces WHERE id = ?").get(workspaceId) as { internal_id: string | null } | undefined;
  return row?.internal_id ?? derivedInternalId(workspaceId);
}

/** The workspace (other than `except`) whose internal id, seeded or derived, is `internalId`. */
export function workspaceWithInternalId(db: Db, internalId: string, except: string): string | undefined {
  const rows = db.prepare("SELECT id, internal_id FROM workspaces WHERE id != ?").all(except) as { id: string; internal_id: string | null }[];
  return rows.find((r) => (r.internal_id ?? derivedInternalId(r.id)) === internalId)?.id;
}

/** Gives a workspace its internal id (a seed's `internalId`). */
export function setInternalId(db: Db, workspaceId: string, internalId: string): void {
  db.prepare("UPDATE workspaces SET internal_id = ? WHERE id = ?").run(internalId, workspaceId);
}

export function ensureWorkspace(db: Db, workspaceId: string, apiKey: string | undefined, now: number): void {
  db.prepare("INSERT OR IGNORE INTO workspaces (id, created_at) VALUES (?, ?)").run(workspaceId, now);
  if (apiKey !== undefined) {
    db.prepare("INSERT INTO api_keys (key, workspace_id) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET workspace_id = excluded.workspace_id").run(
      apiKey,
      workspaceId,
    );
  }
}

export function workspaceOfKey(db: Db, apiKey: string): string | undefined {
  const row = db.prepare("SELECT workspace_id FROM api_keys WHERE key = ?").get(apiKey) as { workspace_id: string } | undefined;
  return row?.workspace_id;
}

/** Keys remembered at most (a seed may hold many); past it the cache starts again. */
const MAX_CACHED_KEYS = 1024;

/**
 * `workspaceOfKey` answered from memory: every request carries a key, and the key table rarely
 * changes. Any write to api_keys, whoever makes it (a seed, a reset, a snapshot import, a key added
 * or moved), empties the cache through a temporary trigger on this connection, so an answer is
 * never stale; unknown keys are not remembered.
 */
export function cachedKeyLookup(db: Db): (apiKey: string) => string | undefined {
  const known = new Map<string, string>();
  const fn = `rf_api_keys_changed_${crypto.randomBytes(6).toString("hex")}`;
  db.raw.function(fn, () => {
    known.clear();
    return null;
  });
  for (const op of ["INSERT", "UPDATE", "DELETE"])
    db.exec(`CREATE TEMP TRIGGER ${fn}_${op.toLowerCase()} AFTER ${op} ON main.api_keys BEGIN SELECT ${fn}(); END`);
  return (apiKey) => {
    const hit = known.get(apiKey);
    if (hit !== undefined) return hit;
    const ws = workspaceOfKey(db, apiKey);
    if (ws !== undefined) {
      if (known.size >= MAX_CACHED_KEYS) known.clear();
      known.set(apiKey, ws);
    }
    return ws;
  };
}

export function workspaceExists(db: Db, workspaceId: string): boolean {
  return db.prepare("SELECT 1 FROM workspaces WHERE id = ?").get(workspaceId) !== undefined;
}

export function listWorkspaces(db: Db): { id: string; internalId: string; apiKeys: string[] }[] {
  const rows = db.prepare("SELECT w.id, w.internal_id, k.key FROM workspaces w LEFT JOIN api_keys k ON k.workspace_id = w.id ORDER BY w.id").all() as {
    id: string;
    internal_id: string | null;
    key: string | null;
  }[];
  const map = new Map<string, { internalId: string; apiKeys: string[] }>();
  for (const r of rows) {
    if (!map.has(r.id)) map.set(r.id, { internalId: r.internal_id ?? derivedInternalId(r.id), apiKeys: [] });
    if (r.key) map.get(r.id)!.apiKeys.push(r.key);
  }
  return [...map].map(([id, w]) => ({ id, ...w }));
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
