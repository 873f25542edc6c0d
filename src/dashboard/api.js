// The dashboard's two ways to call the emulator: the control API (/_emulator/*, with the admin token
// when one is set) and the emulated API (with a workspace's key). Calls to the emulated API carry
// X-Emulator-Internal, so neither the journal, the contract report nor fault rules see them.
import { $ } from "./dom.js";

const TOKEN_KEY = "emulator-admin-token";

/** The admin token from the URL's #token=… (then removed from the address bar) or this tab's storage. */
export function loadToken() {
  const m = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

export function saveToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

/** An answer that is not 2xx, with the API's message. */
export class CallError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function answer(res, path) {
  const json = await res.json().catch(() => null);
  if (!res.ok) throw new CallError((json && json.message) || `${path} answered ${res.status}`, res.status);
  return json;
}

/** A control API call; `opts.body` is sent as JSON. */
export async function ctl(token, path, opts = {}) {
  const headers = opts.body !== undefined ? { "content-type": "application/json" } : {};
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(path, { method: opts.method || "GET", headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  if (res.status === 401) {
    $("token-bar").hidden = false;
    throw new CallError("the control API needs the admin token", 401);
  }
  return answer(res, path);
}

/** An emulated API call with the workspace's key. */
export async function api(key, path, method = "GET") {
  const sep = path.includes("?") ? "&" : "?";
  const res = await fetch(`${path}${sep}api_key=${encodeURIComponent(key)}`, { method, headers: { "x-emulator-internal": "dashboard" } });
  return answer(res, path);
}

export const jobPath = (ws, jobId) => `/batch-processing/v1/external/${encodeURIComponent(ws)}/jobs/${encodeURIComponent(jobId)}`;
export const batchPath = (ws, batchId) => `/data-staging/v1/external/${encodeURIComponent(ws)}/batches/${encodeURIComponent(batchId)}`;

/** Query string of the non-empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}
