// Turns a concrete JSON value into its shape: volatile values (ids, times, URLs, tokens, numbers, prose)
// become a token naming their type and format, stable values (enums, booleans, null, ids the scenario
// chose) stay literal, object keys are sorted and arrays collapse to one merged item plus a length class.
// Two runs of a scenario against the same service give the same shape; a renamed field, a changed type
// or a new enum value does not.

/** `"<int>"`-style tokens, literal strings, booleans, null, objects, arrays and unions. */
export type Shape = string | boolean | null | ShapeObject | ArrayShape | UnionShape;
export interface ShapeObject {
  [key: string]: Shape;
}
export interface ArrayShape {
  "<array>": Shape;
  "<length>": string;
}
export interface UnionShape {
  "<one-of>": Shape[];
}

export const ABSENT = "<absent>";

export interface NormalizeContext {
  /** Literal substrings to replace (the run tag, the workspace, the workflow id) before a string is kept. */
  subst: [from: string, to: string][];
  /** Path globs (`body.jobs[].jobDefinition`, `*` = one segment) whose subtree collapses to its JSON type. */
  opaque?: string[];
  /** Path globs whose value is recorded as `<any>` (compared with nothing). */
  ignore?: string[];
  /** Path globs under which literal strings and booleans become their type (values that depend on the environment). */
  loose?: string[];
}

const TEXT_KEYS = new Set(["message", "hint", "reason", "description", "problem", "detail", "details", "error_details"]);
const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const lengthClass = (n: number): string => (n === 0 ? "0" : n === 1 ? "1" : n < 10 ? "2-9" : "10+");

export function isToken(s: Shape): s is string {
  return typeof s === "string" && s.startsWith("<") && s.endsWith(">");
}

/** Words with an optional short number, like `simple-image-processing-v1` or `processing-00000`: an enum or a name, not a token. */
const isWordy = (s: string) => s.split(/[-_.]/).every((seg) => /^([a-z]+\d{0,3}|\d{1,6})$/i.test(seg));

/** The format token of a string, or the string itself (after substitutions) when it is a stable value. */
export function classifyString(s: string, key: string, ctx: NormalizeContext): string {
  if (s === "") return "<string:empty>";
  if (TEXT_KEYS.has(key)) return "<string:text>";
  if (/token$/i.test(key)) return "<string:token>";
  if (ISO_DATETIME.test(s))
    return s.includes("T") || s.includes(" ") ? (/(Z|[+-]\d{2}:?\d{2})$/.test(s) ? "<iso-datetime>" : "<iso-datetime:naive>") : "<iso-date>";
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) return "<iso-date>";
  const url = /^(https?|wss?|gs|s3):\/\//i.exec(s);
  if (url) return `<url:${url[1].toLowerCase()}>`;
  if (UUID.test(s)) return "<uuid>";
  if (/\s/.test(s)) return "<string:text>";
  let replaced = s;
  for (const [from, to] of ctx.subst) if (from) replaced = replaced.split(from).join(to);
  if (replaced !== s) return replaced;
  if (/^[0-9a-f]{8,}$/i.test(s) && /\d/.test(s)) return `<string:${s.length}-hex>`;
  if (/^\d+$/.test(s)) return "<string:digits>";
  if (s.length >= 16 && /^[A-Za-z0-9_\-.=~+/:]+$/.test(s) && /\d/.test(s) && /[A-Za-z]/.test(s) && !isWordy(s)) return "<string:token>";
  return s;
}

/** `a.b[].c` matched against a glob where `*` is one segment and `**` any number. */
export function pathMatches(path: string, glob: string): boolean {
  const esc = glob
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*\*/g, "\u0000")
    .replace(/\*/g, "[^.]*")
    .replace(/\u0000/g, ".*");
  return new RegExp(`^${esc}$`).test(path);
}

const underAny = (path: string, globs: string[] | undefined) =>
  !!globs?.some((g) => pathMatches(path, g) || pathMatches(path, `${g}.**`) || pathMatches(path, `${g}[]**`));

function jsonType(v: unknown): string {
  if (v === null) return "<null>";
  if (Array.isArray(v)) return "<array>";
  if (typeof v === "number") return Number.isInteger(v) ? "<int>" : "<number>";
  return `<${typeof v}>`;
}

export function normalize(value: unknown, ctx: NormalizeContext, path = "body", key = ""): Shape {
  if (underAny(path, ctx.ignore)) return "<any>";
  if (underAny(path, ctx.opaque)) return jsonType(value);
  const loose = underAny(path, ctx.loose);
  if (value === null || value === undefined) return null;
  if (typeof value === "boolean") return loose ? "<boolean>" : value;
  if (typeof value === "number") return Number.isInteger(value) ? "<int>" : "<number>";
  if (typeof value === "string") {
    const c = classifyString(value, key, ctx);
    // Loose: only formats a client parses (times, URLs, uuids, "") are kept; names, ids and prose are just strings.
    return loose && (!isToken(c) || c.startsWith("<string:")) && c !== "<string:empty>" ? "<string>" : c;
  }
  if (Array.isArray(value)) {
    const items = value.map((v) => normalize(v, ctx, `${path}[]`, key));
    const length = underAny(`${path}.length`, ctx.ignore) ? "<any>" : lengthClass(items.length);
    return { "<array>": items.length ? items.reduce(merge) : "<nothing>", "<length>": length };
  }
  if (typeof value === "object") {
    const out: ShapeObject = {};
    for (const k of Object.keys(value).sort()) out[k] = normalize((value as Record<string, unknown>)[k], ctx, `${path}.${k}`, k);
    return out;
  }
  return jsonType(value);
}

export const isArrayShape = (s: Shape): s is ArrayShape => !!s && typeof s === "object" && "<array>" in s;
export const isUnion = (s: Shape): s is UnionShape => !!s && typeof s === "object" && "<one-of>" in s;
export const isPlainObject = (s: Shape): s is ShapeObject => !!s && typeof s === "object" && !isArrayShape(s) && !isUnion(s);

/** Canonical text of a shape (keys are already sorted by normalize and merge). */
export const canon = (s: Shape): string => JSON.stringify(s);

const alternatives = (s: Shape): Shape[] => (isUnion(s) ? s["<one-of>"] : [s]);

function union(shapes: Shape[]): Shape {
  const seen = new Map<string, Shape>();
  for (const s of shapes.flatMap(alternatives)) seen.set(canon(s), s);
  const list = [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, s]) => s);
  return list.length === 1 ? list[0] : { "<one-of>": list };
}

/** One shape covering both: objects merge key by key (a key missing on one side is `<absent>` there). */
export function merge(a: Shape, b: Shape): Shape {
  if (canon(a) === canon(b)) return a;
  if (isPlainObject(a) && isPlainObject(b)) {
    const out: ShapeObject = {};
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) out[k] = merge(k in a ? a[k] : ABSENT, k in b ? b[k] : ABSENT);
    return out;
  }
  if (isArrayShape(a) && isArrayShape(b)) {
    const item = a["<array>"] === "<nothing>" ? b["<array>"] : b["<array>"] === "<nothing>" ? a["<array>"] : merge(a["<array>"], b["<array>"]);
    const lengths = [...new Set([...a["<length>"].split("|"), ...b["<length>"].split("|")])].sort();
    return { "<array>": item, "<length>": lengths.join("|") };
  }
  return union([a, b]);
}

/** A short readable description of a shape for diff lines. */
export function describe(s: Shape, depth = 0): string {
  if (s === null) return "null";
  if (typeof s === "boolean") return String(s);
  if (typeof s === "string") return isToken(s) ? s : JSON.stringify(s);
  if (isUnion(s)) return `one of (${s["<one-of>"].map((x) => describe(x, depth + 1)).join(" | ")})`;
  if (isArrayShape(s)) return `array[${s["<length>"]}] of ${depth > 1 ? "…" : describe(s["<array>"], depth + 1)}`;
  const keys = Object.keys(s);
  return `object{${keys.slice(0, 8).join(",")}${keys.length > 8 ? ",…" : ""}}`;
}
