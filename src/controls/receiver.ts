// The built-in webhook receiver: POST /_emulator/receiver/{name} stores whatever arrives, so a
// test can point notificationsURL at the emulator itself and read the deliveries back.
import type { Db } from "../state/db.js";

export interface ReceivedRow {
  seq: number;
  name: string;
  at: number;
  method: string;
  headers: string;
  body: string;
  status: number;
}

export function storeDelivery(db: Db, d: Omit<ReceivedRow, "seq">): number {
  return Number(db.prepare("INSERT INTO receiver_deliveries (name, at, method, headers, body, status) VALUES (@name, @at, @method, @headers, @body, @status)").run(d).lastInsertRowid);
}

export function listDeliveries(db: Db, name: string, afterSeq = 0): ReceivedRow[] {
  return db.prepare("SELECT * FROM receiver_deliveries WHERE name = ? AND seq > ? ORDER BY seq").all(name, afterSeq) as ReceivedRow[];
}

export function clearDeliveries(db: Db, name?: string): number {
  return (name === undefined ? db.prepare("DELETE FROM receiver_deliveries").run() : db.prepare("DELETE FROM receiver_deliveries WHERE name = ?").run(name)).changes;
}

export function presentReceived(r: ReceivedRow) {
  let json: unknown = null;
  try {
    json = JSON.parse(r.body);
  } catch {
    json = null;
  }
  return { seq: r.seq, at: new Date(r.at).toISOString(), method: r.method, headers: JSON.parse(r.headers) as Record<string, string>, body: r.body, json, status: r.status };
}
