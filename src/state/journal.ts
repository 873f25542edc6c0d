// The request journal: every request the emulator received, newest kept, oldest pruned. Writes
// are buffered and flushed in one transaction (per tick, or before any read), so journaling costs
// the emulated API one array push per request instead of one fsync.
import { advisoryWrite, type Db } from "./db.js";

export const DEFAULT_JOURNAL_LIMIT = 10_000;
const FLUSH_AT_ROWS = 500;
const FLUSH_AFTER_MS = 20;

export interface JournalEntryIn {
  at: number;
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  status: number | null;
  latencyMs: number;
  workspace: string | null;
  fault: { ruleId: string; type: string } | null;
  control: boolean;
}

export interface JournalRow {
  seq: number;
  at: number;
  method: string;
  path: string;
  query: string;
  headers: string;
  status: number | null;
  latency_ms: number;
  workspace_id: string | null;
  fault: string | null;
  control: number;
}

export interface JournalFilter {
  method?: string;
  /** Plain prefix of the path. */
  pathPrefix?: string;
  /** Predicate on the path (glob or regex, compiled by the caller). */
  pathTest?: (path: string) => boolean;
  workspace?: string;
  /** Exact status, or a class like "4xx". */
  status?: string;
  /** Emulator-clock ms: entries at or after. */
  since?: number;
  /** Entries with seq greater than this. */
  afterSeq?: number;
  /** true: only requests that got an injected fault; false: only those that did not. */
  fault?: boolean;
  includeControl?: boolean;
}

export class Journal {
  private buffer: JournalEntryIn[] = [];
  private timer: NodeJS.Timeout | null = null;
  private sincePrune = 0;
  limit = DEFAULT_JOURNAL_LIMIT;
  /** Journal calls to /_emulator too (off by default so a test's own control calls do not count). */
  includeControls = false;

  constructor(private readonly db: Db) {}

  record(entry: JournalEntryIn): void {
    this.buffer.push(entry);
    if (this.buffer.length >= FLUSH_AT_ROWS) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), FLUSH_AFTER_MS);
      this.timer.unref();
    }
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.buffer.length || !this.db.open) return;
    const rows = this.buffer;
    this.buffer = [];
    const insert = this.db.prepare(
      `INSERT INTO journal (at, method, path, query, headers, status, latency_ms, workspace_id, fault, control)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    // The journal is diagnostic: it does not need an fsync per flush.
    advisoryWrite(this.db, () => {
      for (const e of rows) {
        insert.run(e.at, e.method, e.path, e.query, JSON.stringify(e.headers), e.status, e.latencyMs, e.workspace, e.fault ? JSON.stringify(e.fault) : null, e.control ? 1 : 0);
      }
      this.sincePrune += rows.length;
      // Prune in steps rather than per row: the table may exceed the limit by a few hundred rows.
      if (this.sincePrune >= Math.min(500, Math.max(1, Math.floor(this.limit / 10)))) {
        this.sincePrune = 0;
        this.db.prepare("DELETE FROM journal WHERE seq <= (SELECT MAX(seq) FROM journal) - ?").run(this.limit);
      }
    });
  }

  /** Drops buffered rows (used by reset before the tables are emptied). */
  discardBuffered(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.buffer = [];
  }

  query(filter: JournalFilter, limit: number, order: "asc" | "desc"): { total: number; rows: JournalRow[] } {
    this.flush();
    const matching = this.matching(filter);
    const rows = order === "desc" ? matching.slice(-limit).reverse() : matching.slice(0, limit);
    return { total: matching.length, rows };
  }

  count(filter: JournalFilter): number {
    this.flush();
    return this.matching(filter).length;
  }

  clear(workspace?: string): number {
    this.flush();
    const res = workspace === undefined ? this.db.prepare("DELETE FROM journal").run() : this.db.prepare("DELETE FROM journal WHERE workspace_id = ?").run(workspace);
    return res.changes;
  }

  private matching(f: JournalFilter): JournalRow[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (!f.includeControl) where.push("control = 0");
    if (f.method) (where.push("method = ?"), args.push(f.method.toUpperCase()));
    if (f.pathPrefix) (where.push("substr(path, 1, ?) = ?"), args.push(f.pathPrefix.length, f.pathPrefix));
    if (f.workspace) (where.push("workspace_id = ?"), args.push(f.workspace));
    if (f.since !== undefined) (where.push("at >= ?"), args.push(f.since));
    if (f.afterSeq !== undefined) (where.push("seq > ?"), args.push(f.afterSeq));
    if (f.fault !== undefined) where.push(f.fault ? "fault IS NOT NULL" : "fault IS NULL");
    if (f.status) {
      const cls = /^([1-5])xx$/i.exec(f.status);
      if (cls) (where.push("status >= ? AND status < ?"), args.push(Number(cls[1]) * 100, Number(cls[1]) * 100 + 100));
      else if (f.status === "dropped") where.push("status IS NULL");
      else (where.push("status = ?"), args.push(Number(f.status)));
    }
    const sql = `SELECT * FROM journal ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq`;
    const rows = this.db.prepare(sql).all(...args) as JournalRow[];
    return f.pathTest ? rows.filter((r) => f.pathTest!(r.path)) : rows;
  }
}

/** The query string as journaled: api_key's value masked, everything else kept. */
export function maskQuery(search: string): string {
  if (!search || search === "?") return "";
  const params = new URLSearchParams(search.startsWith("?") ? search.slice(1) : search);
  const out: string[] = [];
  for (const [k, v] of params) out.push(`${encodeURIComponent(k)}=${k === "api_key" ? "***" : encodeURIComponent(v)}`);
  return out.join("&");
}

const JOURNALED_HEADERS = ["user-agent", "content-type", "content-length", "accept", "range", "x-request-id", "idempotency-key", "transfer-encoding", "authorization"];

export function selectHeaders(get: (name: string) => string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of JOURNALED_HEADERS) {
    const v = get(name);
    if (v === undefined) continue;
    // Never store credentials; keep the scheme so a test can still see one was sent.
    out[name] = name === "authorization" ? `${v.split(" ")[0]} ***` : v;
  }
  return out;
}
