// Fault rules as stored: the rule itself as JSON, plus what changes as it fires (remaining count,
// the seeded generator's state, fire counts). The matching logic lives in src/controls/faults.ts.
import type { Db } from "./db.js";

export interface FaultRuleRow {
  seq: number;
  id: string;
  rule: string;
  remaining: number | null;
  prng_state: number | null;
  fired: number;
  evaluated: number;
  created_at: number;
  last_fired_at: number | null;
}

export function insertFaultRule(db: Db, row: Omit<FaultRuleRow, "seq" | "fired" | "evaluated" | "last_fired_at">): void {
  db.prepare("INSERT INTO fault_rules (id, rule, remaining, prng_state, created_at) VALUES (@id, @rule, @remaining, @prng_state, @created_at)").run(row);
}

export function faultRuleExists(db: Db, id: string): boolean {
  return db.prepare("SELECT 1 FROM fault_rules WHERE id = ?").get(id) !== undefined;
}

/** The counters a rule's firing changes (read fresh: they change as rules fire). */
export function faultRuleCounters(db: Db, id: string): Pick<FaultRuleRow, "remaining" | "prng_state"> | undefined {
  return db.prepare("SELECT remaining, prng_state FROM fault_rules WHERE id = ?").get(id) as Pick<FaultRuleRow, "remaining" | "prng_state"> | undefined;
}

export function listFaultRules(db: Db): FaultRuleRow[] {
  return db.prepare("SELECT * FROM fault_rules ORDER BY seq").all() as FaultRuleRow[];
}

export function deleteFaultRule(db: Db, id: string): boolean {
  return db.prepare("DELETE FROM fault_rules WHERE id = ?").run(id).changes > 0;
}

export function deleteAllFaultRules(db: Db): number {
  return db.prepare("DELETE FROM fault_rules").run().changes;
}

/** Records one evaluation of a rule whose match fit: whether it fired, and its new counters. */
export function recordEvaluation(db: Db, id: string, s: { fired: boolean; remaining: number | null; prngState: number | null; at: number }): void {
  db.prepare(
    `UPDATE fault_rules SET evaluated = evaluated + 1, fired = fired + ?, remaining = ?, prng_state = ?,
       last_fired_at = CASE WHEN ? THEN ? ELSE last_fired_at END WHERE id = ?`,
  ).run(s.fired ? 1 : 0, s.remaining, s.prngState, s.fired ? 1 : 0, s.at, id);
}
