// Request matchers (WireMock's request patterns, on this emulator's journal): method, path,
// operation, workspace, status, query parameters, headers and body fields by JSON path, each value
// tested with equals / contains / matches (regex) / absent. A matcher is a list of parts, so a
// request can be scored by how many parts it satisfies and a failed verification can say which
// part failed for the closest requests.
import type { BodyMatchT, RequestMatcherT, ValueMatchT } from "../contract/controls-verify.js";
import { badRequest } from "../errors.js";
import { globToRegExp } from "./glob.js";

/** A request as matchers see it: from the journal (after the answer) or from the middleware (before it). */
export interface RequestView {
  method: string;
  path: string;
  operation?: string | null;
  workspace?: string | null;
  status?: number | null;
  query: URLSearchParams;
  /** Lower-case names. */
  header(name: string): string | undefined;
  /** The body as a value (parsed JSON; {parts} for multipart; the text for text), or why there is none. */
  body(): { value?: unknown; why?: string };
}

export interface PartResult {
  part: string;
  ok: boolean;
  actual?: unknown;
}

export interface CompiledMatcher {
  parts: number;
  test(r: RequestView): boolean;
  explain(r: RequestView): PartResult[];
}

interface Part {
  name: string;
  check(r: RequestView): { ok: boolean; actual?: unknown };
}

const regexOf = (source: string, field: string): RegExp => {
  try {
    return new RegExp(source);
  } catch (err) {
    throw badRequest(`${field} is not a valid regular expression: ${(err as Error).message}`, [
      { field, problem: "invalid regular expression", received: source },
    ]);
  }
};

/** A scalar as text (objects as JSON): what a string expectation is compared with. */
const textOf = (v: unknown): string =>
  typeof v === "string" ? v : v === null || typeof v !== "object" ? `${v as number | boolean | bigint | undefined}` : JSON.stringify(v);

/** Loose equality: a string expectation (as query strings carry) equals a number or boolean with the same text. */
function equalsLoose(actual: unknown, expected: unknown): boolean {
  if (typeof expected === "string" && (actual === null || (typeof actual !== "object" && actual !== undefined))) return textOf(actual) === expected;
  return deepEqual(actual, expected);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function describeValueMatch(v: ValueMatchT): string {
  if (v.absent) return "is absent";
  const bits: string[] = [];
  if (v.equals !== undefined) bits.push(`equals ${JSON.stringify(v.equals)}`);
  if (v.contains !== undefined) bits.push(`contains ${JSON.stringify(v.contains)}`);
  if (v.matches !== undefined) bits.push(`matches /${v.matches}/`);
  return bits.length ? bits.join(" and ") : "is present";
}

/** A predicate on one value (undefined = absent) from a value matcher. */
export function valueTest(v: ValueMatchT, field: string): (actual: unknown) => boolean {
  const re = v.matches === undefined ? undefined : regexOf(v.matches, field);
  return (actual) => {
    if (v.absent) return actual === undefined;
    if (actual === undefined) return false;
    if (v.equals !== undefined && !equalsLoose(actual, v.equals)) return false;
    if (v.contains !== undefined) {
      const want = v.contains;
      const ok =
        typeof actual === "string"
          ? actual.includes(textOf(want))
          : Array.isArray(actual)
            ? actual.some((x: unknown) => equalsLoose(x, want))
            : actual !== null && typeof actual === "object"
              ? textOf(want) in actual
              : false;
      if (!ok) return false;
    }
    if (re && !re.test(typeof actual === "string" ? actual : JSON.stringify(actual))) return false;
    return true;
  };
}

/** "a.b[0].c", "a.b.0.c", "" or "$" (the whole body) as path segments. */
export function jsonPathSegments(path: string): string[] {
  const p = path.trim().replace(/^\$\.?/, "");
  if (!p) return [];
  return p
    .replace(/\[(\d+)\]/g, ".$1")
    .split(".")
    .filter((s) => s.length > 0);
}

export function valueAt(root: unknown, segments: string[]): unknown {
  let cur: unknown = root;
  for (const s of segments) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[s];
  }
  return cur;
}

const asValueMatch = (v: string | ValueMatchT): ValueMatchT => (typeof v === "string" ? { equals: v } : v);

/** Compiles a matcher; invalid regular expressions and globs are a 400 naming the field. */
export function compileMatcher(m: RequestMatcherT): CompiledMatcher {
  const parts: Part[] = [];
  if (m.method !== undefined) {
    const methods = (Array.isArray(m.method) ? m.method : [m.method]).map((x) => x.toUpperCase());
    parts.push({ name: `method is ${methods.join(" or ")}`, check: (r) => ({ ok: methods.includes(r.method.toUpperCase()), actual: r.method }) });
  }
  if (m.path !== undefined) parts.push({ name: `path starts with ${m.path}`, check: (r) => ({ ok: r.path.startsWith(m.path!), actual: r.path }) });
  if (m.pathPattern !== undefined) {
    const re = globToRegExp(m.pathPattern);
    parts.push({ name: `path matches ${m.pathPattern}`, check: (r) => ({ ok: re.test(r.path), actual: r.path }) });
  }
  if (m.pathRegex !== undefined) {
    const re = regexOf(m.pathRegex, "pathRegex");
    parts.push({ name: `path matches /${m.pathRegex}/`, check: (r) => ({ ok: re.test(r.path), actual: r.path }) });
  }
  if (m.operation !== undefined)
    parts.push({ name: `operation is ${m.operation}`, check: (r) => ({ ok: r.operation === m.operation, actual: r.operation ?? null }) });
  if (m.workspace !== undefined)
    parts.push({ name: `workspace is ${m.workspace}`, check: (r) => ({ ok: r.workspace === m.workspace, actual: r.workspace ?? null }) });
  if (m.status !== undefined) {
    const want = String(m.status);
    const cls = /^([1-5])xx$/i.exec(want);
    parts.push({
      name: `status is ${want}`,
      check: (r) => ({
        ok: want === "dropped" ? r.status === null : cls ? r.status != null && Math.floor(r.status / 100) === Number(cls[1]) : String(r.status) === want,
        actual: r.status ?? null,
      }),
    });
  }
  for (const [name, raw] of Object.entries(m.query ?? {})) {
    const v = asValueMatch(raw);
    const test = valueTest(v, `query.${name}`);
    parts.push({
      name: `query ${name} ${describeValueMatch(v)}`,
      check: (r) => {
        const actual = r.query.get(name) ?? undefined;
        return { ok: test(actual), actual: actual ?? null };
      },
    });
  }
  for (const [rawName, raw] of Object.entries(m.headers ?? {})) {
    const name = rawName.toLowerCase();
    const v = asValueMatch(raw);
    const test = valueTest(v, `headers.${rawName}`);
    parts.push({
      name: `header ${name} ${describeValueMatch(v)}`,
      check: (r) => {
        const actual = r.header(name);
        return { ok: test(actual), actual: actual ?? null };
      },
    });
  }
  (m.body ?? []).forEach((b: BodyMatchT, i: number) => {
    const segments = jsonPathSegments(b.path);
    const test = valueTest(b, `body.${i}.matches`);
    parts.push({
      name: `body ${b.path || "$"} ${describeValueMatch(b)}`,
      check: (r) => {
        const body = r.body();
        if (body.why !== undefined && body.value === undefined) return { ok: b.absent === true && body.why === "no body", actual: `(${body.why})` };
        const actual = valueAt(body.value, segments);
        return { ok: test(actual), actual: actual === undefined ? "(absent)" : actual };
      },
    });
  });
  return {
    parts: parts.length,
    test: (r) => parts.every((p) => p.check(r).ok),
    explain: (r) => parts.map((p) => ({ part: p.name, ...p.check(r) })),
  };
}

/** The GET form of one body, query and header matcher each (bodyPath + bodyEquals / bodyContains / bodyRegex ...) as a matcher. */
export function matcherFromQuery(q: Record<string, string | undefined>): RequestMatcherT {
  const m: RequestMatcherT = {};
  const vm = (prefix: string): ValueMatchT => ({
    ...(q[`${prefix}Equals`] !== undefined ? { equals: q[`${prefix}Equals`] } : {}),
    ...(q[`${prefix}Contains`] !== undefined ? { contains: q[`${prefix}Contains`] } : {}),
    ...(q[`${prefix}Regex`] !== undefined ? { matches: q[`${prefix}Regex`] } : {}),
    ...(q[`${prefix}Absent`] === "true" ? { absent: true } : {}),
  });
  if (q.bodyPath !== undefined) m.body = [{ path: q.bodyPath, ...vm("body") }];
  if (q.queryParam !== undefined) m.query = { [q.queryParam]: vm("query") };
  if (q.header !== undefined) m.headers = { [q.header]: vm("header") };
  if (q.operation !== undefined) m.operation = q.operation;
  return m;
}
