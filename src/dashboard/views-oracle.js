// The test-double side of the dashboard: webhook deliveries (payload, every attempt, redeliver), the
// request journal with its bodies and filters, the contract report and the fault rules. Each function
// renders from data it is given; `ui` carries the open <details>, pending actions and handlers.
import { $, bodyView, breakable, code, details, empty, h, headersView, httpPill, muted, pill, pre, pretty, show, table, time } from "./dom.js";

const stateKind = (s) => (s === "delivered" ? "ok" : s === "failed" ? "bad" : "wait");

function attemptLine(a, ui, id) {
  const sent = a.body === null || a.body === undefined || a.body === "" ? null : pretty(a.body);
  return h(
    "div",
    { class: "attempt", dataset: { attempt: a.attempt } },
    h(
      "div",
      { class: "attempt-head" },
      h("span", { class: "mono" }, `#${a.attempt} `),
      a.status === null ? pill("no answer", "bad") : httpPill(a.status),
      h("span", { class: "mono" }, ` ${a.latencyMs} ms `),
      muted(time(a.at)),
    ),
    a.error ? h("div", { class: "attempt-error" }, a.error) : null,
    sent ? details(ui.open, `a:${id}:${a.attempt}`, muted("body sent"), pre(sent)) : null,
  );
}

function deliveryCard(d, ui) {
  return h(
    "article",
    { class: "delivery", dataset: { delivery: d.id, state: d.state } },
    h(
      "div",
      { class: "delivery-head" },
      pill(d.state, stateKind(d.state)),
      h("strong", null, d.category),
      d.subject ? h("span", { class: "subject" }, d.subject) : null,
      muted(`${d.workspace} · created ${time(d.createdAt)}`),
      d.state === "pending" && d.nextAttemptAt ? muted(`· next attempt ${time(d.nextAttemptAt)}`) : null,
      h(
        "button",
        { class: "redeliver", disabled: ui.pending.has(`w:${d.id}`), title: "send this notification once more", onclick: () => ui.on.redeliver(d) },
        "redeliver",
      ),
    ),
    h("div", { class: "mono url" }, "POST ", breakable(d.url), " ", muted(`· ${d.id}`)),
    h(
      "div",
      { class: "delivery-body" },
      h(
        "div",
        { class: "attempts" },
        h("h4", null, `attempts (${d.attempts.length})`),
        d.attempts.length ? d.attempts.map((a) => attemptLine(a, ui, d.id)) : muted("none yet"),
      ),
      h("div", { class: "payload" }, h("h4", null, "payload"), pre(pretty(d.payload))),
    ),
  );
}

export function renderWebhooks(deliveries, ui) {
  const failed = deliveries.filter((d) => d.state === "failed").length;
  $("webhooks-summary").textContent = deliveries.length ? `(${deliveries.length} shown${failed ? `, ${failed} failed` : ""}, newest first)` : "";
  if (!deliveries.length) return show("webhooks", empty("No webhook deliveries yet."));
  show(
    "webhooks",
    h(
      "div",
      { id: "webhooks-list" },
      [...deliveries].reverse().map((d) => deliveryCard(d, ui)),
    ),
  );
}

const bodyLabel = (b) => (b ? `${b.kind} ${b.size} B` : "none");

function journalDetail(e, ui) {
  const summary = `headers and bodies · request ${bodyLabel(e.requestBody)} · response ${bodyLabel(e.responseBody)}`;
  const body = h(
    "div",
    { class: "exchange" },
    h("div", null, h("h4", null, "request headers"), headersView(e.headers)),
    h("div", { class: "request-body" }, h("h4", null, "request body"), bodyView(e.requestBody)),
    h("div", null, h("h4", null, "response headers"), e.responseHeaders ? headersView(e.responseHeaders) : muted("none recorded")),
    h("div", { class: "response-body" }, h("h4", null, "response body"), bodyView(e.responseBody)),
  );
  return h("tr", { class: "detail", dataset: { seq: e.seq } }, h("td", { colspan: 4 }, details(ui.open, `j:${e.seq}`, summary, body)));
}

export function renderJournal(page, ui) {
  $("journal-count").textContent = `(${page.count} matching${page.truncated ? ", page cut at its size cap" : ""})`;
  $("journal-older").disabled = !page.entries.length || page.entries.length >= page.count;
  if (!page.entries.length) return show("journal", empty(ui.filtered ? "No request matches these filters." : "No requests yet."));
  const rows = page.entries.flatMap((e) => [
    h(
      "tr",
      { class: "entry", dataset: { seq: e.seq, status: e.status ?? "dropped" } },
      h("td", { class: "mono" }, time(e.at), h("div", { class: "muted" }, `#${e.seq}${e.workspace ? ` · ${e.workspace}` : ""}`)),
      h(
        "td",
        { class: "mono wrap request" },
        `${e.method} `,
        breakable(e.path),
        e.query ? muted(breakable(`?${e.query}`)) : null,
        e.fault ? [" ", pill(`fault: ${e.fault.type}`, "bad")] : null,
        h("div", { class: "operation" }, muted(e.operation ? breakable(e.operation) : "unknown route")),
      ),
      h("td", null, httpPill(e.status)),
      h("td", { class: "mono" }, String(e.latencyMs)),
    ),
    journalDetail(e, ui),
  ]);
  show("journal", table("journal-table", ["at", "request / operation", "status", "ms"], rows));
}

/** The operation filter's choices: every operation of the emulated API, from the contract report. */
export function renderOperations(report) {
  const sel = document.querySelector('#journal-form [name="operation"]');
  if (!report || sel.options.length > 1 || document.activeElement === sel) return;
  const ops = [...report.operations.exercised, ...report.operations.untouched].map((o) => o.operation).sort();
  sel.append(...ops.map((op) => h("option", { value: op }, op)));
}

function statLine(label, value, kind) {
  return h("div", { class: `stat ${kind ?? ""}` }, h("strong", null, String(value)), " ", label);
}

function findingRow(f) {
  return h(
    "tr",
    { class: f.violation ? "violation" : "finding", dataset: { kind: f.kind } },
    h("td", null, pill(f.kind, f.violation ? "bad" : "wait"), f.injected ? h("div", { class: "muted" }, `injected${f.ruleId ? ` by ${f.ruleId}` : ""}`) : null),
    h("td", { class: "mono" }, time(f.at)),
    h("td", { class: "mono wrap" }, `${f.method} `, breakable(f.path), f.operation ? h("div", { class: "muted" }, breakable(f.operation)) : null),
    h("td", null, httpPill(f.status)),
    h("td", { class: "message" }, pre(f.message, "message"), f.fields.length ? h("div", { class: "muted" }, `fields: ${f.fields.join(", ")}`) : null),
  );
}

const statuses = (s) =>
  Object.entries(s)
    .map(([code, n]) => `${code}×${n}`)
    .join(" ");

export function renderContract(r) {
  $("contract-since").textContent = `since ${time(r.since)}`;
  const s = r.summary;
  const stats = h(
    "div",
    { class: "stats" },
    statLine("requests", s.requests),
    statLine("violations", s.violations, s.violations ? "bad" : "ok"),
    statLine(`of ${s.operationsTotal} operations exercised`, s.operationsExercised),
    statLine("failed webhooks", s.failedWebhooks, s.failedWebhooks ? "bad" : ""),
  );
  const violations = r.findings.filter((f) => f.violation);
  const others = r.findings.filter((f) => !f.violation);
  // The summary's violations are these requests plus the failed webhooks flagged as violations: say so, so the counts add up.
  const hookViolations = r.webhooks.failed.filter((w) => w.violation).length;
  const findingsHead = ["kind", "at", "request", "status", "message"];
  show(
    "contract",
    stats,
    h("h3", null, `Violations: requests (${violations.length})`),
    violations.length
      ? table("violations-table", findingsHead, violations.map(findingRow))
      : empty("None: the real service would have answered every request alike."),
    others.length ? [h("h3", null, `Other findings (${others.length})`), table("findings-table", findingsHead, others.map(findingRow))] : null,
    h("h3", null, `Failed webhooks (${r.webhooks.failed.length}${hookViolations ? `, ${hookViolations} counted as violations` : ""})`),
    r.webhooks.failed.length
      ? table(
          "failed-webhooks-table",
          ["created", "category", "url", "attempts", "last answer"],
          r.webhooks.failed.map((w) =>
            h(
              "tr",
              { dataset: { delivery: w.id } },
              h("td", { class: "mono" }, time(w.createdAt)),
              h("td", null, w.category, w.subject ? h("div", { class: "muted" }, w.subject) : null),
              h("td", { class: "mono wrap" }, breakable(w.url)),
              h("td", null, String(w.attempts)),
              h(
                "td",
                null,
                w.lastStatus === null ? muted("no answer") : httpPill(w.lastStatus),
                w.lastError ? h("div", { class: "wrap" }, w.lastError) : null,
                w.injected ? muted(" injected") : null,
              ),
            ),
          ),
        )
      : empty("None."),
    h("div", { class: "split" }, [
      h(
        "div",
        null,
        h("h3", null, `Operations exercised (${r.operations.exercised.length})`),
        table(
          "exercised-table",
          ["operation", "calls", "statuses"],
          r.operations.exercised.map((o) =>
            h(
              "tr",
              { dataset: { operation: o.operation } },
              h("td", { class: "wrap" }, code(breakable(o.operation))),
              h("td", null, String(o.count)),
              h("td", { class: "mono" }, statuses(o.statuses)),
            ),
          ),
        ),
      ),
      h(
        "div",
        null,
        h("h3", null, `Never touched (${r.operations.untouched.length})`),
        table(
          "untouched-table",
          ["operation", "summary"],
          r.operations.untouched.map((o) =>
            h("tr", { dataset: { operation: o.operation } }, h("td", { class: "wrap" }, code(breakable(o.operation))), h("td", null, o.summary ?? "")),
          ),
        ),
      ),
    ]),
  );
}

export function renderFaults(rules) {
  if (!rules.length) return show("faults", empty("No fault rules."));
  const fires = (r) => (r.times !== null ? `next ${r.times} (${r.remaining} left)` : r.probability !== null ? `p=${r.probability} seed ${r.seed}` : "always");
  const rows = rules.map((r) =>
    h(
      "tr",
      { dataset: { rule: r.id } },
      h("td", null, code(r.id)),
      h("td", null, pre(JSON.stringify(r.match, null, 1))),
      h("td", null, pre(JSON.stringify(r.action, null, 1))),
      h("td", null, fires(r)),
      h("td", null, `${r.fired}/${r.evaluated}`),
    ),
  );
  show("faults", table("faults-table", ["id", "match", "action", "fires", "fired / evaluated"], rows));
}
