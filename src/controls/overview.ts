// One read-only summary of the emulated world for the dashboard: workspaces and keys, batches with
// file counts, parts and shard statuses, the newest jobs with their stages and progress, webhook and
// journal counts, the clock. dashboardState adds what the other views show, so the page that serves
// the dashboard can carry it and paint real data at once.
import { iso } from "../clock.js";
import type { Emulator } from "../context.js";
import { presentJob, presentStage } from "../jobs/presenters.js";
import { listJobs, listStages } from "../state/jobs.js";
import { allBatches, allPartNames, fileCountsByPart, shardStatusCounts, stageProgress } from "../state/overview.js";
import { webhookStateCounts } from "../state/webhooks.js";
import { listWorkspaces } from "../state/workspaces.js";
import { contractReport } from "./contract-report.js";
import { presentFaultRule } from "./faults.js";
import { journalPage } from "./journal.js";
import { clockView } from "./time.js";
import { listDeliveriesWithAttempts } from "./webhooks.js";

/** Jobs shown per workspace (newest first), deliveries and journal entries in the first paint. */
const JOBS_SHOWN = 50;
const RECENT = 50;

export function overview(emu: Emulator) {
  const db = emu.db;
  const batches = allBatches(db);
  const fileCounts = new Map<string, number>();
  for (const r of fileCountsByPart(db)) fileCounts.set(`${r.w}\0${r.b}\0${r.p}`, r.n);
  const shards = shardStatusCounts(db);
  const parts = allPartNames(db);
  const byWs = new Map<string, unknown[]>();
  for (const b of batches) {
    const key = `${b.workspace_id}\0${b.batch_id}`;
    const partNames = parts.filter((p) => p.w === b.workspace_id && p.b === b.batch_id).map((p) => p.p);
    let files = 0;
    for (const [k, n] of fileCounts) if (k.startsWith(`${key}\0`)) files += n;
    const list = byWs.get(b.workspace_id) ?? [];
    list.push({
      batchId: b.batch_id,
      displayName: b.display_name,
      batchType: b.batch_type,
      contentType: b.content_type,
      origin: b.origin,
      createdAt: iso(b.created_at),
      files,
      parts: partNames.map((p) => ({ partName: p, files: fileCounts.get(`${key}\0${p}`) ?? 0 })),
      shards: shards
        .filter((s) => s.w === b.workspace_id && s.b === b.batch_id)
        .map((s) => ({ statusName: s.s, statusType: s.t, shards: s.n, objects: s.objects })),
    });
    byWs.set(b.workspace_id, list);
  }
  const plane = emu.controls;
  const workspaces = listWorkspaces(db);
  return {
    status: "ok",
    clock: clockView(emu),
    defaultWorkspace: emu.config.workspace,
    adminTokenRequired: Boolean(emu.config.adminToken),
    workspaces: workspaces.map((w) => ({ ...w, batches: byWs.get(w.id) ?? [] })),
    jobs: workspaces.flatMap((w) => jobsOf(emu, w.id)),
    webhooks: webhookStateCounts(db),
    journal: { count: plane.journal.count({}), limit: plane.journal.limit },
    faultRules: plane.faults.rows().length,
    // How many uploads were made durable together (src/state/group-commit.ts); the bench reports it.
    uploadCommits: emu.blobs.groupStats(),
  };
}

/** A workspace's newest jobs as the jobs API presents them, with each started stage's finished tasks and progress (0..1). */
function jobsOf(emu: Emulator, ws: string) {
  return listJobs(emu.db, ws, null, JOBS_SHOWN).items.map((row) => {
    const progress = new Map(stageProgress(emu.db, ws, row.job_id).map((p) => [p.stage, p]));
    const stages = listStages(emu.db, ws, row.job_id).map((s) => {
      const st = presentStage(s);
      const p = progress.get(s.stage_id);
      if (st.statusType.includes("success")) return { ...st, tasksDone: st.tasksNumber, fraction: 1 };
      const done = p?.done ?? 0;
      return { ...st, tasksDone: done, fraction: Math.min(1, (done + (p?.partial ?? 0)) / st.tasksNumber) };
    });
    return { workspace: ws, state: row.state, job: presentJob(row), stages };
  });
}

/** Everything the dashboard's views show, as their control endpoints answer it (newest deliveries and journal entries only). */
export async function dashboardState(emu: Emulator) {
  const plane = emu.controls;
  return {
    overview: overview(emu),
    webhooks: { deliveries: listDeliveriesWithAttempts(emu.db, {}).slice(-RECENT) },
    journal: journalPage(plane.journal, { limit: RECENT, order: "desc" }),
    faults: { rules: plane.faults.rows().map(presentFaultRule) },
    contractReport: await contractReport(emu),
  };
}
