// Crash-consistency harness: "nothing lost, nothing leaked", proved by killing the emulator at
// random moments of a mixed workload. Each cycle starts the emulator (its own process) on the same
// data folder, runs the seeded workload (test/harness/crash-workload.ts) for 100-1500 ms and kills
// it (kill -9, sometimes SIGTERM) wherever it is; the stopped store is then checked
// (test/harness/store-check.ts) against what was acknowledged. After the last cycle the emulator
// runs once more until everything settled, stops gracefully, and the full check must find nothing.
//   CRASH_CYCLES=200 CRASH_SEED=1234 npx vitest run test/reliability-crash-harness.test.ts
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import "./helpers/emulator.js";
import { startChildEmulator, type ChildEmulator } from "./helpers/child-emulator.js";
import { OP_KINDS, startWorkload, type Account, type CycleMode, type OpCounts } from "./harness/crash-workload.js";
import { Ledger } from "./harness/ledger.js";
import { startFileServer, startHookReceiver, type FileServer, type HookReceiver } from "./harness/loopback.js";
import { createRng, seedFromEnv } from "./harness/random.js";
import { settle } from "./harness/settle.js";
import { checkFacts, readStore, summarizeViolations, type StoreCounts, type Violation } from "./harness/store-check.js";

/** Quick mode (CI): 10 cycles, about 60 s on a loaded 2-core machine. */
const CYCLES = Number(process.env.CRASH_CYCLES ?? 10);
const SEED = seedFromEnv();
const TRACKED: Account = { ws: "emulator-workspace", key: "emulator-api-key" };
const SCRATCH: Account = { ws: "scratch", key: "scratch-key" };
const SETTLE_MS = 90_000;

const root = fs.mkdtempSync(path.join(os.tmpdir(), "rf-crash-harness-"));
const dataDir = path.join(root, "data");
const seedFile = path.join(root, "seed.json");
const children: ChildEmulator[] = [];
const peers: (FileServer | HookReceiver)[] = [];
let keep = false;

afterAll(async () => {
  for (const c of children) await c.kill9().catch(() => undefined);
  for (const p of peers) await p.close();
  if (keep) console.log(`[crash-harness] data folder kept for inspection: ${dataDir}`);
  else fs.rmSync(root, { recursive: true, force: true });
});

/** A start that fails because src/ is mid-edit (import or syntax error) is retried once; any other failure is the harness's finding. */
async function start(timeScale: string): Promise<ChildEmulator> {
  const env = { EMULATOR_TIME_SCALE: timeScale, EMULATOR_SEED_FILE: seedFile };
  try {
    const c = await startChildEmulator(dataDir, env);
    children.push(c);
    return c;
  } catch (err) {
    if (!/SyntaxError|ERR_MODULE_NOT_FOUND|TransformError|does not provide an export/.test(String(err))) throw err;
    await new Promise((r) => setTimeout(r, 5000));
    const c = await startChildEmulator(dataDir, env);
    children.push(c);
    return c;
  }
}

const nonZero = (c: OpCounts) => OP_KINDS.filter((k) => c[k] > 0).map((k) => `${k}:${c[k]}`).join(",") || "none";
const storeLine = (c: StoreCounts) => `jobsActive:${c.jobsActive},shardsPending:${c.shardsPending},hooksPending:${c.notifications.pending},orphans:${c.orphanBlobs},tmp:${c.tmpLeftovers}`;

describe("crash-consistency harness", () => {
  it(`${CYCLES} random kills during a mixed workload lose and leak nothing`, async () => {
    console.log(`[crash-harness] seed=${SEED} cycles=${CYCLES}; replay: CRASH_SEED=${SEED} CRASH_CYCLES=${CYCLES} npx vitest run test/reliability-crash-harness.test.ts`);
    const started = Date.now();
    fs.writeFileSync(seedFile, JSON.stringify({ workspaces: [{ id: SCRATCH.ws, apiKeys: [SCRATCH.key] }] }));
    const rng = createRng(SEED);
    const files = await startFileServer();
    const hooks = await startHookReceiver(rng.fork("hooks"), 0.3);
    peers.push(files, hooks);
    const ledger = new Ledger([TRACKED.ws, SCRATCH.ws]);
    const violations: (Violation & { cycle: number | "final" })[] = [];
    const killPoints: string[] = [];
    const modes = { mixed: 0, snapshot: 0 };
    const endings = { kill9: 0, sigterm: 0 };
    const inFlightTotals = Object.fromEntries(OP_KINDS.map((k) => [k, 0])) as OpCounts;
    let importsCut = 0;

    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      const crng = rng.fork(`cycle-${cycle}`);
      // Snapshot cycles run alone (an import replaces the whole world); the third cycle always is one.
      const mode: CycleMode = cycle === 3 || (cycle > 3 && crng.chance(0.2)) ? "snapshot" : "mixed";
      const scale = crng.pick(["max", "20", "50"]);
      const ending = crng.chance(0.15) ? "sigterm" : "kill9";
      const runMs = crng.int(100, 1500);
      const child = await start(scale);
      const workloadViolations: Violation[] = [];
      const wl = startWorkload({ baseUrl: child.url, tracked: TRACKED, scratch: SCRATCH, files, hooks, ledger, rng: crng, violations: workloadViolations }, mode);
      await new Promise((r) => setTimeout(r, runMs));
      const inFlight = wl.inFlight();
      if (ending === "kill9") await child.kill9();
      else await child.stop();
      await wl.stop();
      modes[mode]++;
      endings[ending]++;
      for (const k of OP_KINDS) inFlightTotals[k] += inFlight[k];

      // The store as the kill left it: promises kept, nothing half-visible, nothing lost in flight.
      const facts = readStore(dataDir);
      const opts = { settled: false, strictOrphans: false, acceptedEvents: hooks.acceptedEvents() };
      let note = "";
      if (ledger.pendingImport) {
        // The kill cut an import off: the store must hold the old or the new world, in full.
        importsCut++;
        const before = checkFacts(facts, ledger.expectations(), opts);
        const after = checkFacts(facts, ledger.expectations(ledger.pendingImport), opts);
        const useNew = after.violations.length < before.violations.length;
        note = ` import-cut:${useNew ? "new" : "old"}-world(old ${before.violations.length}/new ${after.violations.length} violations)`;
        ledger.settleImport(useNew);
      }
      const report = checkFacts(facts, ledger.expectations(), opts);
      for (const x of [...workloadViolations, ...report.violations]) violations.push({ cycle, ...x });
      const line = `c${cycle} ${mode} x${scale} ${ending}@${runMs}ms inflight{${nonZero(inFlight)}} acked{${nonZero(wl.acknowledged())}} store{${storeLine(report.counts)}}${note} violations:${report.violations.length + workloadViolations.length}`;
      killPoints.push(line);
      console.log(`[crash-harness] ${line}`);
    }

    // Settle: no more kills, the receiver stops failing, everything in progress must finish.
    hooks.setFailRatio(0);
    const last = await start("max");
    const settled = await settle(last.url, [TRACKED, SCRATCH], SETTLE_MS);
    if (!settled.settled) violations.push({ cycle: "final", kind: "settle-timeout", detail: `still in progress after ${SETTLE_MS} ms: ${JSON.stringify(settled.last)}` });
    // The orphan sweep runs in the background after start: give it time before the graceful stop.
    await new Promise((r) => setTimeout(r, 1000));
    await last.stop();
    let final = checkFacts(readStore(dataDir), ledger.expectations(), { settled: true, strictOrphans: true, acceptedEvents: hooks.acceptedEvents() });
    if (final.counts.orphanBlobs > 0) {
      // A slow sweep is not a leak: an orphan must survive a second start (and its sweep) to count.
      const again = await start("max");
      await new Promise((r) => setTimeout(r, 3000));
      await again.stop();
      final = checkFacts(readStore(dataDir), ledger.expectations(), { settled: true, strictOrphans: true, acceptedEvents: hooks.acceptedEvents() });
    }
    for (const x of final.violations) violations.push({ cycle: "final", ...x });

    const c = final.counts;
    const h = hooks.stats();
    const lost = violations.filter((v) => /missing|lost|short|phantom/.test(v.kind)).length;
    console.log(
      `[crash-harness] summary seed=${SEED}: cycles ${CYCLES} (${modes.mixed} mixed, ${modes.snapshot} snapshot; ${endings.kill9} kill -9, ${endings.sigterm} SIGTERM), ` +
        `requests cut off by kills {${nonZero(inFlightTotals)}}, imports cut ${importsCut}; settled in ${settled.ms} ms; ` +
        `files checked ${c.files} (blobs ${c.blobs}, orphans ${c.orphanBlobs}), acknowledged files ${ledger.expectations().present.length}, jobs ${c.jobs} (${c.jobsSucceeded} succeeded, ${c.resultRecords} result records), ` +
        `notifications delivered ${c.notifications.delivered} / pending ${c.notifications.pending} / failed ${c.notifications.failed} (receiver: ${h.requests} requests, ${h.failed} answered 500), ` +
        `tmp leftovers ${c.tmpLeftovers}, trash leftovers ${c.trashLeftovers}; violations ${violations.length}, lost = ${lost}; ${Math.round((Date.now() - started) / 1000)} s`,
    );
    if (violations.length) {
      keep = true;
      console.log(`[crash-harness] violations (seed ${SEED}):\n${summarizeViolations(violations.map((v) => ({ kind: `${v.kind}@${v.cycle}`, detail: v.detail })), 3)}`);
    }
    expect(violations.map((v) => `cycle ${v.cycle}: ${v.kind}: ${v.detail}`)).toEqual([]);
  }, 120_000 + CYCLES * 20_000);
});
