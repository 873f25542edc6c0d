// The request journal: every request the emulator received, newest kept, oldest pruned. Writes
// are buffered and flushed in one transaction (per tick, or before any read), so journaling costs
// the emulated API one array push per request instead of one fsync. Reads go through the table in
// keyset chunks and stop at a byte cap, so a journal of large entries is never loaded whole.
// Entries carry bounded body summaries (built in src/controls/journal-capture.ts), stored as JSON.
import { advisoryWrite, type Db } from "./db.js";

export const DEFAULT_JOURNAL_LIMIT = 10_000;
/** Bytes of each JSON or text body an entry keeps (PUT /_emulator/journal/settings {bodyBytes}). */
export const DEFAULT_JOURNAL_BODY_BYTES = 16 * 1024;
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
  /** "METHOD /published/path/{param}" of the route that answered, null for an unknown route. */
  operation?: string | null;
  /** Summaries (JSON-serialisable), null when there was no body. */
  requestBody?: unknown;
  responseHeaders?: Record<string, string> | null;
  responseBody?: unknown;
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
  operation: string | null;
  request_body: string | null;
  response_headers: string | null;
  response_body: string | null;
}

export interface JournalFilter {
  method?: string;
  /** Plain prefix of the path. */
  pathPrefix?: string;
  /** Predicate on the path (glob or regex, compiled by the caller). */
  pathTest?: (path: string) => boolean;
  /** Predicate on the whole row (query, header and body matchers, compiled by the caller). */
  rowTest?: (row: JournalRow) => boolean;
  /** Exact operation ("GET /data-staging/v1/external/{workspace}/batches"). */
  operation?: string;
  workspace?: string;
  /** Exact status, or a class like "4xx". */
  status?: string;
  /** Emulator-clock ms: entries at or after. */
  since?: number;
  /** Entries with seq greater than this. */
  afterSeq?: number;
  /** Entries with seq less than this. */
  beforeSeq?: number;
  /** true: only requests that got an injected fault; false: only those that did not. */
  fault?: boolean;
  includeControl?: boolean;
}

/** Rows read per statement while paging through the journal (keyset on seq). */
const CHUNK_ROWS = 500;
/** Rows kept in memory while the store refuses writes (oldest dropped beyond this). */
const MAX_BUFFERED = 5_000;
/** Retry of a flush that failed (the store was full or locked). */
const RETRY_AFTER_MS = 1_000;
/** Bytes of entry text one page may carry: 10k entries of 10 kB each must not become one 100 MB answer. */
export const JOURNAL_PAGE_BYTES = 8 * 1024 * 1024;

export interface JournalPageRows {
  /** Matching entries in all, whatever the page holds. */
  total: number;
  rows: JournalRow[];
  /** The page stopped at the byte cap before `limit` entries: go on with after (asc) or before (desc) = the last seq. */
  truncated: boolean;
}

export class Journal {
  private buffer: JournalEntryIn[] = [];
  private timer: NodeJS.Timeout | null = null;
  private sincePrune = 0;
  /** The last flush failed: logged once, retried on a timer, no flush per request until it works again. */
  private failing = false;
  limit = DEFAULT_JOURNAL_LIMIT;
  bodyBytes = DEFAULT_JOURNAL_BODY_BYTES;
  /** Journal calls to /_emulator too (off by default so a test's own control calls do not count). */
  includeControls = false;

  constructor(private readonly db: Db) {}

  record(entry: JournalEntryIn): void {
    this.buffer.push(entry);
    // Bounded while writes fail: the oldest rows go first.
    if (this.buffer.length > MAX_BUFFERED) this.buffer.splice(0, this.buffer.length - MAX_BUFFERED);
    if (this.buffer.length >= FLUSH_AT_ROWS && !this.failing) this.flush();
    else this.arm(FLUSH_AFTER_MS);
  }

  /** Writes the buffered rows. Never throws: on a write error (a full disk) the rows stay buffered for the next try. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.buffer.length || !this.db.open) return;
    const rows = this.buffer;
    this.buffer = [];
    try {
      this.write(rows);
      if (this.failing) console.error(`[journal] writes work again; ${rows.length} kept entries written`);
      this.failing = false;
    } catch (err) {
      this.buffer = rows.concat(this.buffer).slice(-MAX_BUFFERED);
      if (!this.failing)
        console.error(
          `[journal] cannot write request entries (kept in memory, at most ${MAX_BUFFERED}, retried every ${RETRY_AFTER_MS} ms):`,
          (err as Error)?.message ?? err,
        );
      this.failing = true;
      this.arm(RETRY_AFTER_MS);
    }
  }

  private arm(ms: number): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), ms);
    this.timer.unref();
  }

  private write(rows: JournalEntryIn[]): void {
    const insert = this.db.prepare(
      `INSERT INTO journal (at, method, path, query, headers, status, latency_ms, workspace_id, fault, control, operation, request_body, response_headers, response_body)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    // The journal is diagnostic: it does not need an fsync per flush.
    advisoryWrite(this.db, () => {
      for (const e of rows) {
        insert.run(
          e.at,
          e.method,
          e.path,
          e.query,
          JSON.stringify(e.headers),
          e.status,
          e.latencyMs,
          e.workspace,
          e.fault ? JSON.stringify(e.fault) : null,
          e.control ? 1 : 0,
          e.operation ?? null,
          jsonOrNull(e.requestBody),
          jsonOrNull(e.responseHeaders),
          jsonOrNull(e.responseBody),
        );
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
    this.failing = false;
  }

  /**
   * One page of matching entries, read in keyset chunks so memory follows the page, not the table:
   * at most `limit` entries and about `maxBytes` of entry text (always at least one entry).
   */
  query(filter: JournalFilter, limit: number, order: "asc" | "desc", maxBytes = JOURNAL_PAGE_BYTES): JournalPageRows {
    this.flush();
    const rows: JournalRow[] = [];
    let bytes = 0;
    let truncated = false;
    for (const chunk of this.chunks(filter, order, "*")) {
      for (const r of chunk) {
        const size = entryBytes(r);
        if (rows.length > 0 && bytes + size > maxBytes) {
          truncated = true;
          break;
        }
        rows.push(r);
        bytes += size;
        if (rows.length >= limit) break;
      }
      if (truncated || rows.length >= limit) break;
    }
    return { total: this.count(filter), rows, truncated };
  }

  count(filter: JournalFilter): number {
    this.flush();
    if (!filter.pathTest && !filter.rowTest) {
      const [where, args] = whereOf(filter);
      return (this.db.prepare(`SELECT COUNT(*) AS n FROM journal ${where}`).get(...args) as { n: number }).n;
    }
    let n = 0;
    for (const chunk of this.chunks(filter, "asc", filter.rowTest ? "*" : "seq, path")) n += chunk.length;
    return n;
  }

  clear(workspace?: string): number {
    this.flush();
    const res =
      workspace === undefined ? this.db.prepare("DELETE FROM journal").run() : this.db.prepare("DELETE FROM journal WHERE workspace_id = ?").run(workspace);
    return res.changes;
  }

  /** Matching rows, CHUNK_ROWS at a time in seq order (keyset: each chunk starts after the last seq seen). */
  private *chunks(f: JournalFilter, order: "asc" | "desc", columns: string): Generator<JournalRow[]> {
    const desc = order === "desc";
    let cursor: number | null = null;
    for (;;) {
      // Every row read lies inside the filter's own after/before bounds, so the cursor narrows them.
      const keyset: JournalFilter = cursor === null ? f : { ...f, [desc ? "beforeSeq" : "afterSeq"]: cursor };
      const [where, args] = whereOf(keyset);
      const page = this.db
        .prepare(`SELECT ${columns} FROM journal ${where} ORDER BY seq ${desc ? "DESC" : "ASC"} LIMIT ?`)
        .all(...args, CHUNK_ROWS) as JournalRow[];
      if (!page.length) return;
      cursor = page[page.length - 1].seq;
      yield f.pathTest || f.rowTest ? page.filter((r) => (!f.pathTest || f.pathTest(r.path)) && (!f.rowTest || f.rowTest(r))) : page;
      if (page.length < CHUNK_ROWS) return;
    }
  }
}

/** The SQL filter (everything but pathTest and rowTest, which are applied to the rows read). */
function whereOf(f: JournalFilter): [string, unknown[]] {
  const where: string[] = [];
  const args: unknown[] = [];
  const add = (sql: string, ...values: unknown[]) => {
    where.push(sql);
    args.push(...values);
  };
  if (!f.includeControl) add("control = 0");
  if (f.method) add("method = ?", f.method.toUpperCase());
  if (f.pathPrefix) add("substr(path, 1, ?) = ?", f.pathPrefix.length, f.pathPrefix);
  if (f.workspace) add("workspace_id = ?", f.workspace);
  if (f.operation) add("operation = ?", f.operation);
  if (f.since !== undefined) add("at >= ?", f.since);
  if (f.afterSeq !== undefined) add("seq > ?", f.afterSeq);
  if (f.beforeSeq !== undefined) add("seq < ?", f.beforeSeq);
  if (f.fault !== undefined) add(f.fault ? "fault IS NOT NULL" : "fault IS NULL");
  if (f.status) {
    const cls = /^([1-5])xx$/i.exec(f.status);
    if (cls) add("status >= ? AND status < ?", Number(cls[1]) * 100, Number(cls[1]) * 100 + 100);
    else if (f.status === "dropped") add("status IS NULL");
    else add("status = ?", Number(f.status));
  }
  return [where.length ? `WHERE ${where.join(" AND ")}` : "", args];
}

/** Roughly what an entry weighs in the answer: its text fields plus the fixed part. */
function entryBytes(r: JournalRow): number {
  const extra = (r.request_body?.length ?? 0) + (r.response_headers?.length ?? 0) + (r.response_body?.length ?? 0) + (r.operation?.length ?? 0);
  return 200 + r.path.length + r.query.length + r.headers.length + (r.fault?.length ?? 0) + (r.workspace_id?.length ?? 0) + extra;
}

const jsonOrNull = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));

/** The query string as journaled: api_key's value masked, everything else kept. */
export function maskQuery(search: string): string {
  if (!search || search === "?") return "";
  const params = new URLSearchParams(search.startsWith("?") ? search.slice(1) : search);
  const out: string[] = [];
  for (const [k, v] of params) out.push(`${encodeURIComponent(k)}=${k === "api_key" ? "***" : encodeURIComponent(v)}`);
  return out.join("&");
}

/** Headers whose values are credentials: kept with their scheme only (a test can still see one was sent). */
const SECRET_HEADERS = new Set(["authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key"]);

/** Every header of a request or response, credentials masked. */
export function maskHeaders(headers: Iterable<[string, string]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of headers) {
    const name = k.toLowerCase();
    out[name] = SECRET_HEADERS.has(name) ? (/\s/.test(v.trim()) ? `${v.trim().split(/\s+/)[0]} ***` : "***") : v;
  }
  return out;
}
