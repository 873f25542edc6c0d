// Dashboard of the emulator: plain browser JavaScript, no framework, no build. It polls the control
// API (/_emulator/*) and the emulated API (jobs, stages, tasks, file lists) once a second. Calls to
// the emulated API carry X-Emulator-Internal so the journal and fault rules ignore them.
"use strict";

(function () {
  const POLL_MS = 1000;
  const state = { token: null, refreshing: false, renders: 0, outputs: new Map(), jobs: [] };
  const $ = (id) => document.getElementById(id);

  const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const time = (iso) => (iso ? iso.replace("T", " ").replace(/\.\d+Z$/, "Z") : "");

  function loadToken() {
    const m = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
    if (m) {
      sessionStorage.setItem("emulator-admin-token", decodeURIComponent(m[1]));
      history.replaceState(null, "", location.pathname);
    }
    state.token = sessionStorage.getItem("emulator-admin-token");
  }

  async function ctl(path, opts = {}) {
    const headers = { ...(opts.body !== undefined ? { "content-type": "application/json" } : {}) };
    if (state.token) headers.authorization = `Bearer ${state.token}`;
    const res = await fetch(path, { method: opts.method || "GET", headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    if (res.status === 401) {
      $("token-bar").hidden = false;
      throw new Error("the control API needs the admin token");
    }
    const json = await res.json().catch(() => null);
    if (!res.ok) throw new Error((json && json.message) || `${path} answered ${res.status}`);
    return json;
  }

  async function api(key, path) {
    const sep = path.includes("?") ? "&" : "?";
    const res = await fetch(`${path}${sep}api_key=${encodeURIComponent(key)}`, { headers: { "x-emulator-internal": "dashboard" } });
    if (!res.ok) throw new Error(`${path} answered ${res.status}`);
    return res.json();
  }

  function pill(text, kind) {
    return `<span class="pill ${kind}">${esc(text)}</span>`;
  }

  function statusKind(statusType) {
    const s = String(statusType || "");
    if (s.includes("error")) return "bad";
    if (s.includes("success")) return "ok";
    return "run";
  }

  function bar(fraction, kind, label) {
    const pct = Math.max(0, Math.min(100, Math.round(fraction * 100)));
    return `<div class="bar ${kind}" role="progressbar" aria-valuenow="${pct}" aria-valuemin="0" aria-valuemax="100"><span style="width:${pct}%"></span><em>${esc(label ?? `${pct}%`)}</em></div>`;
  }

  // ---- data ------------------------------------------------------------------------------------

  async function jobsOf(ws) {
    const key = ws.apiKeys[0];
    if (!key) return [];
    let list;
    try {
      list = await api(key, `/batch-processing/v1/external/${encodeURIComponent(ws.id)}/jobs?pageSize=50`);
    } catch {
      return [];
    }
    const jobs = list.jobs || [];
    return Promise.all(jobs.map(async (job) => {
      const base = `/batch-processing/v1/external/${encodeURIComponent(ws.id)}/jobs/${encodeURIComponent(job.jobId)}`;
      const stages = (await api(key, `${base}/stages`).catch(() => ({ stages: [] }))).stages || [];
      for (const st of stages) {
        if (String(st.statusType).includes("success")) {
          st.done = st.tasksNumber;
          st.fraction = 1;
          continue;
        }
        const tasks = (await api(key, `${base}/stages/${encodeURIComponent(st.processingStageId)}/tasks?pageSize=1000`).catch(() => ({ tasks: [] }))).tasks || [];
        const done = tasks.filter((t) => String(t.statusType).includes("success")).length;
        const partial = tasks.filter((t) => !String(t.statusType).includes("success") && typeof t.progress === "number").reduce((a, t) => a + Math.min(1, t.progress > 1 ? t.progress / 100 : t.progress), 0);
        st.done = done;
        st.fraction = st.tasksNumber > 0 ? Math.min(1, (done + partial) / st.tasksNumber) : 0;
      }
      if (job.isTerminal) await loadOutputs(ws, key, stages);
      return { ws: ws.id, job, stages };
    }));
  }

  /** Output batch file lists (with signed download URLs), fetched once the job is over. */
  async function loadOutputs(ws, key, stages) {
    for (const st of stages) {
      for (const batchId of st.outputBatches || []) {
        const k = `${ws.id}/${batchId}`;
        if (state.outputs.has(k)) continue;
        try {
          const r = await api(key, `/data-staging/v1/external/${encodeURIComponent(ws.id)}/batches/${encodeURIComponent(batchId)}/list?pageSize=50`);
          state.outputs.set(k, r.filesMetadata || []);
        } catch {
          // The batch may not exist yet (export still writing); try again on the next poll.
        }
      }
    }
  }

  // ---- rendering -------------------------------------------------------------------------------

  function renderClock(clock) {
    $("clock").textContent = `${clock.mode}${clock.mode === "scaled" ? ` ×${clock.scale}` : ""} · ${time(clock.now)} · ${clock.pendingTimers} timer(s)${clock.nextTimerAt ? ` · next ${time(clock.nextTimerAt)}` : ""}`;
    $("clock").dataset.mode = clock.mode;
    const sel = $("clock-mode");
    if (document.activeElement !== sel) sel.value = clock.mode;
    const manual = clock.mode === "manual";
    for (const id of ["advance-1s", "advance-60s", "advance-next", "advance-idle"]) $(id).disabled = !manual;
  }

  function renderWorkspaces(ov) {
    $("workspaces").innerHTML = ov.workspaces.map((w) => `
      <div class="card" data-workspace="${esc(w.id)}">
        <h3>${esc(w.id)} ${w.id === ov.defaultWorkspace ? '<span class="muted">(default)</span>' : ""}</h3>
        <div class="muted">keys: ${w.apiKeys.map((k) => `<code>${esc(k)}</code>`).join(", ") || "none"}</div>
        <div>${w.batches.length} batch(es), ${w.batches.reduce((a, b) => a + b.files, 0)} file(s)</div>
      </div>`).join("");
  }

  function renderBatches(ov) {
    const rows = ov.workspaces.flatMap((w) => w.batches.map((b) => ({ ws: w.id, ...b })));
    if (!rows.length) return void ($("batches").innerHTML = '<p class="muted">No batches yet.</p>');
    $("batches").innerHTML = `<table id="batches-table"><thead><tr><th>workspace</th><th>batch</th><th>type</th><th>content</th><th>origin</th><th>files</th><th>parts</th><th>shards</th><th>created</th></tr></thead><tbody>${rows.map((b) => `
      <tr data-batch="${esc(b.batchId)}">
        <td>${esc(b.ws)}</td><td><code>${esc(b.batchId)}</code>${b.displayName !== b.batchId ? `<br><span class="muted">${esc(b.displayName)}</span>` : ""}</td>
        <td>${esc(b.batchType)}</td><td>${esc(b.contentType)}</td><td>${esc(b.origin)}</td><td class="files">${b.files}</td>
        <td>${b.parts.map((p) => `${esc(p.partName)} (${p.files})`).join("<br>") || '<span class="muted">—</span>'}</td>
        <td>${b.shards.map((s) => `${pill(s.statusName, statusKind(s.statusType))} ×${s.shards} (${s.objects} obj)`).join("<br>") || '<span class="muted">—</span>'}</td>
        <td class="mono">${esc(time(b.createdAt))}</td>
      </tr>`).join("")}</tbody></table>`;
  }

  function jobPill(job) {
    if (job.isTerminal && job.error) return pill("failed", "bad");
    if (job.isTerminal) return pill("succeeded", "ok");
    return pill(job.currentStage ? `running: ${job.currentStage}` : "queued", job.currentStage ? "run" : "wait");
  }

  function renderJobs(entries) {
    if (!entries.length) return void ($("jobs").innerHTML = '<p class="muted">No jobs yet.</p>');
    $("jobs").innerHTML = `<table id="jobs-table"><thead><tr><th>job</th><th>state</th><th>stages</th><th>outputs</th><th>last update</th></tr></thead><tbody>${entries.map(({ ws, job, stages }) => `
      <tr data-job="${esc(job.jobId)}" data-terminal="${job.isTerminal}" data-error="${job.error}">
        <td><code>${esc(job.jobId)}</code><br><span class="muted">${esc(ws)} · ${esc(job.jobDefinition && job.jobDefinition.type)}</span></td>
        <td class="job-state">${jobPill(job)}${job.lastNotification ? `<br><span class="muted">${esc(typeof job.lastNotification === "string" ? job.lastNotification : job.lastNotification.message || job.lastNotification.type || "")}</span>` : ""}</td>
        <td>${(job.plannedStages || []).map((name) => {
          const st = stages.find((s) => s.processingStageName === name || s.processingStageId === name);
          if (!st) return `<div class="stage"><span>${esc(name)}</span>${bar(0, "", "not started")}<span class="muted">—</span></div>`;
          const kind = statusKind(st.statusType);
          return `<div class="stage" data-stage="${esc(st.processingStageId)}"><span>${esc(st.processingStageName)}</span>${bar(st.fraction, kind === "run" ? "" : kind, `${st.done}/${st.tasksNumber} tasks`)}<span>${pill(st.statusType, kind)}</span></div>`;
        }).join("")}</td>
        <td class="outputs">${stages.flatMap((st) => (st.outputBatches || []).map((b) => {
          const files = state.outputs.get(`${ws}/${b}`);
          return `<details${files && files.length <= 4 ? " open" : ""}><summary><code>${esc(b)}</code> ${files ? `(${files.length} file${files.length === 1 ? "" : "s"})` : ""}</summary>${(files || []).slice(0, 20).map((f) => `<div><a class="download" href="${esc(f.downloadURL)}">${esc(f.partName ? `${f.partName}/` : "")}${esc(f.fileName)}</a></div>`).join("")}</details>`;
        })).join("") || '<span class="muted">—</span>'}</td>
        <td class="mono">${esc(time(job.lastUpdate))}</td>
      </tr>`).join("")}</tbody></table>`;
  }

  function renderWebhooks(deliveries) {
    if (!deliveries.length) return void ($("webhooks").innerHTML = '<p class="muted">None.</p>');
    $("webhooks").innerHTML = `<table id="webhooks-table"><thead><tr><th>created</th><th>category</th><th>url</th><th>state</th><th>attempts</th></tr></thead><tbody>${deliveries.slice(-15).reverse().map((d) => `
      <tr><td class="mono">${esc(time(d.createdAt))}</td><td>${esc(d.category)}<br><span class="muted">${esc(d.subject || "")}</span></td><td class="mono wrap">${esc(d.url)}</td>
      <td>${pill(d.state, d.state === "delivered" ? "ok" : d.state === "failed" ? "bad" : "wait")}</td>
      <td>${d.attempts.map((a) => `<div class="mono" style="white-space:nowrap">#${a.attempt} ${a.status ?? "—"} ${a.error ? esc(a.error) : ""} <span class="muted">${a.latencyMs} ms</span></div>`).join("")}</td></tr>`).join("")}</tbody></table>`;
  }

  function renderJournal(j) {
    $("journal-count").textContent = `(${j.count})`;
    if (!j.entries.length) return void ($("journal").innerHTML = '<p class="muted">Empty.</p>');
    $("journal").innerHTML = `<table id="journal-table"><thead><tr><th>at</th><th>request</th><th>status</th><th>ms</th></tr></thead><tbody>${j.entries.map((e) => `
      <tr><td class="mono">${esc(time(e.at))}</td><td class="mono wrap">${esc(e.method)} ${esc(e.path)}${e.query ? `<span class="muted">?${esc(e.query)}</span>` : ""}${e.fault ? ` ${pill(`fault: ${e.fault.type}`, "bad")}` : ""}</td>
      <td>${e.status === null ? pill("dropped", "bad") : pill(e.status, e.status >= 400 ? "bad" : "ok")}</td><td class="mono">${e.latencyMs}</td></tr>`).join("")}</tbody></table>`;
  }

  function renderFaults(rules) {
    if (!rules.length) return void ($("faults").innerHTML = '<p class="muted">None.</p>');
    $("faults").innerHTML = `<table><thead><tr><th>id</th><th>match</th><th>action</th><th>fires</th><th>fired</th></tr></thead><tbody>${rules.map((r) => `
      <tr><td><code>${esc(r.id)}</code></td><td class="mono wrap">${esc(JSON.stringify(r.match))}</td><td class="mono wrap">${esc(JSON.stringify(r.action))}</td>
      <td>${r.times !== null ? `next ${r.times} (${r.remaining} left)` : r.probability !== null ? `p=${r.probability} seed ${r.seed}` : "always"}</td><td>${r.fired}/${r.evaluated}</td></tr>`).join("")}</tbody></table>`;
  }

  // ---- loop ------------------------------------------------------------------------------------

  async function refresh() {
    if (state.refreshing) return;
    state.refreshing = true;
    try {
      const [ov, hooks, journal, faults] = await Promise.all([
        ctl("/_emulator/overview"),
        ctl("/_emulator/webhooks"),
        ctl("/_emulator/journal?order=desc&limit=30"),
        ctl("/_emulator/faults"),
      ]);
      renderClock(ov.clock);
      renderWorkspaces(ov);
      renderBatches(ov);
      const jobs = (await Promise.all(ov.workspaces.map(jobsOf))).flat();
      state.jobs = jobs;
      renderJobs(jobs);
      renderWebhooks(hooks.deliveries);
      renderJournal(journal);
      renderFaults(faults.rules);
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

  async function act(fn) {
    try {
      await fn();
    } catch (err) {
      $("error").hidden = false;
      $("error").textContent = err.message;
    }
    await refresh();
  }

  function wire() {
    $("reset").onclick = () => {
      if (!confirm("Delete every batch, job, webhook and journal entry?")) return;
      state.outputs.clear();
      act(() => ctl("/_emulator/reset", { method: "POST", body: {} }));
    };
    $("clock-mode").onchange = (e) => {
      const mode = e.target.value;
      act(() => ctl("/_emulator/clock", { method: "POST", body: mode === "scaled" ? { mode, scale: 60 } : { mode } }));
    };
    $("advance-1s").onclick = () => act(() => ctl("/_emulator/clock/advance", { method: "POST", body: { ms: 1000 } }));
    $("advance-60s").onclick = () => act(() => ctl("/_emulator/clock/advance", { method: "POST", body: { ms: 60000 } }));
    $("advance-next").onclick = () => act(() => ctl("/_emulator/clock/advance", { method: "POST", body: { to: "next" } }));
    $("advance-idle").onclick = () => act(() => ctl("/_emulator/clock/advance", { method: "POST", body: { to: "idle" } }));
    $("token-save").onclick = () => {
      sessionStorage.setItem("emulator-admin-token", $("token").value);
      state.token = $("token").value;
      $("token-bar").hidden = true;
      refresh();
    };
  }

  async function loop() {
    await refresh();
    setTimeout(loop, POLL_MS);
  }

  loadToken();
  wire();
  window.emulatorDashboard = { refresh, state };
  loop();
})();
