// The built-in webhook receiver: POST /_emulator/receiver/{name} stores whatever arrives, so a
// test can point notificationsURL at the emulator itself and read the deliveries back.
import { iso } from "../clock.js";
import type { Emulator } from "../context.js";
import { ApiError } from "../errors.js";
import { deleteReceived, insertReceived, listReceived, type ReceivedRow } from "../state/receiver.js";

export interface IncomingDelivery {
  name: string;
  method: string;
  headers: Record<string, string>;
  body: string;
  /** The status to answer with (?status=), 200 by default. */
  status: number;
}

/** Stores a delivery; returns its seq, or throws the error answer asked for with ?status= (3xx-5xx). */
export function receiveDelivery(emu: Emulator, d: IncomingDelivery): number {
  const seq = insertReceived(emu.db, {
    name: d.name,
    at: emu.clock.now(),
    method: d.method,
    headers: JSON.stringify(d.headers),
    body: d.body,
    status: d.status,
  });
  if (d.status >= 300) throw new ApiError(d.status, "receiver-status", `The receiver answered ${d.status} as asked (?status=${d.status})`);
  return seq;
}

export function receivedDeliveries(emu: Emulator, name: string, afterSeq: number) {
  return listReceived(emu.db, name, afterSeq).map(presentReceived);
}

export function clearReceived(emu: Emulator, name: string): number {
  return deleteReceived(emu.db, name);
}

function presentReceived(r: ReceivedRow) {
  let json: unknown;
  try {
    json = JSON.parse(r.body);
  } catch {
    json = null;
  }
  return { seq: r.seq, at: iso(r.at), method: r.method, headers: JSON.parse(r.headers) as Record<string, string>, body: r.body, json, status: r.status };
}
