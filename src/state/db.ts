// Opens the SQLite store (a file in the data folder, or memory) and brings its schema up to date.
import Database from "better-sqlite3";
import fs from "node:fs";
import path from "node:path";
import os from "node:os";
import { MIGRATIONS } from "./schema.js";

export type Db = Database.Database;

export interface OpenedStore {
  db: Db;
  /** Folder where file blobs live (inside the data folder, or a temp folder for :memory:). */
  blobRoot: string;
  /** Folder for half-received uploads; emptied at start so nothing half-written survives. */
  tmpRoot: string;
  inMemory: boolean;
  close(): void;
}

export function openStore(dataDir: string): OpenedStore {
  const inMemory = dataDir === ":memory:";
  const root = inMemory ? fs.mkdtempSync(path.join(os.tmpdir(), "rf-emulator-")) : path.resolve(dataDir);
  fs.mkdirSync(root, { recursive: true });
  const blobRoot = path.join(root, "blobs");
  const tmpRoot = path.join(root, "tmp");
  fs.mkdirSync(blobRoot, { recursive: true });
  fs.rmSync(tmpRoot, { recursive: true, force: true });
  fs.mkdirSync(tmpRoot, { recursive: true });

  const db = new Database(inMemory ? ":memory:" : path.join(root, "emulator.sqlite"));
  if (!inMemory) db.pragma("journal_mode = WAL");
  // FULL: an acknowledged upload must survive kill -9 and power loss alike.
  db.pragma("synchronous = FULL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  cacheStatements(db);
  migrate(db);

  let closed = false;
  return {
    db,
    blobRoot,
    tmpRoot,
    inMemory,
    close() {
      if (closed) return;
      closed = true;
      db.close();
      if (inMemory) fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

export function migrate(db: Db): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`data folder was written by a newer emulator (schema ${current} > ${MIGRATIONS.length})`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

/**
 * Makes `db.prepare(sql)` return one compiled statement per SQL text. Queries are written inline
 * next to the code that uses them; compiling them on every request cost more than running them.
 * (Safe here: no caller iterates a statement or changes its mode per call.)
 */
function cacheStatements(db: Db): void {
  const compile = db.prepare.bind(db);
  const cache = new Map<string, ReturnType<Db["prepare"]>>();
  (db as { prepare: Db["prepare"] }).prepare = ((sql: string) => {
    let stmt = cache.get(sql);
    if (!stmt) {
      stmt = compile(sql);
      cache.set(sql, stmt);
    }
    return stmt;
  }) as Db["prepare"];
}

/**
 * Runs a write whose loss on power failure is harmless (progress, the request journal) without an
 * fsync. A kill -9 still keeps it (the WAL is in the OS cache); the next FULL commit syncs it too.
 */
export function advisoryWrite(db: Db, fn: () => void): void {
  if (db.inTransaction) return db.transaction(fn)();
  db.pragma("synchronous = NORMAL");
  try {
    db.transaction(fn)();
  } finally {
    db.pragma("synchronous = FULL");
  }
}
