// Crash-consistency harness: "nothing lost, nothing leaked", proved by killing the emulator at
// random moments of a mixed workload. Each cycle starts the emulator (its own process) on the same
// data folder, runs the seeded workload (test/harness/crash-workload.ts) for 100-1500 ms and kills
// it (kill -9, sometimes SIGTERM) wherever it is; the stopped store is then checked
// (test/harness/store-check.ts) against what was acknowledged. After the last cycle the emulator
// runs once more until everything settled, stops gracefully, and the full check must find nothing.
//   CRASH_CYCLES=200 CRASH_SEED=1234 npx vitest run test/reliability/reliability-crash-harness.test.ts
import Database from "better-sqlite3";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../helpers/emulator.js";
import { startChildEmulator, type ChildEmulator } from "../helpers/child-emulator.js";
import { acceptedEvents, png, startLoopbackServer, tar, type LoopbackServer } from "../helpers/fixtures.js";
import { multipartImage, OP_KINDS, send, startWorkload, type Account, type CycleMode, type OpCounts } from "../harness/crash-workload.js";
import { Ledger, sha256 } from "../harness/ledger.js";
import { createRng, seedFromEnv } from "../harness/random.js";
import { backlog, settle } from "../harness/settle.js";
import {
  checkFacts,
  checkStore,
  fileKey,
  readStore,
  summarizeViolations,
  type ExpectedFile,
  type Expectations,
  type StoreCounts,
  type Violation,
} from "../harness/store-check.js";

/** Quick mode (CI): 20 cycles, about 60 s on a loaded 2-core machine. */
const CYCLES = Number(process.env.CRASH_CYCLES ?? 20);
const SEED = seedFromEnv();
const TRACKED: Account = { ws: "emulator-workspace", key: "emulator-api-key" };
const SCRATCH: Account = { ws: "scratch", key: "scratch-key" };
const SETTLE_MS = 90_000;
/** CRASH_SNAPSHOTS=off leaves out the snapshot cycles (to look at the other classes while import is being fixed). */
const SNAPSHOTS = process.env.CRASH_SNAPSHOTS !== "off";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "rf-crash-harness-"));
const dataDir = path.join(root, "data");
const seedFile = path.join(root, "seed.json");
const children: ChildEmulator[] = [];
const peers: LoopbackServer[] = [];
let keep = false;

// The start-up seed gives every start a second workspace with its own key, the one the workload resets.
beforeAll(() => fs.writeFileSync(seedFile, JSON.stringify({ workspaces: [{ id: SCRATCH.ws, apiKeys: [SCRATCH.key] }] })));

afterAll(async () => {
  for (const c of children) await c.kill9().catch(() => undefined);
  for (const p of peers) await p.close();
  if (keep) console.log(`[crash-harness] data folder kept for inspection: ${dataDir}`);
  else fs.rmSync(root, { recursive: true, force: true });
});

/** A start that fails because src/ is mid-edit (import or syntax error) is retried for a minute; any other failure is the harness's finding. */
async function start(timeScale: string, dir = dataDir): Promise<ChildEmulator> {
  const env = { EMULATOR_TIME_SCALE: timeScale, EMULATOR_SEED_FILE: seedFile };
  for (let attempt = 0; ; attempt++) {
    try {
      const c = await startChildEmulator(dir, env);
      children.push(c);
      return c;
    } catch (err) {
      if (attempt >= 12 || !/SyntaxError|ERR_MODULE_NOT_FOUND|TransformError|does not provide an export/.test(String(err))) throw err;
      await new Promise((r) => setTimeout(r, 5000));
    }
  }
}

const nonZero = (c: OpCounts) =>
  OP_KINDS.filter((k) => c[k] > 0)
    .map((k) => `${k}:${c[k]}`)
    .join(",") || "none";
const storeLine = (c: StoreCounts) =>
  `jobsActive:${c.jobsActive},shardsPending:${c.shardsPending},hooksPending:${c.notifications.pending},orphans:${c.orphanBlobs},tmp:${c.tmpLeftovers}`;

/** Builds a small real store (uploads, a tar shard, a csv job with a webhook), stopped gracefully. */
async function smallStore(dir: string, hooks: LoopbackServer): Promise<Expectations> {
  const child = await start("max", dir);
  const staging = (batch: string, rest: string, q = "") =>
    `${child.url}/data-staging/v1/external/${TRACKED.ws}/batches/${batch}/${rest}?api_key=${TRACKED.key}${q}`;
  const present: ExpectedFile[] = [];
  for (let i = 1; i <= 3; i++) {
    const m = multipartImage(`a${i}.png`, png(900 + i));
    expect((await send(staging("singles", "upload/image", `&fileName=a${i}.png`), "POST", m.body, { "content-type": m.contentType })).status).toBe(200);
    present.push({ ws: TRACKED.ws, batch: "singles", name: `a${i}.png`, sha256: sha256(png(900 + i)), via: { kind: "file" } });
  }
  const slot = (await send(staging("shard", "bulk-upload/image-files"), "POST")).json().signedURLDetails;
  const members = Array.from({ length: 100 }, (_, i) => ({ name: `t${i}.png`, data: png(1000 + i) }));
  expect((await send(slot.uploadURL, "PUT", tar(members), slot.extensionHeaders)).status).toBe(200);
  for (const m of members)
    present.push({ ws: TRACKED.ws, batch: "shard", name: m.name, sha256: sha256(m.data), via: { kind: "shard", shardId: slot.shardId } });
  await waitFor(async () => (await send(staging("shard", "count"), "GET")).json()?.count === 100, 30_000, "the shard to be indexed");
  const job = `${child.url}/batch-processing/v1/external/${TRACKED.ws}/jobs/selftest?api_key=${TRACKED.key}`;
  const def = {
    type: "simple-image-processing-v1",
    jobInput: { type: "staging-batch-input-v1", batchId: "shard" },
    notificationsURL: hooks.url,
    computeConfiguration: { type: "compute-configuration-v2", machineType: "gpu" },
    processingSpecification: { type: "workflows-processing-specification-v1", workspace: TRACKED.ws, workflowId: "wf", aggregationFormat: "csv" },
  };
  expect((await send(job, "POST", JSON.stringify(def), { "content-type": "application/json" })).status).toBe(200);
  await waitFor(async () => (await send(job, "GET", undefined)).json()?.job?.isTerminal, 30_000, "the job to finish");
  await waitFor(async () => (await backlog(child.url, [TRACKED])).webhooksPending === 0, 30_000, "the webhooks to be delivered");
  await child.stop();
  return {
    present,
    allowed: new Map(present.map((f) => [fileKey(f.ws, f.batch, f.name), f.sha256])),
    workspaces: [TRACKED.ws],
    jobs: [{ ws: TRACKED.ws, jobId: "selftest", mustSucceed: true }],
    ingests: [],
  };
}

/** Damage done to a copy of a good store, and the violation the checker must report for it. */
const DAMAGE: { kind: string; apply(dir: string, db: Database.Database): void }[] = [
  {
    kind: "blob-missing",
    apply: (dir, db) => fs.rmSync(path.join(dir, "blobs", (db.prepare("SELECT blob FROM files WHERE file_name = 'a1.png'").get() as { blob: string }).blob)),
  },
  {
    kind: "blob-sha256",
    apply: (dir, db) => {
      const file = path.join(dir, "blobs", (db.prepare("SELECT blob FROM files WHERE file_name = 'a2.png'").get() as { blob: string }).blob);
      const bytes = fs.readFileSync(file);
      bytes[bytes.length - 1] ^= 0xff; // same size, other content
      fs.writeFileSync(file, bytes);
    },
  },
  {
    kind: "orphan-blob",
    apply: (dir) => (
      fs.mkdirSync(path.join(dir, "blobs", "files", "zz"), { recursive: true }),
      fs.writeFileSync(path.join(dir, "blobs", "files", "zz", "left-behind"), png(5))
    ),
  },
  { kind: "ack-missing", apply: (_dir, db) => void db.prepare("DELETE FROM files WHERE file_name = 't5.png'").run() },
  { kind: "unexpected-file", apply: (_dir, db) => void db.prepare("UPDATE files SET file_name = 'never-sent.png' WHERE file_name = 'a3.png'").run() },
  {
    kind: "job-results-short",
    apply: (dir, db) => {
      const row = db.prepare("SELECT seq, blob FROM files WHERE batch_id = 'selftest-processing' AND part_name = 'results' ORDER BY seq LIMIT 1").get() as {
        seq: number;
        blob: string;
      };
      const cut = Buffer.from(
        fs
          .readFileSync(path.join(dir, "blobs", row.blob), "utf8")
          .split("\r\n")
          .slice(0, 20)
          .join("\r\n") + "\r\n",
      );
      fs.writeFileSync(path.join(dir, "blobs", row.blob), cut);
      db.prepare("UPDATE files SET size = ?, sha256 = ? WHERE seq = ?").run(cut.length, sha256(cut), row.seq);
    },
  },
  { kind: "webhook-lost", apply: (_dir, db) => void db.prepare("UPDATE webhooks SET state = 'pending', next_attempt_at = NULL WHERE category = 'job'").run() },
  { kind: "webhook-failed-early", apply: (_dir, db) => void db.prepare("UPDATE webhooks SET state = 'failed', attempts = 2 WHERE category = 'job'").run() },
  {
    kind: "webhook-phantom",
    apply: (_dir, db) => void db.prepare("UPDATE webhooks SET payload = json_set(payload, '$.event_id', 'never-received') WHERE category = 'job'").run(),
  },
  { kind: "job-notification-missing", apply: (_dir, db) => void db.prepare("DELETE FROM webhooks WHERE category = 'job'").run() },
  { kind: "job-missing", apply: (_dir, db) => void db.prepare("DELETE FROM jobs WHERE job_id = 'selftest'").run() },
];

describe("crash-consistency harness", () => {
  it("the store checker passes a good store and names each kind of damage", async () => {
    const hooks = await startLoopbackServer();
    peers.push(hooks);
    const good = path.join(root, "selftest");
    const exp = await smallStore(good, hooks);
    const opts = { settled: true, strictOrphans: true, acceptedEvents: acceptedEvents(hooks) };
    const clean = checkStore(good, exp, opts);
    expect(clean.violations).toEqual([]);
    expect(clean.counts.resultRecords).toBe(100);
    for (const damage of DAMAGE) {
      const copy = path.join(root, `damaged-${damage.kind}`);
      fs.cpSync(good, copy, { recursive: true });
      const db = new Database(path.join(copy, "emulator.sqlite"));
      try {
        damage.apply(copy, db);
      } finally {
        db.close();
      }
      const kinds = checkStore(copy, exp, opts).violations.map((v) => v.kind);
      expect(kinds, damage.kind).toContain(damage.kind);
      fs.rmSync(copy, { recursive: true, force: true });
    }
  }, 180_000);

  it(
    `${CYCLES} random kills during a mixed workload lose and leak nothing`,
    async () => {
      const replay = `CRASH_SEED=${SEED} CRASH_CYCLES=${CYCLES}${SNAPSHOTS ? "" : " CRASH_SNAPSHOTS=off"}`;
      console.log(`[crash-harness] seed=${SEED} cycles=${CYCLES}; replay: ${replay} npx vitest run test/reliability/reliability-crash-harness.test.ts`);
      const started = Date.now();
      const rng = createRng(SEED);
      const files = await startLoopbackServer();
      // A flaky webhook receiver: 30 % of deliveries answered 500 until the settle phase.
      const hookRng = rng.fork("hooks");
      let failRatio = 0.3;
      const hooks = await startLoopbackServer({ answer: () => (hookRng.chance(failRatio) ? 500 : 200) });
      peers.push(files, hooks);
      const ledger = new Ledger([TRACKED.ws, SCRATCH.ws]);
      const violations: (Violation & { cycle: number | "final" })[] = [];
      const seen = new Set<string>();
      /** Keeps the first sighting of each violation (a broken store stays broken in later cycles); returns how many were new. */
      const record = (cycle: number | "final", found: Violation[]) => {
        const fresh = found.filter((x) => !seen.has(`${x.kind}\0${x.detail}`));
        for (const x of fresh) {
          seen.add(`${x.kind}\0${x.detail}`);
          violations.push({ cycle, ...x });
        }
        return fresh.length;
      };
      /** Kills that found this in progress (counted per cycle). */
      const killsWith = { requests: 0, jobs: 0, shards: 0, webhooks: 0 };
      const modes = { mixed: 0, snapshot: 0 };
      const endings = { kill9: 0, sigterm: 0 };
      const inFlightTotals = Object.fromEntries(OP_KINDS.map((k) => [k, 0])) as OpCounts;
      let importsCut = 0;

      for (let cycle = 1; cycle <= CYCLES; cycle++) {
        const crng = rng.fork(`cycle-${cycle}`);
        // Snapshot cycles run alone (an import replaces the whole world); the third cycle always is one.
        const mode: CycleMode = SNAPSHOTS && (cycle === 3 || (cycle > 3 && crng.chance(0.2))) ? "snapshot" : "mixed";
        const scale = crng.pick(["max", "20", "50"]);
        const ending = crng.chance(0.15) ? "sigterm" : "kill9";
        // An import stages every blob before its commit: snapshot cycles run longer so kills land before, at and after the switch.
        const runMs = mode === "snapshot" ? crng.int(300, 4000) : crng.int(100, 1500);
        const child = await start(scale);
        const workloadViolations: Violation[] = [];
        const wl = startWorkload(
          { baseUrl: child.url, tracked: TRACKED, scratch: SCRATCH, files, hooks, ledger, rng: crng, violations: workloadViolations },
          mode,
        );
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
        const opts = { settled: false, strictOrphans: false, acceptedEvents: acceptedEvents(hooks) };
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
        const found = record(cycle, [...workloadViolations, ...report.violations]);
        // stop() falls back to SIGKILL after 5 s: such an ending was a kill after all.
        const how = ending === "sigterm" && child.child.signalCode === "SIGKILL" ? "sigterm->kill9" : ending;
        const line = `c${cycle} ${mode} x${scale} ${how}@${runMs}ms inflight{${nonZero(inFlight)}} acked{${nonZero(wl.acknowledged())}} store{${storeLine(report.counts)}}${note} new violations:${found}`;
        killsWith.requests += OP_KINDS.some((k) => inFlight[k] > 0) ? 1 : 0;
        killsWith.jobs += report.counts.jobsActive > 0 ? 1 : 0;
        killsWith.shards += report.counts.shardsPending > 0 ? 1 : 0;
        killsWith.webhooks += report.counts.notifications.pending > 0 ? 1 : 0;
        console.log(`[crash-harness] ${line}`);
        if (process.env.CRASH_VERBOSE) console.log(`[crash-harness] c${cycle} emulator output:\n${child.output().slice(-3000)}`);
      }

      // Settle: no more kills, the receiver stops failing, everything in progress must finish.
      failRatio = 0;
      const last = await start("max");
      const settled = await settle(last.url, [TRACKED, SCRATCH], SETTLE_MS);
      if (!settled.settled) record("final", [{ kind: "settle-timeout", detail: `still in progress after ${SETTLE_MS} ms: ${JSON.stringify(settled.last)}` }]);
      // The orphan sweep runs in the background after start: give it time before the graceful stop.
      await new Promise((r) => setTimeout(r, 1000));
      await last.stop();
      let final = checkFacts(readStore(dataDir), ledger.expectations(), { settled: true, strictOrphans: true, acceptedEvents: acceptedEvents(hooks) });
      if (final.counts.orphanBlobs > 0) {
        // A slow sweep is not a leak: an orphan must survive a second start (and its sweep) to count.
        const again = await start("max");
        await new Promise((r) => setTimeout(r, 3000));
        await again.stop();
        final = checkFacts(readStore(dataDir), ledger.expectations(), { settled: true, strictOrphans: true, acceptedEvents: acceptedEvents(hooks) });
      }
      record("final", final.violations);

      const c = final.counts;
      const h = { requests: hooks.requests.length, failed: hooks.requests.filter((r) => r.status === 500).length };
      const lost = violations.filter((v) => /missing|lost|short|phantom/.test(v.kind)).length;
      console.log(
        `[crash-harness] summary seed=${SEED}: cycles ${CYCLES} (${modes.mixed} mixed, ${modes.snapshot} snapshot; ${endings.kill9} kill -9, ${endings.sigterm} SIGTERM), ` +
          `kills with requests in flight ${killsWith.requests}, jobs running ${killsWith.jobs}, shards pending ${killsWith.shards}, webhooks pending ${killsWith.webhooks}; ` +
          `requests cut off {${nonZero(inFlightTotals)}}, imports cut ${importsCut}; settled in ${settled.ms} ms; ` +
          `files checked ${c.files} (blobs ${c.blobs}, orphans ${c.orphanBlobs}), acknowledged files ${ledger.expectations().present.length}, jobs ${c.jobs} (${c.jobsSucceeded} succeeded, ${c.resultRecords} result records), ` +
          `notifications delivered ${c.notifications.delivered} / pending ${c.notifications.pending} / failed ${c.notifications.failed} (receiver: ${h.requests} requests, ${h.failed} answered 500), ` +
          `tmp leftovers ${c.tmpLeftovers}, trash leftovers ${c.trashLeftovers}; violations ${violations.length}, lost = ${lost}; ${Math.round((Date.now() - started) / 1000)} s`,
      );
      const found = summarizeViolations(
        violations.map((v) => ({ kind: `${v.kind} (first in cycle ${v.cycle})`, detail: v.detail })),
        3,
      );
      if (violations.length) {
        keep = true;
        console.log(`[crash-harness] violations (seed ${SEED}):\n${found}`);
      }
      expect(violations.length, `crash harness violations, replay with ${replay}:\n${found}`).toBe(0);
    },
    120_000 + CYCLES * 20_000,
  );
});
