// The contract ledger: every request of the run, classified as it is journaled, by what the real
// service would do with it: refuse it (invalid body, unknown field, other workspace, expired URL,
// unknown route), or treat it differently (a deprecated option), or whether an injected fault or a
// stub answered it. It also counts the operations the run exercised. Kept in memory for the whole
// run: resets and journal clears do not empty it (a suite resets before every test), only
// DELETE /_emulator/contract-report does. Failed webhook deliveries are taken in before a reset
// deletes them.
import { iso } from "../clock.js";
import type { FailedDeliveryRow } from "../state/contract.js";

export type FindingKind =
  | "invalid-request"
  | "unknown-field"
  | "deprecated-option"
  | "unauthorized"
  | "other-workspace"
  | "expired-url"
  | "expired-batch"
  | "forbidden"
  | "unknown-route"
  | "not-found"
  | "conflict"
  | "refused"
  | "server-error"
  | "injected-fault"
  | "stubbed-response";

/** Kinds that fail a strict run: the real service would refuse the request, or treat it differently. */
export const VIOLATION_KINDS: ReadonlySet<FindingKind> = new Set<FindingKind>([
  "invalid-request",
  "unknown-field",
  "deprecated-option",
  "unauthorized",
  "other-workspace",
  "expired-url",
  "expired-batch",
  "forbidden",
  "unknown-route",
  "server-error",
]);

export interface Finding {
  kind: FindingKind;
  violation: boolean;
  /** The answer came from a fault rule or stub, not from the emulated service. */
  injected: boolean;
  at: string;
  method: string;
  path: string;
  operation: string | null;
  status: number | null;
  workspace: string | null;
  message: string;
  fields: string[];
  ruleId: string | null;
}

export interface FailedWebhook {
  id: string;
  workspace: string;
  url: string;
  category: string;
  subject: string | null;
  attempts: number;
  createdAt: string;
  lastStatus: number | null;
  lastError: string | null;
  /** Dropped by a webhook fault rule rather than refused by the receiver. */
  injected: boolean;
  violation: boolean;
}

/** What the middleware saw of one request of the emulated API. */
export interface ObservedRequest {
  at: number;
  method: string;
  path: string;
  operation: string | null;
  status: number | null;
  workspace: string | null;
  fault: { ruleId: string; type: string } | null;
  /** The request body parsed as JSON (complete bodies only). */
  requestJson: unknown;
  /** The answer's body parsed as JSON (error answers). */
  responseJson: unknown;
}

/** Findings kept in detail; beyond this only the counts grow. */
const MAX_FINDINGS = 1000;
const MAX_WEBHOOKS = 500;

export class ContractLedger {
  startedAt: number;
  requests = 0;
  findings: Finding[] = [];
  /** Findings per kind, including those past MAX_FINDINGS. */
  counts: Partial<Record<FindingKind, number>> = {};
  violations = 0;
  operations = new Map<string, { count: number; statuses: Record<string, number> }>();
  webhooks = new Map<string, FailedWebhook>();

  constructor(now: number) {
    this.startedAt = now;
  }

  clear(now: number): void {
    Object.assign(this, new ContractLedger(now));
  }

  observe(o: ObservedRequest): void {
    this.requests++;
    if (o.operation) {
      const op = this.operations.get(o.operation) ?? { count: 0, statuses: {} };
      op.count++;
      const s = o.status === null ? "dropped" : String(o.status);
      op.statuses[s] = (op.statuses[s] ?? 0) + 1;
      this.operations.set(o.operation, op);
    }
    for (const f of classify(o)) {
      this.counts[f.kind] = (this.counts[f.kind] ?? 0) + 1;
      if (f.violation) this.violations++;
      if (this.findings.length < MAX_FINDINGS) this.findings.push(f);
    }
  }

  /** Failed deliveries (taken in before a reset deletes them; read again at report time). */
  absorbWebhooks(rows: FailedDeliveryRow[]): void {
    for (const r of rows) if (this.webhooks.size < MAX_WEBHOOKS || this.webhooks.has(r.id)) this.webhooks.set(r.id, presentFailedWebhook(r));
  }
}

export function presentFailedWebhook(r: FailedDeliveryRow): FailedWebhook {
  const injected = (r.last_error ?? "").includes("emulator delivery fault");
  return {
    id: r.id,
    workspace: r.workspace_id,
    url: r.url,
    category: r.category,
    subject: r.subject,
    attempts: r.attempts,
    createdAt: iso(r.created_at),
    lastStatus: r.last_status,
    lastError: r.last_error,
    injected,
    violation: !injected,
  };
}

interface ErrorAnswer {
  message?: string;
  error?: { type?: string; issues?: { field?: string; problem?: string }[] };
}

/** What the real service would do with this request, as findings (none for an ordinary success). */
export function classify(o: ObservedRequest): Finding[] {
  const out: Finding[] = [];
  const base = {
    at: iso(o.at),
    method: o.method,
    path: o.path,
    operation: o.operation,
    status: o.status,
    workspace: o.workspace,
    ruleId: o.fault?.ruleId ?? null,
  };
  const add = (kind: FindingKind, message: string, fields: string[] = [], injected = false) =>
    out.push({ ...base, kind, violation: !injected && VIOLATION_KINDS.has(kind), injected, message, fields });
  for (const d of deprecatedOptions(o.requestJson)) add("deprecated-option", d.message, d.fields);
  // An injected answer says nothing about the request: it is listed as such and not judged.
  if (o.fault && o.fault.type !== "latency") {
    const what = o.fault.type === "respond" ? "stubbed-response" : "injected-fault";
    add(
      what,
      `${o.status === null ? "Connection dropped" : `Answered ${o.status}`} by ${what === "stubbed-response" ? "stub" : "fault rule"} "${o.fault.ruleId}" (${o.fault.type})`,
      [],
      true,
    );
    return out;
  }
  if (o.status === null || o.status < 400) return out;
  const answer = (o.responseJson ?? {}) as ErrorAnswer;
  const type = answer.error?.type ?? "";
  const message = answer.message ?? `Answered ${o.status}`;
  const unknown = (answer.error?.issues ?? []).filter((i) => i.problem === "unknown field").map((i) => i.field ?? "");
  if (o.status >= 500) add("server-error", message);
  else if (o.status === 401) add("unauthorized", message);
  else if (o.status === 403) add(/belongs to workspace/i.test(message) ? "other-workspace" : /expired/i.test(message) ? "expired-url" : "forbidden", message);
  else if (type === "batch-expired") add("expired-batch", message);
  else if (type === "route-not-found") add("unknown-route", message);
  else if (unknown.length) add("unknown-field", message, unknown);
  else if (o.status === 400 || o.status === 413 || o.status === 415 || o.status === 422 || type.startsWith("invalid-") || type === "malformed-json")
    add(
      "invalid-request",
      message,
      (answer.error?.issues ?? []).map((i) => i.field ?? ""),
    );
  else if (o.status === 404) add("not-found", message);
  else if (o.status === 409) add("conflict", message);
  else add("refused", message);
  return out;
}

// ---- deprecated options -------------------------------------------------------------------------

interface Deprecation {
  message: string;
  fields: string[];
}

const MACHINE_SIZE_HINT =
  'inference-cli releases before compute-configuration-v2 sent --machine-size as computeConfiguration {type: "compute-configuration-v1", machineSize}; ' +
  'current releases print "Deprecated option `--machine-size` used" and send compute-configuration-v2 with workersPerMachine (xs 8, s 4, m 2, l 1, xl 1) instead. Send workersPerMachine.';

/** Deprecated options in a job definition or restart override: the old compute configuration and its machineSize. */
export function deprecatedOptions(body: unknown): Deprecation[] {
  if (!body || typeof body !== "object" || Array.isArray(body)) return [];
  const cc = (body as { computeConfiguration?: unknown }).computeConfiguration;
  if (!cc || typeof cc !== "object") return [];
  const fields: string[] = [];
  if ((cc as { type?: unknown }).type === "compute-configuration-v1") fields.push("computeConfiguration.type");
  if ("machineSize" in cc) fields.push("computeConfiguration.machineSize");
  return fields.length ? [{ message: `Deprecated option: ${fields.join(", ")}. ${MACHINE_SIZE_HINT}`, fields }] : [];
}
