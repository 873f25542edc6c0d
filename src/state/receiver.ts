// The built-in webhook receiver's inbox: every delivery POSTed to /_emulator/receiver/{name}.
import type { Db } from "./db.js";

export interface ReceivedRow {
  seq: number;
  name: string;
  at: number;
  method: string;
  headers: string;
  body: string;
  status: number;
}

/** Stores one delivery; returns its seq. */
export function insertReceived(db: Db, d: Omit<ReceivedRow, "seq">): number {
  return Number(
    db.prepare("INSERT INTO receiver_deliveries (name, at, method, headers, body, status) VALUES (@name, @at, @method, @headers, @body, @status)").run(d)
      .lastInsertRowid,
  );
}

/** Deliveries of one receiver with seq greater than `afterSeq`, oldest first. */
export function listReceived(db: Db, name: string, afterSeq: number): ReceivedRow[] {
  return db.prepare("SELECT * FROM receiver_deliveries WHERE name = ? AND seq > ? ORDER BY seq").all(name, afterSeq) as ReceivedRow[];
}

export function deleteReceived(db: Db, name: string): number {
  return db.prepare("DELETE FROM receiver_deliveries WHERE name = ?").run(name).changes;
}
