// One read-only summary of the emulated world for the dashboard: workspaces and keys, batches with
// file counts, parts and shard statuses, webhook and journal counts, the clock. Jobs are read by the
// dashboard from the emulated jobs API itself, so this file does not depend on the jobs schema.
import { iso } from "../clock.js";
import type { Emulator } from "../context.js";
import { allBatches, allPartNames, fileCountsByPart, shardStatusCounts } from "../state/overview.js";
import { webhookStateCounts } from "../state/webhooks.js";
import { listWorkspaces } from "../state/workspaces.js";
import { clockView } from "./time.js";

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
      shards: shards.filter((s) => s.w === b.workspace_id && s.b === b.batch_id).map((s) => ({ statusName: s.s, statusType: s.t, shards: s.n, objects: s.objects })),
    });
    byWs.set(b.workspace_id, list);
  }
  const plane = emu.controls;
  return {
    status: "ok",
    clock: clockView(emu),
    defaultWorkspace: emu.config.workspace,
    adminTokenRequired: Boolean(emu.config.adminToken),
    workspaces: listWorkspaces(db).map((w) => ({ ...w, batches: byWs.get(w.id) ?? [] })),
    webhooks: webhookStateCounts(db),
    journal: { count: plane.journal.count({}), limit: plane.journal.limit },
    faultRules: plane.faults.rows().length,
  };
}
