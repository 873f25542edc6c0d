// The request journal as the control API shows it: filters from the (already coerced) query or a
// matcher body, entries in their published shape, the journal's settings, and verification (an
// expected number of matching requests, or the closest requests and the matcher parts they failed).
import { iso } from "../clock.js";
import type { JournalQueryT, JournalSettingsT } from "../contract/controls.js";
import type { JournalSearchBodyT, RequestMatcherT, VerifyBodyT } from "../contract/controls-verify.js";
import { ApiError, badRequest } from "../errors.js";
import type { Journal, JournalFilter, JournalRow } from "../state/journal.js";
import { pathPredicate } from "./glob.js";
import type { BodySummary } from "./journal-capture.js";
import { compileMatcher, matcherFromQuery, type CompiledMatcher, type RequestView } from "./matchers.js";

const parseJson = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));

function journalFilter(q: JournalQueryT): JournalFilter {
  const matcher = matcherFromQuery(q as unknown as Record<string, string | undefined>);
  const compiled = Object.keys(matcher).length ? compileMatcher(matcher) : undefined;
  return {
    method: q.method,
    pathPrefix: q.path,
    pathTest: pathPredicate(q.pathPattern, q.pathRegex, ["pathPattern", "pathRegex"]),
    rowTest: compiled ? (r) => compiled.test(rowView(r)) : undefined,
    operation: q.operation,
    workspace: q.workspace,
    status: q.status,
    since: q.since,
    afterSeq: q.after,
    beforeSeq: q.before,
    fault: q.fault === undefined ? undefined : q.fault === "true",
    includeControl: q.includeControl === "true",
  };
}

function sinceMs(since: string | number | undefined): number | undefined {
  if (since === undefined) return undefined;
  const ms = typeof since === "number" || /^\d+$/.test(since) ? Number(since) : Date.parse(since);
  if (!Number.isFinite(ms)) throw badRequest("since must be an ISO time or epoch ms", [{ field: "since", problem: "not a time", received: since }]);
  return ms;
}

/** A matcher body as a journal filter: the parts SQL can do go to SQL, every part is tested on the rows. */
function matcherFilter(
  m: RequestMatcherT | undefined,
  paging: { since?: string | number; after?: number; before?: number; includeControl?: boolean },
): { filter: JournalFilter; compiled: CompiledMatcher } {
  const compiled = compileMatcher(m ?? {});
  const singleMethod = typeof m?.method === "string" ? m.method : undefined;
  return {
    compiled,
    filter: {
      method: singleMethod,
      pathPrefix: m?.path,
      operation: m?.operation,
      workspace: m?.workspace,
      rowTest: compiled.parts ? (r) => compiled.test(rowView(r)) : undefined,
      since: sinceMs(paging.since),
      afterSeq: paging.after,
      beforeSeq: paging.before,
      includeControl: paging.includeControl,
    },
  };
}

/** A journal row as matchers see it. */
export function rowView(r: JournalRow): RequestView {
  let headers: Record<string, string> | undefined;
  let body: { value?: unknown; why?: string } | undefined;
  return {
    method: r.method,
    path: r.path,
    operation: r.operation,
    workspace: r.workspace_id,
    status: r.status,
    query: new URLSearchParams(r.query),
    header: (name) => (headers ??= JSON.parse(r.headers) as Record<string, string>)[name],
    body: () => (body ??= bodyValue(parseJson<BodySummary>(r.request_body))),
  };
}

function bodyValue(s: BodySummary | null): { value?: unknown; why?: string } {
  if (!s) return { why: "no body" };
  if (s.kind === "multipart") return { value: { parts: s.parts } };
  if (s.kind === "binary") return { why: `binary body (${s.size} bytes)` };
  if (s.truncated) return { why: `body larger than the journal keeps (${s.size} bytes; raise bodyBytes in PUT /_emulator/journal/settings)` };
  if (s.kind === "text") return { value: s.text };
  try {
    return { value: JSON.parse(s.text) };
  } catch {
    return { why: "body is not valid JSON" };
  }
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
    fault: parseJson<{ ruleId: string; type: string }>(r.fault),
    operation: r.operation ?? null,
    requestBody: parseJson<BodySummary>(r.request_body),
    responseHeaders: parseJson<Record<string, string>>(r.response_headers),
    responseBody: parseJson<BodySummary>(r.response_body),
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

/** POST /_emulator/journal/query: the same page, selected by a matcher body. */
export function journalSearch(journal: Journal, b: JournalSearchBodyT) {
  const { filter } = matcherFilter(b.match, b);
  const { total, rows, truncated } = journal.query(filter, b.limit ?? 1000, b.order ?? "asc");
  return { count: total, truncated, entries: rows.map(presentJournal) };
}

export function updateJournalSettings(journal: Journal, s: JournalSettingsT) {
  if (s.includeControls !== undefined) journal.includeControls = s.includeControls;
  if (s.limit !== undefined) journal.limit = s.limit;
  if (s.bodyBytes !== undefined) journal.bodyBytes = s.bodyBytes;
  return { includeControls: journal.includeControls, limit: journal.limit, bodyBytes: journal.bodyBytes };
}

// ---- verify -------------------------------------------------------------------------------------

/** Rows looked at for near misses (the journal keeps 10,000 by default). */
const NEAR_MISS_SCAN = 20_000;

function expectationOf(b: VerifyBodyT): { count?: number; atLeast?: number; atMost?: number } {
  if (b.count !== undefined) return { count: b.count };
  if (b.atLeast === undefined && b.atMost === undefined) return { atLeast: 1 };
  return { ...(b.atLeast !== undefined ? { atLeast: b.atLeast } : {}), ...(b.atMost !== undefined ? { atMost: b.atMost } : {}) };
}

function describeExpectation(e: { count?: number; atLeast?: number; atMost?: number }): string {
  if (e.count !== undefined) return `exactly ${e.count}`;
  if (e.atLeast !== undefined && e.atMost !== undefined) return `between ${e.atLeast} and ${e.atMost}`;
  return e.atLeast !== undefined ? `at least ${e.atLeast}` : `at most ${e.atMost}`;
}

const holds = (n: number, e: { count?: number; atLeast?: number; atMost?: number }) =>
  (e.count === undefined || n === e.count) && (e.atLeast === undefined || n >= e.atLeast) && (e.atMost === undefined || n <= e.atMost);

/**
 * POST /_emulator/journal/verify: the number of matching requests against the expectation. When it
 * does not hold, a 422 whose `verification.closest` lists the requests satisfying the most matcher
 * parts (newest first among equals) with the parts each one failed.
 */
export function verifyJournal(journal: Journal, b: VerifyBodyT) {
  const expected = expectationOf(b);
  const { filter, compiled } = matcherFilter(b.match, b);
  const page = journal.query(filter, 50, "asc");
  const matched = page.total;
  const description = `${describeExpectation(expected)} request(s) matching: ${
    compiled
      .explain(emptyView)
      .map((p) => p.part)
      .join(", ") || "(anything)"
  }`;
  if (holds(matched, expected)) return { matched, expected, description };
  const closest = nearMisses(journal, b, compiled, b.closest ?? 3);
  const lines = closest.map(
    (n) =>
      `  #${n.seq} ${n.method} ${n.path} → ${n.status ?? "dropped"} (${n.satisfied}/${n.of}): ${n.failed.map((f) => `${f.part}, but got ${JSON.stringify(f.actual)}`).join("; ")}`,
  );
  const message =
    `Verification failed: expected ${description}; found ${matched}.` +
    (lines.length ? `\nClosest requests:\n${lines.join("\n")}` : matched ? "" : " The journal holds no request close to it.");
  const err = new ApiError(
    422,
    "verification-failed",
    message,
    undefined,
    "GET /_emulator/journal lists every request with its body; loosen the matcher or fix the code under test.",
  );
  return {
    failure: {
      ...err.body(),
      verification: { matched, expected, description, closest, matchingSeqs: matched > 0 && !holds(matched, expected) ? page.rows.map((r) => r.seq) : [] },
    },
  };
}

const isPresent = (actual: unknown) => actual !== null && actual !== undefined && !(typeof actual === "string" && /^\(.*\)$/.test(actual));

const emptyView: RequestView = { method: "", path: "", query: new URLSearchParams(), header: () => undefined, body: () => ({ why: "no body" }) };

function nearMisses(journal: Journal, b: VerifyBodyT, compiled: CompiledMatcher, n: number) {
  if (n === 0 || compiled.parts === 0) return [];
  const scan = journal.query({ since: sinceMs(b.since), afterSeq: b.after, beforeSeq: b.before, includeControl: b.includeControl }, NEAR_MISS_SCAN, "desc");
  const scored = scan.rows
    .map((r) => ({ r, parts: compiled.explain(rowView(r)) }))
    .map(({ r, parts }) => ({ r, parts, satisfied: parts.filter((p) => p.ok).length, near: parts.filter((p) => !p.ok && isPresent(p.actual)).length }))
    .filter((x) => x.satisfied < x.parts.length)
    // Most parts satisfied; then most failed parts that at least had a value (a wrong value is closer than none); then newest.
    .sort((a, c) => c.satisfied - a.satisfied || c.near - a.near || c.r.seq - a.r.seq)
    .slice(0, n);
  return scored.map(({ r, parts, satisfied }) => ({
    seq: r.seq,
    at: iso(r.at),
    method: r.method,
    path: r.path,
    operation: r.operation ?? null,
    status: r.status,
    satisfied,
    of: parts.length,
    failed: parts.filter((p) => !p.ok).map((p) => ({ part: p.part, actual: p.actual })),
  }));
}
