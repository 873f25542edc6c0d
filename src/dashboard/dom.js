// DOM building for the dashboard. Every value is inserted as text (a Text node, textContent or an
// attribute value): nothing from the store is ever parsed as HTML, whatever it contains.

/** An element: props are attributes, `class`, `dataset`, `style` (object), `on<event>` handlers, and the booleans open/disabled/hidden. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = String(dv);
    else if (k === "style") Object.assign(el.style, v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "open" || k === "disabled" || k === "hidden") el[k] = true;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

export const $ = (id) => document.getElementById(id);

/** Puts `nodes` in place of the element's children. */
export function show(id, ...nodes) {
  $(id).replaceChildren(...nodes.flat(Infinity).filter((n) => n !== null && n !== undefined && n !== false));
}

export const muted = (text) => h("span", { class: "muted" }, text);

/** A path, URL or operation with line-break chances after each "/", "?" and "&": it wraps between segments, not inside them. */
export function breakable(text) {
  return String(text)
    .split(/(?<=[/?&])/)
    .flatMap((part, i) => (i ? [h("wbr"), part] : [part]));
}
export const empty = (text) => h("p", { class: "muted" }, text);
export const time = (iso) =>
  iso
    ? String(iso)
        .replace("T", " ")
        .replace(/\.\d+Z$/, "Z")
    : "";
export const code = (text) => h("code", null, text);

export function pill(text, kind) {
  return h("span", { class: `pill ${kind}` }, text);
}

export function statusKind(statusType) {
  const s = String(statusType || "");
  if (s.includes("error") || s.includes("abort")) return "bad";
  if (s.includes("success")) return "ok";
  return "run";
}

export function httpPill(status) {
  return status === null || status === undefined ? pill("dropped", "bad") : pill(String(status), status >= 400 ? "bad" : "ok");
}

export function bar(fraction, kind, label) {
  const pct = Math.max(0, Math.min(100, Math.round(fraction * 100)));
  return h(
    "div",
    { class: `bar ${kind}`, role: "progressbar", "aria-valuenow": pct, "aria-valuemin": 0, "aria-valuemax": 100 },
    h("span", { style: { width: `${pct}%` } }),
    h("em", null, label ?? `${pct}%`),
  );
}

/** A table: `head` is a list of column titles, `rows` a list of <tr> elements. */
export function table(id, head, rows, cls) {
  return h(
    "div",
    { class: "scroll" },
    h(
      "table",
      { id, class: cls },
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          head.map((t) => h("th", null, t)),
        ),
      ),
      h("tbody", null, rows),
    ),
  );
}

/** A value as readable text: strings as they are, everything else as indented JSON. */
export function pretty(value) {
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

/** Pre-formatted text that wraps (long JSON lines, URLs) inside its box. */
export function pre(text, cls) {
  return h("pre", { class: `value ${cls ?? ""}` }, text);
}

/** Only http(s) links: a stored value never becomes a javascript: URL. */
export function safeHref(url) {
  try {
    const u = new URL(url, location.href);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch {
    return null;
  }
}

/** A <details> whose open state survives re-renders (kept in the Map `open` by key, else `byDefault`); `onOpen` runs when it opens. */
export function details(open, key, summary, body, onOpen, byDefault = false) {
  const toggled = (e) => {
    open.set(key, e.target.open);
    if (e.target.open && onOpen) onOpen();
  };
  const isOpen = open.has(key) ? open.get(key) : byDefault;
  return h("details", { open: isOpen, dataset: { key }, ontoggle: toggled }, h("summary", null, summary), body);
}

const bytes = (n) => (n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`);

/** One journal body summary (json, text, binary, multipart) as readable elements. */
export function bodyView(b) {
  if (!b) return muted("no body");
  const about = `${b.kind}${b.contentType ? ` · ${b.contentType}` : ""} · ${bytes(b.size)}${b.complete ? "" : " · not read to its end"}${b.truncated ? " · first bytes only" : ""}`;
  if (b.kind === "json" || b.kind === "text") {
    let text = b.text ?? "";
    if (b.kind === "json" && !b.truncated) {
      try {
        text = JSON.stringify(JSON.parse(text), null, 2);
      } catch {
        // Not parseable as a whole (cut short): shown as received.
      }
    }
    return h("div", { class: "body" }, muted(about), pre(text, "body-text"));
  }
  if (b.kind === "multipart") {
    const rows = (b.parts ?? []).map((p) =>
      h(
        "tr",
        null,
        h("td", { class: "wrap" }, p.name),
        h("td", { class: "wrap" }, p.fileName ?? "—"),
        h("td", { class: "wrap" }, breakable(p.contentType ?? "—")),
        h("td", { class: "nowrap" }, bytes(p.size)),
        h("td", { class: "wrap mono" }, p.value ?? p.sha256 ?? ""),
      ),
    );
    return h("div", { class: "body" }, muted(about), table(null, ["part", "file name", "type", "size", "value / sha256"], rows, "parts"));
  }
  return h("div", { class: "body" }, muted(about), b.sha256 ? h("div", { class: "mono wrap" }, `sha256 ${b.sha256}`) : null);
}

/** Headers as name: value lines. */
export function headersView(headers) {
  const entries = Object.entries(headers ?? {});
  return entries.length ? pre(entries.map(([k, v]) => `${k}: ${v}`).join("\n"), "headers") : muted("none");
}
