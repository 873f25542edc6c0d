// Runs scenarios against a target and records each step as a normalized exchange. A scenario is a plain
// async function over a ScenarioContext; it stops (and says why) when a precondition for the next steps
// never comes true, and the steps recorded so far are kept.
import { lengthClass, normalize, type NormalizeContext, type Shape } from "./normalize.js";
import { send, type Req, type Res, type Target } from "./http.js";
import { sniffKind } from "./media.js";
import type { RecordedRequest, RecordedStep, ScenarioSnapshot } from "./snapshot.js";

export interface RunOptions {
  target: Target;
  /** Marks every batch and job id of this run (`prt-<runTag>-…`), replaced by `<run>` in snapshots. */
  runTag: string;
  /** A Workflow of the target's workspace (any id on the emulator). */
  workflowId: string;
  /** A workspace the key does NOT belong to (for the 403 step). */
  otherWorkspace: string;
  /** `{name, url}` image references the target can download (empty: the references scenario is skipped). */
  references: { name: string; url: string }[];
  pollTimeoutMs: number;
  pollMaxIntervalMs: number;
  log: (line: string) => void;
}

export interface StepOptions {
  /** Path globs (`body.jobs[].jobDefinition`) whose subtree is recorded as its JSON type only. */
  opaque?: string[];
  /** Path globs whose literal strings and booleans depend on the environment (other batches in the workspace). */
  loose?: string[];
  /** Statuses the next steps depend on; anything else stops the scenario after recording this step. */
  expect?: number[];
  /** Path globs whose value depends on what else is in the workspace: recorded as `<any>`, never compared. */
  ignore?: string[];
  /** File name of a downloaded body (decides how it is summarised). */
  fileName?: string;
}

export interface ScenarioContext {
  opts: RunOptions;
  /** `prt-<runTag>-<suffix>`: a batch or job id of this run. */
  id(suffix: string): string;
  staging(batchId?: string, rest?: string): string;
  jobs(jobId?: string, rest?: string): string;
  step(name: string, req: Req, o?: StepOptions): Promise<Res>;
  /** Repeats the request until `done`; records only the last answer. */
  poll(name: string, req: Req, done: (res: Res) => boolean, o?: StepOptions): Promise<Res>;
  /** Follows `nextPageToken` until it is null (or absent, or ""), one recorded step per page: `<name> page N`. */
  walk(name: string, req: Req, o?: StepOptions & { maxPages?: number }): Promise<Res[]>;
}

export interface Scenario {
  name: string;
  title: string;
  /** Why it cannot run with these options (e.g. no reference URLs), or undefined. */
  skip?(opts: RunOptions): string | undefined;
  run(ctx: ScenarioContext): Promise<void>;
}

export class ScenarioStopped extends Error {}

export function contextOf(opts: RunOptions): NormalizeContext {
  return {
    subst: [
      [opts.runTag, "<run>"],
      [opts.target.workspace, "<workspace>"],
      [opts.otherWorkspace, "<other-workspace>"],
      [opts.workflowId, "<workflow>"],
    ],
  };
}

function summarizeBody(res: Res, ctx: NormalizeContext, o: StepOptions): Shape {
  if (res.json !== undefined) return normalize(res.json, { ...ctx, opaque: o.opaque, loose: o.loose, ignore: o.ignore });
  if (res.bytes.length === 0) return "<empty>";
  const kind = sniffKind(res.bytes, o.fileName);
  const out: Record<string, Shape> = { "<kind>": kind };
  const lines = res.text.split(/\r?\n/).filter((l) => l.trim());
  if (kind === "jsonl") {
    out["<records>"] = lengthClass(lines.length);
    try {
      // What a record holds depends on the Workflow: its fields are compared, its values only by type.
      out["<first-record>"] = normalize(JSON.parse(lines[0]), { ...ctx, loose: ["record"] }, "record");
    } catch {
      out["<first-record>"] = "<not-json>";
    }
  }
  if (kind === "csv") {
    out["<records>"] = lengthClass(Math.max(0, lines.length - 1));
    out["<columns>"] = lines[0] ?? "";
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function describeRequest(req: Req, target: Target, ctx: NormalizeContext): RecordedRequest {
  const absolute = /^https?:\/\//.test(req.path);
  const key = req.apiKey === undefined ? target.apiKey : req.apiKey;
  const query: Record<string, Shape> = {};
  if (!absolute && key !== null) query.api_key = key === target.apiKey ? "<api-key>" : "<other-api-key>";
  for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) query[k] = normalize(String(v), ctx, `query.${k}`, k);
  const out: RecordedRequest = { method: req.method, path: normalize(req.path, ctx, "path") as string };
  if (Object.keys(query).length) out.query = Object.fromEntries(Object.entries(query).sort(([a], [b]) => a.localeCompare(b)));
  if (req.headers && Object.keys(req.headers).length) out.headers = normalize(req.headers, ctx, "headers") as Record<string, Shape>;
  if (req.json !== undefined) out.body = normalize(req.json, ctx, "request");
  else if (req.multipart)
    out.body = `<multipart: field ${JSON.stringify(req.multipart.field)}, ${sniffKind(req.multipart.data, req.multipart.fileName)} file ${JSON.stringify(req.multipart.fileName)}>`;
  else if (req.raw !== undefined) out.body = `<bytes: ${sniffKind(Buffer.from(req.raw))}, ${Buffer.byteLength(req.raw)} B>`;
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs one scenario; never throws for the target's answers (a stopped scenario says why in `failure`). */
export async function runScenario(scenario: Scenario, opts: RunOptions, source: string, note?: string): Promise<ScenarioSnapshot> {
  const ctx = contextOf(opts);
  const steps: RecordedStep[] = [];
  const names = new Set<string>();
  const record = (name: string, req: Req, res: Res, o: StepOptions) => {
    if (names.has(name)) throw new Error(`scenario ${scenario.name}: step name "${name}" used twice`);
    names.add(name);
    steps.push({
      name,
      request: describeRequest(req, opts.target, ctx),
      response: { status: res.status, contentType: res.contentType, body: summarizeBody(res, ctx, o) },
    });
    opts.log(`  ${res.status} ${scenario.name} › ${name}`);
    if (o.expect && !o.expect.includes(res.status))
      throw new ScenarioStopped(`"${name}" answered ${res.status} (expected ${o.expect.join(" or ")}): ${res.text.slice(0, 300)}`);
  };
  const sc: ScenarioContext = {
    opts,
    id: (suffix) => `prt-${opts.runTag}-${suffix}`,
    staging: (batchId, rest = "") => `/data-staging/v1/external/${opts.target.workspace}/batches${batchId ? `/${batchId}` : ""}${rest}`,
    jobs: (jobId, rest = "") => `/batch-processing/v1/external/${opts.target.workspace}/jobs${jobId ? `/${jobId}` : ""}${rest}`,
    step: async (name, req, o = {}) => {
      const { res } = await send(opts.target, req);
      record(name, req, res, o);
      return res;
    },
    poll: async (name, req, done, o = {}) => {
      const deadline = Date.now() + opts.pollTimeoutMs;
      for (let wait = 50; ; wait = Math.min(wait * 2, opts.pollMaxIntervalMs)) {
        const { res } = await send(opts.target, req);
        if (done(res)) {
          record(name, req, res, o);
          return res;
        }
        if (Date.now() + wait > deadline) {
          record(name, req, res, o);
          throw new ScenarioStopped(
            `"${name}" did not reach its condition within ${opts.pollTimeoutMs} ms (last answer ${res.status}: ${res.text.slice(0, 300)})`,
          );
        }
        await sleep(wait);
      }
    },
    walk: async (name, req, o = {}) => {
      const pages: Res[] = [];
      let token: string | undefined;
      for (let page = 1; page <= (o.maxPages ?? 20); page++) {
        const res = await sc.step(`${name} page ${page}`, { ...req, query: { ...req.query, nextPageToken: token } }, o);
        pages.push(res);
        token = res.json?.nextPageToken;
        if (typeof token !== "string" || token === "") break;
      }
      return pages;
    },
  };
  let failure: string | undefined;
  try {
    await scenario.run(sc);
  } catch (err) {
    failure = err instanceof ScenarioStopped ? err.message : `error: ${(err as Error).message}`;
    opts.log(`  ! ${scenario.name} stopped: ${failure}`);
  }
  return { source, scenario: scenario.name, title: scenario.title, note, ...(failure ? { failure: normalizeFailure(failure, ctx) } : {}), steps };
}

/** Failure text without the run tag, so a recorded failure can be compared with a new one. */
const normalizeFailure = (s: string, ctx: NormalizeContext) => ctx.subst.reduce((acc, [from, to]) => (from ? acc.split(from).join(to) : acc), s);
