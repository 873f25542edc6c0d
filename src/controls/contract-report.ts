// GET /_emulator/contract-report: what the run's requests would have met at the real service
// (the ledger's findings), which operations of the emulated API it exercised and which it never
// touched, and the webhook deliveries that failed; plus the same as readable text for a failing test.
import { iso } from "../clock.js";
import type { Emulator } from "../context.js";
import type { ContractReportT } from "../contract/controls-verify.js";
import { failedDeliveries } from "../state/contract.js";
import { presentFailedWebhook, type FailedWebhook, type Finding } from "./contract.js";
import { emulatedOperations } from "./operations.js";

/** Lines of findings the text shows (the JSON lists up to 1000). */
const TEXT_FINDINGS = 25;

export async function contractReport(emu: Emulator): Promise<ContractReportT> {
  const ledger = emu.controls.contract;
  const operations = await emulatedOperations(emu);
  const webhooks = new Map<string, FailedWebhook>(ledger.webhooks);
  for (const r of failedDeliveries(emu.db)) webhooks.set(r.id, presentFailedWebhook(r));
  const failed = [...webhooks.values()];
  const exercised = operations.filter((o) => ledger.operations.has(o.id)).map((o) => ({ ...ref(o), ...ledger.operations.get(o.id)! }));
  const untouched = operations.filter((o) => !ledger.operations.has(o.id)).map(ref);
  const violations = ledger.violations + failed.filter((w) => w.violation).length;
  const summary = {
    requests: ledger.requests,
    violations,
    findings: { ...ledger.counts } as Record<string, number>,
    operationsExercised: exercised.length,
    operationsTotal: operations.length,
    failedWebhooks: failed.length,
  };
  const findings = ledger.findings;
  return {
    status: "ok",
    since: iso(ledger.startedAt),
    summary,
    text: reportText(
      summary,
      findings,
      untouched.map((o) => o.operation),
      failed,
    ),
    findings,
    operations: { exercised, untouched },
    webhooks: { failed },
  };
}

export function clearContractReport(emu: Emulator): void {
  emu.controls.contract.clear(emu.clock.now());
}

/** Before a reset deletes them: failed deliveries stay in the run's report. */
export function keepFailedWebhooks(emu: Emulator, workspace?: string): void {
  emu.controls.contract.absorbWebhooks(failedDeliveries(emu.db, workspace));
}

const ref = (o: { id: string; method: string; path: string; summary: string | null }) => ({
  operation: o.id,
  method: o.method,
  path: o.path,
  summary: o.summary,
});

function reportText(s: ContractReportT["summary"], findings: Finding[], untouched: string[], failed: FailedWebhook[]): string {
  const lines = [
    `Contract report: ${s.requests} request(s), ${s.violations} violation(s); ${s.operationsExercised} of ${s.operationsTotal} operations exercised.`,
  ];
  const bad = findings.filter((f) => f.violation);
  if (bad.length) {
    lines.push("Requests the real service would refuse or treat differently:");
    for (const f of bad.slice(0, TEXT_FINDINGS)) {
      lines.push(
        `  [${f.kind}] ${f.method} ${f.path} → ${f.status ?? "dropped"}${f.fields.length ? ` (${f.fields.join(", ")})` : ""}: ${f.message.split("\n")[0]}`,
      );
    }
    if (bad.length > TEXT_FINDINGS) lines.push(`  … and ${bad.length - TEXT_FINDINGS} more (GET /_emulator/contract-report lists them)`);
  }
  const injected = findings.filter((f) => f.injected).length;
  if (injected) lines.push(`${injected} answer(s) came from fault rules or stubs (not judged).`);
  const badHooks = failed.filter((w) => w.violation);
  if (badHooks.length) {
    lines.push("Webhook deliveries that failed:");
    for (const w of badHooks.slice(0, TEXT_FINDINGS))
      lines.push(`  ${w.category} ${w.subject ?? ""} → ${w.url}: ${w.attempts} attempt(s), last ${w.lastStatus ?? w.lastError ?? "no answer"}`);
  }
  if (untouched.length) lines.push(`Never exercised: ${untouched.join("; ")}`);
  return lines.join("\n");
}
