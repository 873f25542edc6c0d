// Compares a scenario's recorded snapshot with a fresh run: step by step (matched by name), the status
// code, the content type and the body shape field by field. Each difference names its path, the
// expected shape and the actual one.
import { ABSENT, canon, describe, isArrayShape, isPlainObject, isToken, isUnion, type Shape } from "./normalize.js";
import type { RecordedStep, ScenarioSnapshot } from "./snapshot.js";

export interface Diff {
  scenario: string;
  step: string;
  /** `status`, `contentType`, `body.batch.createdDate`, `steps` ... */
  path: string;
  expected: string;
  actual: string;
  /** Set when a documented difference (parity/allowances.ts) covers it: reported, not counted as drift. */
  allowedBy?: string;
}

export interface Allowance {
  /** Regular expression over `<scenario> <step> <path>`. */
  where: RegExp;
  /** Which differences: a field only the emulator sends, or any difference at that place. */
  kind: "extra" | "any";
  because: string;
}

/** URL schemes that differ only because the emulator serves plain HTTP on loopback. */
const sameUrlKind = (a: string, b: string) => a.replace(/^<url:https?>$/, "<url:http(s)>") === b.replace(/^<url:https?>$/, "<url:http(s)>");

/** True when `actual` fits `expected`: equal, an int where a number was seen, or alternatives all among the expected ones. */
function fits(expected: Shape, actual: Shape): boolean {
  if (canon(expected) === canon(actual) || expected === "<any>") return true;
  if (typeof expected === "string" && typeof actual === "string" && isToken(expected) && isToken(actual)) {
    return sameUrlKind(expected, actual) || (expected === "<number>" && actual === "<int>");
  }
  if (isUnion(expected)) {
    const alts = isUnion(actual) ? actual["<one-of>"] : [actual];
    return alts.every((a) => expected["<one-of>"].some((e) => fits(e, a)));
  }
  return false;
}

/** Field-by-field differences between two shapes. */
export function diffShapes(expected: Shape, actual: Shape, path: string): Omit<Diff, "scenario" | "step">[] {
  if (fits(expected, actual)) return [];
  if (isPlainObject(expected) && isPlainObject(actual)) {
    const keys = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
    return keys.flatMap((k) => diffShapes(k in expected ? expected[k] : ABSENT, k in actual ? actual[k] : ABSENT, `${path}.${k}`));
  }
  if (isArrayShape(expected) && isArrayShape(actual)) {
    const out: Omit<Diff, "scenario" | "step">[] = [];
    if (expected["<length>"] !== "<any>" && expected["<length>"] !== actual["<length>"] && !expected["<length>"].split("|").includes(actual["<length>"])) {
      out.push({ path: `${path}.length`, expected: expected["<length>"], actual: actual["<length>"] });
    }
    if (expected["<array>"] !== "<nothing>" && actual["<array>"] !== "<nothing>") out.push(...diffShapes(expected["<array>"], actual["<array>"], `${path}[]`));
    return out;
  }
  // An optional key (seen in some array items only) that is now always there: compare with its present form.
  if (isUnion(expected) && expected["<one-of>"].some((e) => canon(e) === JSON.stringify(ABSENT)) && actual !== ABSENT) {
    const present = expected["<one-of>"].filter((e) => canon(e) !== JSON.stringify(ABSENT));
    if (present.length === 1) return diffShapes(present[0], actual, path);
  }
  return [{ path, expected: label(expected), actual: label(actual) }];
}

const label = (s: Shape) => (s === ABSENT ? "absent" : describe(s));

function diffStep(exp: RecordedStep, act: RecordedStep): Omit<Diff, "scenario" | "step">[] {
  const out: Omit<Diff, "scenario" | "step">[] = [];
  if (exp.response.status !== act.response.status) out.push({ path: "status", expected: String(exp.response.status), actual: String(act.response.status) });
  if (exp.response.contentType !== act.response.contentType)
    out.push({ path: "contentType", expected: exp.response.contentType, actual: act.response.contentType });
  out.push(...diffShapes(exp.response.body, act.response.body, "body"));
  return out;
}

/** Every difference between the recorded snapshot and a run of the same scenario. */
export function compareScenario(expected: ScenarioSnapshot, actual: ScenarioSnapshot, allowances: Allowance[] = []): Diff[] {
  const scenario = expected.scenario;
  const diffs: Diff[] = [];
  const actualByName = new Map(actual.steps.map((s) => [s.name, s]));
  const expectedNames = new Set(expected.steps.map((s) => s.name));
  for (const exp of expected.steps) {
    const act = actualByName.get(exp.name);
    if (!act) diffs.push({ scenario, step: exp.name, path: "step", expected: `status ${exp.response.status}`, actual: "not run" });
    else for (const d of diffStep(exp, act)) diffs.push({ scenario, step: exp.name, ...d });
  }
  for (const act of actual.steps) {
    if (!expectedNames.has(act.name)) diffs.push({ scenario, step: act.name, path: "step", expected: "not recorded", actual: `status ${act.response.status}` });
  }
  // Only whether it stopped is compared: the reason quotes a volatile answer.
  if (actual.failure && !expected.failure) diffs.push({ scenario, step: "(scenario)", path: "failure", expected: "ran to the end", actual: actual.failure });
  return diffs.map((d) => {
    const hit = allowances.find((a) => a.where.test(`${d.scenario} ${d.step} ${d.path}`) && (a.kind === "any" || d.expected === "absent"));
    return hit ? { ...d, allowedBy: hit.because } : d;
  });
}

export const isDrift = (d: Diff) => !d.allowedBy;

/** Readable report: one block per step, one line per field. */
export function formatDiffs(diffs: Diff[]): string {
  const lines: string[] = [];
  let current = "";
  for (const d of diffs) {
    const head = `${d.scenario} › ${d.step}`;
    if (head !== current) {
      lines.push(`✗ ${head}`);
      current = head;
    }
    lines.push(`    ${d.path}\n        expected: ${d.expected}\n        actual:   ${d.actual}${d.allowedBy ? `\n        allowed:  ${d.allowedBy}` : ""}`);
  }
  return lines.join("\n");
}
