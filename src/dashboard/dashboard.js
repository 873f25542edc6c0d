// Dashboard of the emulator: plain browser JavaScript modules, no framework, no build. The page
// arrives with the world embedded (#initial-state) and paints it at once; then it polls the overview
// (clock, workspaces, batches, jobs) and the active view's data once a second. Only views whose data
// changed are drawn again, so open details, selections and scroll positions stay put.
import { api, batchPath, CallError, ctl, jobPath, loadToken, query, saveToken } from "./api.js";
import { $ } from "./dom.js";
import { renderBatches, renderClock, renderJobs, renderLogJobs, renderLogs, renderWorkspaces } from "./views-jobs.js";
import { renderContract, renderFaults, renderJournal, renderOperations, renderWebhooks } from "./views-oracle.js";

const POLL_MS = 1000;
const JOURNAL_PAGE = 50;
const REPORT_EVERY = 5;
const VIEWS = ["jobs", "logs", "webhooks", "journal", "contract", "faults"];

const state = {
  token: null,
  refreshing: false,
  renders: 0,
  polls: 0,
  view: "jobs",
  data: { overview: null, webhooks: null, journal: null, faults: null, contractReport: null },
  /** Batch file lists by "ws/batch": {files, more, count} or {error}. */
  files: new Map(),
  /** Open state of <details> by key, so a redraw keeps what the user opened or closed. */
  open: new Map(),
  /** Actions in flight ("ws/job", "w:<delivery>"): their buttons are disabled. */
  pending: new Set(),
  /** Bumped when something drawn but not in the polled data changes (file lists, pending actions). */
  version: 0,
  drawn: {},
  journal: { filter: {}, before: [] },
  logs: { job: null, severity: "", pageSize: 25, tokens: [""], page: null, error: null },
};

const call = (path, opts) => ctl(state.token, path, opts);

function keyOf(ws) {
  const w = state.data.overview && state.data.overview.workspaces.find((x) => x.id === ws);
  if (!w || !w.apiKeys.length) throw new Error(`workspace "${ws}" has no API key`);
  return w.apiKeys[0];
}

// ---- drawing ---------------------------------------------------------------------------------

/** Draws `name` when what it shows (its signature) changed since it was last drawn. */
function draw(name, data, fn) {
  if (data === null || data === undefined) return;
  const sig = `${state.version}|${JSON.stringify(data)}`;
  if (state.drawn[name] === sig) return;
  state.drawn[name] = sig;
  fn();
}

const ui = () => ({ open: state.open, files: state.files, pending: state.pending, filtered: Object.keys(state.journal.filter).length > 0, on: handlers });

function drawOverview() {
  const ov = state.data.overview;
  if (!ov) return;
  renderClock(ov.clock);
  // The clock is not part of the signature: a running clock would redraw the tables every second.
  draw("world", { w: ov.workspaces, j: ov.jobs }, () => {
    renderWorkspaces(ov);
    renderJobs(ov.jobs, ui());
    renderBatches(ov, ui());
  });
  draw("log-jobs", [ov.jobs.map((e) => `${e.workspace}/${e.job.jobId}`), state.logs.job], () => renderLogJobs(ov.jobs, state.logs.job));
  const hooks = Object.values(ov.webhooks).reduce((a, n) => a + n, 0);
  $("count-jobs").textContent = String(ov.jobs.length);
  $("count-webhooks").textContent = ov.webhooks.failed ? `${hooks} · ${ov.webhooks.failed} failed` : String(hooks);
  $("count-journal").textContent = String(ov.journal.count);
  $("count-faults").textContent = String(ov.faultRules);
  const report = state.data.contractReport;
  $("count-contract").textContent = report ? `${report.summary.violations} violation${report.summary.violations === 1 ? "" : "s"}` : "";
}

function drawAll() {
  drawOverview();
  draw("webhooks", state.data.webhooks, () => renderWebhooks(state.data.webhooks.deliveries, ui()));
  draw("journal", state.data.journal, () => renderJournal(state.data.journal, ui()));
  draw("contract", state.data.contractReport, () => renderContract(state.data.contractReport));
  renderOperations(state.data.contractReport);
  draw("faults", state.data.faults, () => renderFaults(state.data.faults.rules));
  draw("logs", state.logs, () => renderLogs(state.logs));
}

function redraw() {
  state.version++;
  drawAll();
}

// ---- reading ---------------------------------------------------------------------------------

function journalPath() {
  const before = state.journal.before[state.journal.before.length - 1];
  return `/_emulator/journal${query({ order: "desc", limit: JOURNAL_PAGE, before, ...state.journal.filter })}`;
}

async function readJournal() {
  try {
    state.data.journal = await call(journalPath());
    $("journal-error").hidden = true;
  } catch (err) {
    if (!(err instanceof CallError) || err.status !== 400) throw err;
    $("journal-error").hidden = false;
    $("journal-error").textContent = `Filter refused: ${err.message}`;
  }
}

async function readLogs() {
  const l = state.logs;
  if (!l.job) return;
  const token = l.tokens[l.tokens.length - 1];
  try {
    l.page = await api(keyOf(l.job.ws), `${jobPath(l.job.ws, l.job.jobId)}/logs${query({ pageSize: l.pageSize, nextPageToken: token, severity: l.severity })}`);
    l.error = null;
  } catch (err) {
    l.page = null;
    l.error = `Could not read the logs: ${err.message}`;
  }
}

/** What the active view shows beyond the overview (and, every few polls, the report, for the violations count in its tab). */
async function readView() {
  const v = state.view;
  state.polls++;
  if (v !== "contract" && state.polls % REPORT_EVERY === 0) await readReport();
  if (v === "webhooks") state.data.webhooks = await call("/_emulator/webhooks");
  else if (v === "journal") await Promise.all([readJournal(), state.data.contractReport ? null : readReport()]);
  else if (v === "contract") await readReport();
  else if (v === "faults") state.data.faults = await call("/_emulator/faults");
  else if (v === "logs") await readLogs();
}

async function readReport() {
  state.data.contractReport = await call("/_emulator/contract-report");
}

/** A batch's first files (with download links); read again when its file count changed. */
async function loadFiles(ws, batchId, count) {
  const k = `${ws}/${batchId}`;
  const have = state.files.get(k);
  if (have && (have.loading || (!have.error && (count === null || have.count === count)))) return;
  state.files.set(k, { loading: true, files: [], count });
  try {
    const r = await api(keyOf(ws), `${batchPath(ws, batchId)}/list${query({ pageSize: 50 })}`);
    state.files.set(k, { files: r.filesMetadata || [], more: Boolean(r.nextPageToken), count });
  } catch (err) {
    // An output batch may not exist yet (export still writing): read again on the next poll.
    state.files.set(k, { error: `files not readable yet (${err.message})`, files: [], count });
  }
  redraw();
}

/** Output batches of finished jobs are listed without waiting for a click. */
function loadOutputs(ov) {
  for (const e of ov.jobs) {
    if (!e.job.isTerminal) continue;
    for (const st of e.stages)
      for (const b of st.outputBatches || [])
        if (!state.files.has(`${e.workspace}/${b}`) || state.files.get(`${e.workspace}/${b}`).error) void loadFiles(e.workspace, b, null);
  }
}

async function refresh() {
  if (state.refreshing) return;
  state.refreshing = true;
  try {
    const [ov] = await Promise.all([call("/_emulator/overview"), readView()]);
    state.data.overview = ov;
    loadOutputs(ov);
    drawAll();
    $("error").hidden = true;
    $("updated").textContent = `Updated ${new Date().toLocaleTimeString()}.`;
    state.renders++;
    document.body.dataset.renders = String(state.renders);
  } catch (err) {
    $("error").hidden = false;
    $("error").textContent = `Could not refresh: ${err.message}`;
  } finally {
    state.refreshing = false;
  }
}

// ---- acting ----------------------------------------------------------------------------------

function outcome(kind, text) {
  const el = $("outcome");
  el.hidden = false;
  el.dataset.kind = kind;
  el.className = `outcome ${kind}`;
  el.textContent = `${new Date().toLocaleTimeString()} · ${text}`;
}

/** Runs an action with its button disabled, says how it went, then reads the world again. */
async function act(pendingKey, fn, done, failed) {
  if (pendingKey) state.pending.add(pendingKey);
  redraw();
  try {
    outcome("ok", done(await fn()));
  } catch (err) {
    outcome("bad", `${failed}: ${err.message}${err.status ? ` (HTTP ${err.status})` : ""}`);
  } finally {
    if (pendingKey) state.pending.delete(pendingKey);
  }
  redraw();
  await refresh();
}

function jobAction(entry, verb) {
  const { workspace: ws, job } = entry;
  const past = verb === "abort" ? "Aborted" : "Restarted";
  return act(
    `${ws}/${job.jobId}`,
    () => api(keyOf(ws), `${jobPath(ws, job.jobId)}/${verb}`, "POST"),
    (r) => `${past} job "${job.jobId}"${r && r.message ? `: ${r.message}` : ""}`,
    `Could not ${verb} job "${job.jobId}"`,
  );
}

function openLogs(entry) {
  location.hash = `#logs/${encodeURIComponent(entry.workspace)}/${encodeURIComponent(entry.job.jobId)}`;
}

function chooseLogs(ws, jobId) {
  const same = state.logs.job && state.logs.job.ws === ws && state.logs.job.jobId === jobId;
  if (same) return;
  Object.assign(state.logs, { job: ws && jobId ? { ws, jobId } : null, tokens: [""], page: null, error: null });
}

const handlers = {
  abort: (entry) => jobAction(entry, "abort"),
  restart: (entry) => jobAction(entry, "restart"),
  logs: openLogs,
  loadFiles,
  redeliver: (d) =>
    act(
      `w:${d.id}`,
      () => call(`/_emulator/webhooks/${encodeURIComponent(d.id)}/redeliver`, { method: "POST" }),
      () => `Redelivery of the ${d.category} notification ${d.id} queued: a new attempt appears below`,
      `Could not redeliver ${d.id}`,
    ),
};

// ---- views and wiring -----------------------------------------------------------------------

function showView() {
  const [name, ws, jobId] = location.hash.slice(1).split("/").map(decodeURIComponent);
  state.view = VIEWS.includes(name) ? name : "jobs";
  if (state.view === "logs" && ws && jobId) chooseLogs(ws, jobId);
  for (const s of document.querySelectorAll("section.view")) s.hidden = s.dataset.view !== state.view;
  for (const a of document.querySelectorAll("#views a")) a.setAttribute("aria-current", a.dataset.view === state.view ? "page" : "false");
  document.body.dataset.view = state.view;
  drawAll();
  void refresh();
}

function journalFilterFromForm() {
  const f = Object.fromEntries(new FormData($("journal-form")).entries());
  const filter = {};
  for (const k of ["method", "path", "status", "operation"]) if (f[k]) filter[k] = f[k].trim();
  const absent = f.bodyMode === "bodyAbsent";
  if (f.bodyPath || f.bodyValue || absent) filter.bodyPath = f.bodyPath.trim() || "$";
  if (absent) filter.bodyAbsent = "true";
  else if (f.bodyValue) filter[f.bodyMode] = f.bodyValue;
  return filter;
}

function wire() {
  const on = (id, fn) => ($(id).onclick = fn);
  on("reset", () => {
    if (!confirm("Delete every batch, job, webhook and journal entry?")) return;
    state.files.clear();
    chooseLogs(null, null);
    void act(
      null,
      () => call("/_emulator/reset", { method: "POST", body: {} }),
      (r) => `Reset: ${r && r.deleted ? JSON.stringify(r.deleted) : "done"}`,
      "Reset failed",
    );
  });
  $("clock-mode").onchange = (e) => {
    const mode = e.target.value;
    void act(
      null,
      () => call("/_emulator/clock", { method: "POST", body: mode === "scaled" ? { mode, scale: 60 } : { mode } }),
      () => `Clock: ${mode}`,
      "Clock not changed",
    );
  };
  const advance = (body, label) => () =>
    void act(
      null,
      () => call("/_emulator/clock/advance", { method: "POST", body }),
      (r) => `${label}: ${r.fired ?? 0} timer(s) fired`,
      "Clock not advanced",
    );
  on("advance-1s", advance({ ms: 1000 }, "+1 s"));
  on("advance-60s", advance({ ms: 60000 }, "+60 s"));
  on("advance-next", advance({ to: "next" }, "Next timer"));
  on("advance-idle", advance({ to: "idle" }, "Run to idle"));
  on("token-save", () => {
    saveToken($("token").value);
    state.token = $("token").value;
    $("token-bar").hidden = true;
    void refresh();
  });
  $("journal-form").onsubmit = (e) => {
    e.preventDefault();
    state.journal = { filter: journalFilterFromForm(), before: [] };
    void refresh();
  };
  on("journal-clear", () => {
    $("journal-form").reset();
    state.journal = { filter: {}, before: [] };
    void refresh();
  });
  on("journal-newest", () => ((state.journal.before = []), void refresh()));
  on("journal-older", () => {
    const entries = state.data.journal ? state.data.journal.entries : [];
    if (entries.length) state.journal.before.push(entries[entries.length - 1].seq);
    void refresh();
  });
  const logsPage = (change) => () => {
    change(state.logs);
    state.logs.page = null;
    void refresh();
  };
  on(
    "logs-first",
    logsPage((l) => (l.tokens = [""])),
  );
  on(
    "logs-prev",
    logsPage((l) => l.tokens.length > 1 && l.tokens.pop()),
  );
  on(
    "logs-next",
    logsPage((l) => l.page && l.page.nextPageToken && l.tokens.push(l.page.nextPageToken)),
  );
  $("logs-severity").onchange = logsPage((l) => ((l.severity = $("logs-severity").value), (l.tokens = [""])));
  $("logs-size").onchange = logsPage((l) => ((l.pageSize = Number($("logs-size").value)), (l.tokens = [""])));
  $("logs-job").onchange = (e) => {
    const [ws, jobId] = e.target.value.split("/");
    location.hash = e.target.value ? `#logs/${encodeURIComponent(ws)}/${encodeURIComponent(jobId)}` : "#logs";
  };
  on("contract-clear", () => {
    if (!confirm("Forget the run so far and start a new contract report?")) return;
    void act(
      null,
      () => call("/_emulator/contract-report", { method: "DELETE" }),
      () => "A new contract report started",
      "The report was not cleared",
    );
  });
  window.addEventListener("hashchange", showView);
}

/** The world as the page was served with it: drawn before the first paint. */
function paintEmbedded() {
  const el = $("initial-state");
  if (!el) return;
  try {
    Object.assign(state.data, JSON.parse(el.textContent));
  } catch {
    return;
  }
  state.data.contractReport = state.data.contractReport ?? null;
  drawAll();
  document.body.dataset.embedded = "true";
  document.body.dataset.firstDrawAt = String(performance.now());
}

async function loop() {
  await refresh();
  setTimeout(loop, POLL_MS);
}

state.token = loadToken();
wire();
paintEmbedded();
window.emulatorDashboard = { refresh, state };
showView();
setTimeout(loop, POLL_MS);
