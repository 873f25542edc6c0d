// The world's side of the dashboard: the clock, workspaces, jobs (stages, outputs, abort / restart /
// logs buttons), batches with their files, and one job's logs page by page. Each function renders
// from data it is given; `ui` carries the open <details>, loaded file lists and the action handlers.
import { $, bar, breakable, code, details, empty, h, muted, pill, pretty, pre, safeHref, show, statusKind, table, time } from "./dom.js";

const ADVANCE_BUTTONS = ["advance-1s", "advance-60s", "advance-next", "advance-idle"];

export function renderClock(clock) {
  const next = clock.nextTimerAt ? ` · next ${time(clock.nextTimerAt)}` : "";
  $("clock").textContent = `${clock.mode}${clock.mode === "scaled" ? ` ×${clock.scale}` : ""} · ${time(clock.now)} · ${clock.pendingTimers} timer(s)${next}`;
  $("clock").dataset.mode = clock.mode;
  const sel = $("clock-mode");
  if (document.activeElement !== sel) sel.value = clock.mode;
  for (const id of ADVANCE_BUTTONS) $(id).disabled = clock.mode !== "manual";
}

export function renderWorkspaces(ov) {
  show(
    "workspaces",
    ov.workspaces.map((w) =>
      h(
        "div",
        { class: "card", dataset: { workspace: w.id } },
        h("h3", null, w.id, " ", w.id === ov.defaultWorkspace ? muted("(default)") : null),
        h("div", { class: "muted" }, "keys: ", w.apiKeys.length ? w.apiKeys.map((k, i) => [i ? ", " : "", code(k)]) : "none"),
        h("div", null, `${w.batches.length} batch(es), ${w.batches.reduce((a, b) => a + b.files, 0)} file(s)`),
      ),
    ),
  );
}

/** The job's state as one word (plus the running stage). */
export function jobStateText(entry) {
  const { job, state } = entry;
  if (!job.isTerminal) return job.currentStage ? `running: ${job.currentStage}` : "queued";
  if (state === "aborted") return "aborted";
  return job.error ? "failed" : "succeeded";
}

function jobPill(entry) {
  const text = jobStateText(entry);
  return pill(text, text === "succeeded" ? "ok" : text === "queued" ? "wait" : text.startsWith("running") ? "run" : "bad");
}

const notificationText = (n) => (n === null || n === undefined ? "" : typeof n === "string" ? n : n.message || n.type || "");

function stageRows(entry) {
  return (entry.job.plannedStages || []).map((name) => {
    const st = entry.stages.find((s) => s.processingStageName === name || s.processingStageId === name);
    if (!st) return h("div", { class: "stage" }, h("span", null, name), bar(0, "", "not started"), muted("—"));
    const kind = statusKind(st.statusType);
    return h(
      "div",
      { class: "stage", dataset: { stage: st.processingStageId } },
      h("span", null, st.processingStageName),
      bar(st.fraction, kind === "run" ? "" : kind, `${st.tasksDone}/${st.tasksNumber} tasks`),
      h("span", null, pill(st.statusType, kind)),
    );
  });
}

/** A batch's files (first page) as download links, once loaded. */
function fileLinks(list) {
  if (!list) return muted("loading…");
  if (list.error) return muted(list.error);
  if (!list.files.length) return muted("no files");
  return h(
    "ul",
    { class: "files" },
    list.files.map((f) => {
      const label = `${f.partName ? `${f.partName}/` : ""}${f.fileName}`;
      const href = safeHref(f.downloadURL);
      return h("li", null, href ? h("a", { class: "download", href }, breakable(label)) : breakable(label));
    }),
    list.more ? h("li", { class: "muted" }, "…") : null,
  );
}

function outputs(entry, ui) {
  const list = entry.stages.flatMap((st) =>
    (st.outputBatches || []).map((b) => {
      const key = `${entry.workspace}/${b}`;
      const files = ui.files.get(key);
      const count = files && !files.error ? ` (${files.files.length}${files.more ? "+" : ""} file${files.files.length === 1 ? "" : "s"})` : "";
      const small = Boolean(files && !files.error && files.files.length <= 4);
      return details(ui.open, `o:${key}`, [code(b), count], fileLinks(files), () => ui.on.loadFiles(entry.workspace, b, null), small);
    }),
  );
  return list.length ? list : muted("—");
}

function jobActions(entry, ui) {
  const { job, state } = entry;
  const key = `${entry.workspace}/${job.jobId}`;
  const busy = ui.pending.has(key);
  return h(
    "div",
    { class: "buttons" },
    job.isTerminal ? null : h("button", { class: "abort danger", disabled: busy, title: "abort this job", onclick: () => ui.on.abort(entry) }, "abort"),
    job.isTerminal && (job.error || state === "aborted" || state === "failed")
      ? h("button", { class: "restart", disabled: busy, title: "restart this job", onclick: () => ui.on.restart(entry) }, "restart")
      : null,
    h("button", { class: "logs", title: "this job's logs", onclick: () => ui.on.logs(entry) }, "logs"),
  );
}

export function renderJobs(entries, ui) {
  if (!entries.length) return show("jobs", empty("No jobs yet."));
  const rows = entries.map((entry) => {
    const { job } = entry;
    return h(
      "tr",
      { dataset: { job: job.jobId, workspace: entry.workspace, terminal: job.isTerminal, error: job.error, state: entry.state } },
      h(
        "td",
        { class: "job-id" },
        code(job.jobId),
        job.name && job.name !== job.jobId ? h("div", { class: "job-name wrap" }, job.name) : null,
        h("div", { class: "muted" }, entry.workspace),
        h("div", { class: "muted" }, (job.jobDefinition && job.jobDefinition.type) || ""),
      ),
      h(
        "td",
        { class: "job-state" },
        jobPill(entry),
        job.lastNotification ? h("div", { class: "muted notification" }, notificationText(job.lastNotification)) : null,
      ),
      h("td", { class: "stages" }, stageRows(entry)),
      h("td", { class: "outputs" }, outputs(entry, ui)),
      h("td", { class: "mono" }, time(job.lastUpdate)),
      h("td", { class: "actions-cell" }, jobActions(entry, ui)),
    );
  });
  show("jobs", table("jobs-table", ["job", "state", "stages", "outputs", "last update", ""], rows));
}

export function renderBatches(ov, ui) {
  const batches = ov.workspaces.flatMap((w) => w.batches.map((b) => ({ ws: w.id, ...b })));
  if (!batches.length) return show("batches", empty("No batches yet."));
  const rows = batches.map((b) => {
    const key = `${b.ws}/${b.batchId}`;
    const files = ui.files.get(key);
    return h(
      "tr",
      { dataset: { batch: b.batchId } },
      h("td", { class: "nowrap" }, b.ws),
      h("td", { class: "wrap" }, code(b.batchId), b.displayName !== b.batchId ? h("div", { class: "muted" }, b.displayName) : null),
      h("td", { class: "nowrap" }, b.batchType),
      h("td", { class: "nowrap" }, b.contentType),
      h("td", { class: "nowrap" }, b.origin),
      h("td", { class: "files" }, String(b.files)),
      h(
        "td",
        { class: "file-list" },
        b.files ? details(ui.open, `b:${key}`, "show", fileLinks(files), () => ui.on.loadFiles(b.ws, b.batchId, b.files)) : muted("—"),
      ),
      h("td", { class: "nowrap" }, b.parts.length ? b.parts.map((p) => h("div", null, `${p.partName} (${p.files})`)) : muted("—")),
      h(
        "td",
        null,
        b.shards.length ? b.shards.map((s) => h("div", null, pill(s.statusName, statusKind(s.statusType)), ` ×${s.shards} (${s.objects} obj)`)) : muted("—"),
      ),
      h("td", { class: "mono" }, time(b.createdAt)),
    );
  });
  show("batches", table("batches-table", ["workspace", "batch", "type", "content", "origin", "files", "names", "parts", "shards", "created"], rows));
}

/** The job picker of the logs view: every listed job, the chosen one selected. */
export function renderLogJobs(entries, chosen) {
  const sel = $("logs-job");
  if (document.activeElement === sel) return;
  const value = chosen ? `${chosen.ws}/${chosen.jobId}` : "";
  const options = entries.map((e) => h("option", { value: `${e.workspace}/${e.job.jobId}` }, `${e.job.jobId} (${e.workspace})`));
  sel.replaceChildren(h("option", { value: "" }, "—"), ...options);
  sel.value = value;
}

export function renderLogs(logs) {
  $("logs-title").textContent = logs.job ? `· ${logs.job.jobId} (${logs.job.ws})` : "";
  $("logs-page").textContent = logs.job
    ? `page ${logs.tokens.length}${logs.page && !logs.page.nextPageToken ? " (last)" : ""} · ${logs.pageSize} per page`
    : "";
  $("logs-prev").disabled = logs.tokens.length <= 1;
  $("logs-first").disabled = logs.tokens.length <= 1;
  $("logs-next").disabled = !(logs.page && logs.page.nextPageToken);
  if (!logs.job) return show("logs", empty("Pick a job (its “logs” button in Jobs & batches, or the list above)."));
  if (logs.error) return show("logs", empty(logs.error));
  if (!logs.page) return show("logs", empty("Loading…"));
  if (!logs.page.logs.length) return show("logs", empty(logs.tokens.length > 1 ? "No more logs." : "No logs yet."));
  const rows = logs.page.logs.map((l) =>
    h(
      "tr",
      { dataset: { severity: l.severity } },
      h("td", { class: "mono" }, time(l.createdAt)),
      h("td", null, pill(l.severity, l.severity === "error" ? "bad" : l.severity === "warning" ? "warn" : "wait")),
      h("td", { class: "mono" }, l.processingStageId ?? "—", l.taskId ? h("div", { class: "muted" }, l.taskId) : null),
      h("td", null, l.logType, h("div", { class: "muted" }, l.reportingModule)),
      h("td", { class: "payload" }, pre(pretty(l.payload))),
    ),
  );
  show("logs", table("logs-table", ["at", "severity", "stage / task", "type", "payload"], rows));
}
