// The request journal as the control API shows it: filters from the (already coerced) query,
// entries in their published shape, and the journal's settings.
import { iso } from "../clock.js";
import type { JournalQueryT, JournalSettingsT } from "../contract/controls.js";
import type { Journal, JournalFilter, JournalRow } from "../state/journal.js";
import { pathPredicate } from "./glob.js";

function journalFilter(q: JournalQueryT): JournalFilter {
  return {
    method: q.method,
    pathPrefix: q.path,
    pathTest: pathPredicate(q.pathPattern, q.pathRegex, ["pathPattern", "pathRegex"]),
    workspace: q.workspace,
    status: q.status,
    since: q.since,
    afterSeq: q.after,
    beforeSeq: q.before,
    fault: q.fault === undefined ? undefined : q.fault === "true",
    includeControl: q.includeControl === "true",
  };
}

function presentJournal(r: JournalRow) {
  return {
    seq: r.seq,
    at: iso(r.at),
    method: r.method,
    path: r.path,
    query: r.query,
    headers: JSON.parse(r.headers) as Record<string, string>,
    status: r.status,
    latencyMs: r.latency_ms,
    workspace: r.workspace_id,
    fault: r.fault ? (JSON.parse(r.fault) as { ruleId: string; type: string }) : null,
  };
}

/** Matching entries (at most `q.limit`, and no more than the page's byte cap) and how many match in all. */
export function journalPage(journal: Journal, q: JournalQueryT) {
  const { total, rows, truncated } = journal.query(journalFilter(q), q.limit, q.order ?? "asc");
  return { count: total, truncated, entries: rows.map(presentJournal) };
}

export function journalCount(journal: Journal, q: JournalQueryT): number {
  return journal.count(journalFilter(q));
}

export function updateJournalSettings(journal: Journal, s: JournalSettingsT) {
  if (s.includeControls !== undefined) journal.includeControls = s.includeControls;
  if (s.limit !== undefined) journal.limit = s.limit;
  return { includeControls: journal.includeControls, limit: journal.limit };
}
