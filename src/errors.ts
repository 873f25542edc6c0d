// One error shape for every 4xx/5xx: `message` is what the real service sends and real clients
// print; the other keys are the emulator's additions that say exactly what was wrong.
import type { ZodError, ZodType } from "zod";
import type { ErrorTypeT } from "./contract/common.js";

export interface IssueDetail {
  /** Dotted path of the offending field, e.g. "processingSpecification.aggregationFormat". */
  field: string;
  problem: string;
  received?: unknown;
  allowed?: unknown[];
  didYouMean?: string;
}

export interface ErrorBody {
  message: string;
  error: {
    status: number;
    type: ErrorTypeT;
    issues?: IssueDetail[];
    hint?: string;
  };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: ErrorTypeT,
    message: string,
    readonly issues?: IssueDetail[],
    readonly hint?: string,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }

  body(): ErrorBody {
    const error: ErrorBody["error"] = { status: this.status, type: this.type };
    if (this.issues?.length) error.issues = this.issues;
    if (this.hint) error.hint = this.hint;
    return { message: this.message, error };
  }
}

export const badRequest = (message: string, issues?: IssueDetail[], hint?: string) => new ApiError(400, "invalid-request", message, issues, hint);
export const notFound = (message: string, hint?: string) => new ApiError(404, "not-found", message, undefined, hint);
export const conflict = (message: string, hint?: string) => new ApiError(409, "conflict", message, undefined, hint);
export const unauthorized = (message: string, hint?: string) => new ApiError(401, "unauthorized", message, undefined, hint);
export const forbidden = (message: string, hint?: string) => new ApiError(403, "forbidden", message, undefined, hint);
export const tooLarge = (message: string, hint?: string) => new ApiError(413, "payload-too-large", message, undefined, hint);

/** Levenshtein distance, case-insensitive, for did-you-mean suggestions. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const row = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= t.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (s[i - 1] === t[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[t.length];
}

export function closestName(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(name, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  // Close enough to be a typo: a third of the name, at least 2 edits (notificationUrl → notificationsURL is 2).
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

// ---- zod → readable issues -------------------------------------------------------------------

/** The parts of a zod 4 schema definition read here (zod keeps its def types internal). */
interface SchemaDef {
  type: string;
  innerType?: Schema;
  in?: Schema;
  getter?: () => Schema;
  options?: Schema[];
  shape?: Record<string, Schema>;
  element?: Schema;
  valueType?: Schema;
  values?: unknown[];
}
interface Schema {
  _zod: { def: SchemaDef };
}

/** The fields of zod issues read here; which exist depends on the issue's code. */
interface RawIssue {
  code: string;
  message: string;
  path?: PropertyKey[];
  keys?: string[];
  values?: unknown[];
  options?: unknown[];
  discriminator?: string;
  errors?: RawIssue[][];
  expected?: string;
}

const WRAPPERS = new Set(["optional", "nullable", "default", "prefault", "readonly", "catch", "nonoptional"]);

function unwrap(schema: Schema | undefined): Schema | undefined {
  let s = schema;
  for (let i = 0; s && i < 10; i++) {
    const def: SchemaDef = s._zod.def;
    if (WRAPPERS.has(def.type)) s = def.innerType;
    else if (def.type === "pipe") s = def.in;
    else if (def.type === "lazy") s = def.getter?.();
    else break;
  }
  return s;
}

/** One step into a JSON value: a key of an object or an index of an array, else undefined. */
function child(value: unknown, key: PropertyKey): unknown {
  return value !== null && typeof value === "object" ? (value as Record<PropertyKey, unknown>)[key] : undefined;
}

/** Finds the object schema(s) at a path inside `root`, following unions by the discriminator in `data`. */
function objectKeysAt(root: Schema, path: readonly PropertyKey[], data: unknown): string[] {
  let schema = unwrap(root);
  let value: unknown = data;
  const resolveUnion = () => {
    for (let guard = 0; schema && guard < 5; guard++) {
      const def = schema._zod.def;
      if (def.type !== "union") return;
      const options = def.options ?? [];
      const match = options.find((o) => {
        const typeField = unwrap(o)?._zod.def.shape?.type;
        const values = typeField ? unwrap(typeField)?._zod.def.values : undefined;
        return values?.includes(child(value, "type"));
      });
      schema = unwrap(match ?? options[0]);
    }
  };
  resolveUnion();
  for (const key of path) {
    if (!schema) return [];
    const def = schema._zod.def;
    if (def.type === "object") schema = unwrap(def.shape?.[String(key)]);
    else if (def.type === "array") schema = unwrap(def.element);
    else if (def.type === "record") schema = unwrap(def.valueType);
    else return [];
    value = child(value, key);
    resolveUnion();
  }
  const shape = schema?._zod.def.type === "object" ? schema._zod.def.shape : undefined;
  return shape ? Object.keys(shape) : [];
}

function dotted(path: readonly PropertyKey[]): string {
  return path.length
    ? path
        .map((p) => (typeof p === "number" ? `[${p}]` : String(p)))
        .join(".")
        .replace(/\.\[/g, "[")
    : "(body)";
}

function describe(value: unknown): unknown {
  if (typeof value === "string" && value.length > 120) return `${value.slice(0, 117)}...`;
  if (value !== null && typeof value === "object") return Array.isArray(value) ? `array(${value.length})` : "object";
  return value;
}

function typeOf(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = data;
  for (const k of path) v = child(v, k);
  return v;
}

export function zodIssues(error: ZodError, schema: ZodType, data: unknown): IssueDetail[] {
  const out: IssueDetail[] = [];
  for (const issue of error.issues as unknown as RawIssue[]) {
    const path: PropertyKey[] = issue.path ?? [];
    if (issue.code === "unrecognized_keys") {
      const known = objectKeysAt(schema, path, data);
      for (const key of issue.keys ?? []) {
        const suggestion = closestName(key, known);
        out.push({
          field: dotted([...path, key]),
          problem: "unknown field",
          received: describe(valueAt(data, [...path, key])),
          allowed: known,
          ...(suggestion ? { didYouMean: suggestion } : {}),
        });
      }
      continue;
    }
    const received = valueAt(data, path);
    const detail: IssueDetail = { field: dotted(path), problem: issue.message, received: received === undefined ? "(missing)" : describe(received) };
    if (issue.code === "invalid_value" && Array.isArray(issue.values)) {
      // A fixed-value field left out (e.g. a restart body without "type") is missing, not a wrong value.
      detail.problem = received === undefined ? "required field is missing" : "not one of the allowed values";
      detail.allowed = issue.values;
      const close = typeof received === "string" ? closestName(received, issue.values.map(String)) : undefined;
      if (close) detail.didYouMean = close;
    }
    if (issue.code === "invalid_union" && Array.isArray(issue.options)) {
      // Discriminated union: name the discriminator's allowed values and suggest the closest.
      detail.problem = received === undefined ? `required field "${issue.discriminator ?? "type"}" is missing` : `unknown ${issue.discriminator ?? "type"}`;
      detail.allowed = issue.options;
      const close = typeof received === "string" ? closestName(received, issue.options.map(String)) : undefined;
      if (close) detail.didYouMean = close;
    } else if (issue.code === "invalid_union") {
      // A union on `type`: say which types exist rather than "does not match any of the allowed types".
      const types = issue.errors?.flatMap((errs) =>
        errs.filter((e) => e.code === "invalid_value" && e.path?.length === 1 && e.path[0] === "type").flatMap((e) => e.values ?? []),
      );
      if (types?.length) detail.allowed = [...new Set(types)];
      // A union of plain types (number or string): name them instead of zod's "Invalid input".
      const expected = [
        ...new Set(issue.errors?.flatMap((errs) => errs.filter((e) => e.code === "invalid_type" && !e.path?.length).map((e) => e.expected)) ?? []),
      ];
      if (!types?.length && expected.length) {
        const kinds = expected.join(" or ");
        detail.problem = received === undefined ? `required field is missing (expected ${kinds})` : `expected ${kinds}, not ${typeOf(received)}`;
      } else if (received === undefined) detail.problem = "required field is missing";
    }
    if (issue.code === "invalid_type" && received === undefined) detail.problem = `required field is missing (expected ${issue.expected})`;
    out.push(detail);
  }
  return out;
}

export function summarize(issues: IssueDetail[]): string {
  const parts = issues.slice(0, 5).map((i) => {
    let s = `${i.field}: ${i.problem}`;
    if (i.received !== undefined && i.received !== "(missing)" && i.problem !== "unknown field") s += ` (got ${JSON.stringify(i.received)})`;
    if (i.didYouMean) s += ` - did you mean "${i.didYouMean}"?`;
    else if (i.allowed?.length && i.allowed.length <= 12) s += `; allowed: ${i.allowed.map((a) => JSON.stringify(a)).join(", ")}`;
    return s;
  });
  if (issues.length > 5) parts.push(`and ${issues.length - 5} more`);
  return `Invalid request: ${parts.join("; ")}`;
}

const INVALID_TYPE = {
  body: "invalid-body",
  query: "invalid-query",
  path: "invalid-path",
  header: "invalid-header",
  seed: "invalid-seed",
} as const satisfies Record<string, ErrorTypeT>;

export function validationError(error: ZodError, schema: ZodType, data: unknown, where: keyof typeof INVALID_TYPE = "body"): ApiError {
  const issues = zodIssues(error, schema, data);
  return new ApiError(400, INVALID_TYPE[where], summarize(issues), issues);
}
