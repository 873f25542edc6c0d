// Opens the store: the SQLite database (a file in the data folder, or memory) brought up to date,
// and the blob store beside it.
import Database from "better-sqlite3";
import fs from "node:fs";
import path from "node:path";
import os from "node:os";
import { MIGRATIONS } from "./schema.js";
import { BlobStore } from "./blobs.js";
import { recoverPendingSwitch } from "./blob-switch.js";

type Statement = Database.Statement;

/**
 * The database as the rest of the store sees it: better-sqlite3 with one compiled statement per SQL
 * text. Queries are written inline next to the code that uses them; compiling them on every request
 * cost more than running them. (Safe: no caller iterates a statement or changes its mode per call.)
 */
export class Db {
  private readonly statements = new Map<string, Statement>();

  constructor(readonly raw: Database.Database) {}

  prepare(sql: string): Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.raw.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  transaction<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
    return this.raw.transaction(fn);
  }

  exec(sql: string): void {
    this.raw.exec(sql);
  }

  pragma(source: string, options?: Database.PragmaOptions): unknown {
    return this.raw.pragma(source, options);
  }

  get inTransaction(): boolean {
    return this.raw.inTransaction;
  }

  get open(): boolean {
    return this.raw.open;
  }

  close(): void {
    this.statements.clear();
    this.raw.close();
  }
}

export interface OpenedStore {
  db: Db;
  blobs: BlobStore;
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

  const raw = new Database(inMemory ? ":memory:" : path.join(root, "emulator.sqlite"));
  if (!inMemory) raw.pragma("journal_mode = WAL");
  // FULL: an acknowledged upload must survive kill -9 and power loss alike.
  raw.pragma("synchronous = FULL");
  raw.pragma("foreign_keys = ON");
  raw.pragma("busy_timeout = 5000");
  const db = new Db(raw);
  migrate(db);
  // A snapshot import killed half-way is finished or discarded before anything reads a blob.
  recoverPendingSwitch(db, blobRoot);

  let closed = false;
  return {
    db,
    blobs: new BlobStore(blobRoot, tmpRoot),
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
