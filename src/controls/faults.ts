// Fault rules: which request, simulator step or webhook delivery gets an injected failure. Rules
// are kept in the store (src/state/faults.ts) and cached here compiled; the first rule, in creation
// order, that matches and decides to fire wins. "Decides" = not exhausted (times) and, for
// probability rules, a draw from the rule's own seeded generator, so a run is reproducible.
import { iso, type Clock } from "../clock.js";
import type { SimulatorFaults } from "../context.js";
import type { FaultActionT, FaultRuleBodyT } from "../contract/controls.js";
import { badRequest, conflict, notFound } from "../errors.js";
import type { Db } from "../state/db.js";
import {
  deleteAllFaultRules,
  deleteFaultRule,
  faultRuleCounters,
  faultRuleExists,
  insertFaultRule,
  listFaultRules,
  recordEvaluation,
  type FaultRuleRow,
} from "../state/faults.js";
import type { WebhookRow } from "../state/webhooks.js";
import type { DeliveryHook } from "../simulator/webhooks.js";
import { globToRegExp, pathPredicate } from "./glob.js";
import { compileMatcher, type RequestView } from "./matchers.js";
import { mulberry32, seedState, type IdSource } from "./prng.js";

export type FaultDomain = "request" | "simulator" | "webhook" | "job";

export function domainOf(type: FaultActionT["type"]): FaultDomain {
  if (type === "fail-task" || type === "fail-stage") return "simulator";
  if (type.startsWith("webhook-")) return "webhook";
  // Job-state stubs fire on the emulator clock (src/controls/job-stubs.ts), never on an event.
  if (type === "job-state") return "job";
  return "request";
}

/** What a rule can be matched against; absent fields are unknown for that event. */
export interface FaultEvent {
  domain: FaultDomain;
  method?: string;
  path?: string;
  workspace?: string;
  jobId?: string;
  batchId?: string;
  stage?: string;
  taskIndex?: number;
  /** Simulator: fail-task or fail-stage. */
  simulatorKind?: "fail-task" | "fail-stage";
  category?: string;
  url?: string;
  /** Request faults: the request itself, for query, header and body matchers. */
  request?: RequestView;
}

export interface FiredFault {
  ruleId: string;
  action: FaultActionT;
}

interface CompiledRule {
  id: string;
  body: FaultRuleBodyT;
  test: (e: FaultEvent) => boolean;
  /** Matches on body fields: the middleware reads the JSON body before the route does. */
  wantsBody: boolean;
}

function compile(id: string, body: FaultRuleBodyT): CompiledRule {
  const m = body.match ?? {};
  const domain = domainOf(body.action.type);
  const methods = m.method === undefined ? undefined : (Array.isArray(m.method) ? m.method : [m.method]).map((x) => x.toUpperCase());
  const pathOk = pathPredicate(m.path, m.pathRegex, ["match.path", "match.pathRegex"]);
  const urlRe = m.url === undefined ? undefined : globToRegExp(m.url);
  const tasks = m.taskIndex === undefined ? undefined : Array.isArray(m.taskIndex) ? m.taskIndex : [m.taskIndex];
  const eq = (want: string | undefined, got: string | undefined) => want === undefined || want === got;
  const requestParts = m.query || m.headers || m.body ? compileMatcher({ query: m.query, headers: m.headers, body: m.body }) : undefined;
  if (requestParts && domain !== "request") throw badRequest("match.query, match.headers and match.body apply to request faults and respond stubs only");
  if (domain === "job" && Object.keys(m).length) throw badRequest("A job-state stub takes no match: name the job in the action (workspace, jobId)");
  return {
    id,
    body,
    wantsBody: !!m.body?.length,
    test: (e) => {
      if (e.domain !== domain) return false;
      if (e.simulatorKind && e.simulatorKind !== body.action.type) return false;
      if (methods && !methods.includes((e.method ?? "").toUpperCase())) return false;
      if (pathOk && (e.path === undefined || !pathOk(e.path))) return false;
      if (!eq(m.workspace, e.workspace) || !eq(m.jobId, e.jobId) || !eq(m.batchId, e.batchId) || !eq(m.stage, e.stage) || !eq(m.category, e.category))
        return false;
      if (tasks && (e.taskIndex === undefined || !tasks.includes(e.taskIndex))) return false;
      if (urlRe && (e.url === undefined || !urlRe.test(e.url))) return false;
      if (requestParts && (!e.request || !requestParts.test(e.request))) return false;
      return true;
    },
  };
}

export class FaultEngine {
  private cache: CompiledRule[] | null = null;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly ids: () => IdSource,
  ) {}

  add(body: FaultRuleBodyT): FaultRuleRow {
    const id = body.id ?? `fault-${this.ids().alnum(8)}`;
    compile(id, body); // validates the patterns before anything is stored
    if (faultRuleExists(this.db, id))
      throw conflict(`A fault rule with id "${id}" already exists`, "Delete it first (DELETE /_emulator/faults/{id}) or pick another id.");
    insertFaultRule(this.db, {
      id,
      rule: JSON.stringify(body),
      remaining: body.times ?? null,
      prng_state: body.probability === undefined ? null : seedState(body.seed ?? 1),
      created_at: this.clock.now(),
    });
    this.cache = null;
    return this.rows().find((r) => r.id === id)!;
  }

  rows(): FaultRuleRow[] {
    return listFaultRules(this.db);
  }

  remove(id: string): boolean {
    this.cache = null;
    return deleteFaultRule(this.db, id);
  }

  clear(): number {
    this.cache = null;
    return deleteAllFaultRules(this.db);
  }

  /** Forget the compiled cache (after a reset or snapshot import touched the table). */
  invalidate(): void {
    this.cache = null;
  }

  private compiled(): CompiledRule[] {
    return (this.cache ??= this.rows().map((r) => compile(r.id, JSON.parse(r.rule) as FaultRuleBodyT)));
  }

  /** No rule at all: the request middleware skips matching. */
  none(): boolean {
    return this.compiled().length === 0;
  }

  /** Some request rule matches on body fields (the middleware then parses a JSON body before the route). */
  wantsBody(): boolean {
    return this.compiled().some((r) => r.wantsBody);
  }

  /** Counts one firing (or a miss) of a rule that fires on its own (a job-state stub's timer). */
  recordOwnFiring(id: string, fired: boolean): void {
    const row = faultRuleCounters(this.db, id);
    if (!row) return;
    recordEvaluation(this.db, id, {
      fired,
      remaining: fired && row.remaining !== null ? row.remaining - 1 : row.remaining,
      prngState: row.prng_state,
      at: this.clock.now(),
    });
  }

  /** The rule that fires for this event, if any; counts the evaluation of every rule that matched on the way. */
  fire(e: FaultEvent): FiredFault | null {
    const rules = this.compiled();
    if (!rules.length) return null;
    for (const rule of rules) {
      if (!rule.test(e)) continue;
      // Re-read the counters: they change as rules fire and must survive the cache.
      const row = faultRuleCounters(this.db, rule.id);
      if (!row || row.remaining === 0) continue;
      let fires = true;
      let prngState = row.prng_state;
      if (rule.body.probability !== undefined && prngState !== null) {
        const draw = mulberry32(prngState);
        prngState = draw.state;
        fires = draw.value < rule.body.probability;
      }
      const remaining = fires && row.remaining !== null ? row.remaining - 1 : row.remaining;
      recordEvaluation(this.db, rule.id, { fired: fires, remaining, prngState, at: this.clock.now() });
      if (fires) return { ruleId: rule.id, action: rule.body.action };
    }
    return null;
  }

  /** The hooks the jobs simulator consults. */
  simulatorHooks(): SimulatorFaults {
    return {
      taskShouldFail: (ws, jobId, stage, taskIndex) =>
        this.fire({ domain: "simulator", simulatorKind: "fail-task", workspace: ws, jobId, stage, taskIndex }) !== null,
      stageShouldFail: (ws, jobId, stage) => this.fire({ domain: "simulator", simulatorKind: "fail-stage", workspace: ws, jobId, stage }) !== null,
    };
  }

  /** The WebhookSender's per-attempt hook: drop, delay, duplicate or hold back (out of order). */
  webhookHook(): DeliveryHook {
    return (row: WebhookRow) => {
      const hit = this.fire({
        domain: "webhook",
        workspace: row.workspace_id,
        category: row.category,
        url: row.url,
        jobId: row.subject ?? undefined,
        batchId: row.subject ?? undefined,
      });
      if (!hit) return "deliver";
      switch (hit.action.type) {
        case "webhook-drop":
          return "drop";
        case "webhook-duplicate":
          return "duplicate";
        case "webhook-delay":
          return { delayMs: hit.action.ms };
        case "webhook-out-of-order":
          // Held back long enough for the deliveries enqueued after it to arrive first.
          return { delayMs: hit.action.ms ?? 500 };
        default:
          return "deliver";
      }
    };
  }
}

export function presentFaultRule(r: FaultRuleRow) {
  const body = JSON.parse(r.rule) as FaultRuleBodyT;
  return {
    id: r.id,
    match: body.match ?? {},
    action: body.action,
    times: body.times ?? null,
    remaining: r.remaining,
    probability: body.probability ?? null,
    seed: body.probability === undefined ? null : (body.seed ?? 1),
    fired: r.fired,
    evaluated: r.evaluated,
    createdAt: iso(r.created_at),
    lastFiredAt: r.last_fired_at === null ? null : iso(r.last_fired_at),
  };
}

/** Workspace, job and batch named in an emulated API path (fault rules and the journal match on them). */
export function pathContext(path: string): { workspace?: string; jobId?: string; batchId?: string } {
  const m = /^\/(?:data-staging|batch-processing)\/v1\/external\/([^/]+)(?:\/(batches|jobs)\/([^/]+))?/.exec(path);
  if (!m) return {};
  const seg = m[3] === undefined ? undefined : safeDecode(m[3]);
  return { workspace: safeDecode(m[1]), ...(m[2] === "jobs" ? { jobId: seg } : m[2] === "batches" ? { batchId: seg } : {}) };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** DELETE /_emulator/faults/{id}: a rule that is not there is a 404. */
export function removeFaultRule(faults: FaultEngine, id: string): void {
  if (!faults.remove(id)) throw notFound(`No fault rule "${id}"`, "GET /_emulator/faults lists the rules.");
}
