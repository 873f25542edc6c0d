// The URL map (--url-map / EMULATOR_URL_MAP): reference URLs under a mapped prefix are served from a
// local folder (file://) or another server the user names (usually loopback), so tests keep realistic
// https://storage.example.com/... URLs and the emulator never reaches a host nobody mapped. Parsing and
// resolution are pure; opening what a URL resolves to is src/staging/ingest/sources.ts's job.
import path from "node:path";
import { fileURLToPath } from "node:url";

/** One mapping as configured: reference URLs starting with `from` are looked up under `to`. Both end with "/". */
export interface UrlMapping {
  from: string;
  to: string;
}

export type Resolution =
  | { kind: "http"; url: URL; mappedFrom?: string }
  | { kind: "file"; root: string; file: string; mappedFrom: string }
  | { kind: "refused"; reason: string }
  | { kind: "unmapped"; origin: string };

const EXAMPLE = "--url-map https://storage.example.com/=file:///path/to/folder/ (or =http://127.0.0.1:8080/)";

const withSlash = (u: URL) => (u.pathname.endsWith("/") ? u : new URL(`${u.pathname}/`, u));

/** Parses "from=to[,from=to...]"; `fail` builds the error thrown for a bad entry (the config's own error type). */
export function parseUrlMap(raw: string | undefined, fail: (message: string) => Error): UrlMapping[] {
  if (!raw?.trim()) return [];
  return raw
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => parseMapping(entry, fail));
}

function parseMapping(entry: string, fail: (message: string) => Error): UrlMapping {
  const eq = entry.indexOf("=");
  const bad = (why: string) => fail(`--url-map "${entry}": ${why}; a mapping looks like ${EXAMPLE}`);
  if (eq < 0) throw bad('no "=" between the URL prefix and its target');
  const fromRaw = entry.slice(0, eq).trim();
  const toRaw = entry.slice(eq + 1).trim();
  if (!URL.canParse(fromRaw)) throw bad(`"${fromRaw}" is not a URL`);
  const from = new URL(fromRaw);
  if (from.protocol !== "http:" && from.protocol !== "https:") throw bad(`only http:// and https:// URLs can be mapped, not ${from.protocol}//`);
  if (from.search || from.hash || from.username || from.password) throw bad("the URL prefix must have no query, fragment or credentials");
  if (!URL.canParse(toRaw)) throw bad(`"${toRaw}" is not a URL`);
  const to = new URL(toRaw);
  if (to.protocol === "file:") {
    if (to.host) throw bad(`file URLs must be absolute, with three slashes (file:///abs/folder/), not "${toRaw}"`);
  } else if (to.protocol !== "http:" && to.protocol !== "https:") {
    throw bad(`the target must be a file:// folder or an http(s):// server, not ${to.protocol}//`);
  } else if (to.search || to.hash) {
    throw bad("the target must have no query or fragment");
  }
  return { from: withSlash(from).href, to: withSlash(to).href };
}

/** The mapping with the longest `from` that `u` falls under. */
function mappingOf(u: URL, map: readonly UrlMapping[]): UrlMapping | undefined {
  let best: UrlMapping | undefined;
  for (const m of map) {
    const from = new URL(m.from);
    if (from.origin !== u.origin || !u.pathname.startsWith(from.pathname)) continue;
    if (!best || m.from.length > best.from.length) best = m;
  }
  return best;
}

/** The file a mapped path names, or why it is refused: every segment is decoded and must stay a plain name. */
function fileUnder(root: string, rest: string): { file: string } | { reason: string } {
  const segments: string[] = [];
  for (const raw of rest.split("/")) {
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      return { reason: "the path has a malformed %-escape" };
    }
    if (seg === "" || seg === ".") continue;
    // An encoded "..", "/" or "\" would climb out of the mapped folder once decoded.
    if (seg === ".." || /[/\\\0]/.test(seg)) return { reason: "the path escapes the mapped folder (it reaches outside the mapped folder)" };
    segments.push(seg);
  }
  const file = path.resolve(root, ...segments);
  if (file !== root && !file.startsWith(root + path.sep)) return { reason: "the path escapes the mapped folder (it reaches outside the mapped folder)" };
  return { file };
}

/** Where a reference URL is served from: a mapped folder or server, a loopback URL as it is, or nowhere (unmapped). */
export function resolveUrl(raw: string, map: readonly UrlMapping[], isDirect: (u: URL) => boolean): Resolution | { kind: "invalid" } {
  if (!URL.canParse(raw)) return { kind: "invalid" };
  const u = new URL(raw);
  const m = mappingOf(u, map);
  if (m) {
    const rest = u.pathname.slice(new URL(m.from).pathname.length);
    const to = new URL(m.to);
    if (to.protocol === "file:") {
      const root = path.resolve(fileURLToPath(to));
      const f = fileUnder(root, rest);
      return "reason" in f
        ? { kind: "refused", reason: `${raw.slice(0, 300)} is mapped to ${m.to}, but ${f.reason}` }
        : { kind: "file", root, file: f.file, mappedFrom: m.from };
    }
    return { kind: "http", url: new URL(`${to.pathname}${rest}${u.search}`, to), mappedFrom: m.from };
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return { kind: "refused", reason: `only http(s) URLs are fetched, not ${u.protocol}//` };
  if (isDirect(u)) return { kind: "http", url: u };
  return { kind: "unmapped", origin: u.origin };
}

/** The per-file reason for a host nobody mapped: what to pass to map it. */
export function unmappedReason(origin: string): string {
  return `${origin} is not mapped; map it with --url-map ${origin}/=file:///your/folder/ (or =http://127.0.0.1:<port>/ for a local server)`;
}
