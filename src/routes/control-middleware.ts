// What sits in front of every route: the request journal (with bounded body summaries and the
// contract ledger), request fault injection and stubs (the control plane itself is never faulted),
// and the admin token that guards /_emulator when one is configured
// (except the receiver, which webhook senders post to, and the dashboard's static files).
import crypto from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv, Emulator } from "../context.js";
import { pathContext, type FiredFault } from "../controls/faults.js";
import { BodyTap, CLASSIFY_BYTES, tapIncoming, tapOutgoing, tapResponse } from "../controls/journal-capture.js";
import type { RequestView } from "../controls/matchers.js";
import { operationOf } from "../controls/operations.js";
import { ApiError } from "../errors.js";
import { maskHeaders, maskQuery } from "../state/journal.js";
import { FAULT_HEADER } from "./response-check.js";

export const CONTROL_PREFIX = "/_emulator";
/** Requests with this header (the dashboard's polling) are neither journaled nor faulted. */
const INTERNAL_HEADER = "x-emulator-internal";

function isControlPath(path: string): boolean {
  return path === CONTROL_PREFIX || path.startsWith(`${CONTROL_PREFIX}/`) || path === "/health";
}

/** Paths reachable without the admin token: the receiver (senders cannot add it) and the dashboard's static files. */
function isOpenControlPath(method: string, path: string): boolean {
  if (method === "POST" && path.startsWith(`${CONTROL_PREFIX}/receiver/`)) return true;
  if ((method === "GET" || method === "HEAD") && (path === `${CONTROL_PREFIX}/dashboard` || path.startsWith(`${CONTROL_PREFIX}/dashboard/`))) return true;
  return false;
}

/** Journal and request faults first, then the admin token check: both in front of every route. */
export function controlMiddleware(emu: Emulator): MiddlewareHandler<AppEnv>[] {
  return [journalAndFaults(emu), adminToken(emu)];
}

function journalAndFaults(emu: Emulator): MiddlewareHandler<AppEnv> {
  const plane = emu.controls;
  return async (c, next) => {
    const url = new URL(c.req.url);
    const path = url.pathname;
    const control = isControlPath(path);
    const internal = c.req.header(INTERNAL_HEADER) !== undefined;
    const journaled = !internal && (!control || plane.journal.includeControls);
    const at = emu.clock.now();
    const started = performance.now();
    const ctx = pathContext(path);
    const keep = plane.journal.bodyBytes;
    const nodeEnv = c.env as NodeEnv | undefined;
    // The request body is observed as it arrives, whoever reads it and however (see journal-capture.ts).
    const requestTap = journaled && hasBody(c) ? new BodyTap(c.req.header("content-type") ?? null, keep) : null;
    const untap = requestTap && nodeEnv?.incoming ? tapIncoming(nodeEnv.incoming, requestTap) : null;
    // The control plane itself is never faulted: a test must always be able to clear a rule.
    const fault =
      control || internal || plane.faults.none()
        ? null
        : plane.faults.fire({
            domain: "request",
            method: c.req.method,
            path,
            ...ctx,
            request: await requestView(c, url, ctx.workspace, plane.faults.wantsBody()),
          });
    let finished = false;
    // Time to the answer's head, as before bodies were journaled (a download's transfer time is not the emulator's latency).
    let latencyMs: number | null = null;
    const record = (status: number | null, responseTap: BodyTap | null, res: Response | null) => {
      if (finished) return;
      finished = true;
      untap?.();
      if (!journaled) return;
      const operation = operationOf(c);
      const workspace = c.get("workspace") ?? ctx.workspace ?? null;
      const faultRef = fault ? { ruleId: fault.ruleId, type: fault.action.type } : null;
      plane.journal.record({
        at,
        method: c.req.method,
        path,
        query: maskQuery(url.search),
        headers: maskHeaders(c.req.raw.headers),
        status,
        latencyMs: latencyMs ?? elapsed(started),
        workspace,
        fault: faultRef,
        control,
        operation,
        requestBody: requestTap?.summary() ?? null,
        responseHeaders: res ? maskHeaders(res.headers) : null,
        responseBody: responseTap?.summary() ?? null,
      });
      if (!control) {
        plane.contract.observe({
          at,
          method: c.req.method,
          path,
          operation,
          status,
          workspace,
          fault: faultRef,
          requestJson: requestTap?.json(),
          responseJson: status !== null && status >= 400 ? responseTap?.json() : undefined,
        });
      }
    };
    try {
      const injected = fault ? await applyRequestFault(c, fault) : null;
      if (injected?.status === 0) {
        record(null, null, null);
        return injected.response;
      }
      if (injected) c.res = injected.response;
      else await next();
      latencyMs = elapsed(started);
    } catch (err) {
      record(err instanceof ApiError ? err.status : 500, null, null);
      throw err;
    }
    const res = c.res;
    if (!journaled) return record(res.status, null, res);
    // Error answers are always read far enough to be classified; other bodies as far as the journal keeps them.
    const responseTap = new BodyTap(res.headers.get("content-type"), keep, res.status >= 400 ? Math.max(keep, CLASSIFY_BYTES) : keep);
    const done = () => record(res.status, responseTap, res);
    // Recorded when the body has gone through (a download is hashed as it streams), or when the client went away.
    nodeEnv?.outgoing?.once?.("close", done);
    if (c.req.method === "HEAD") return done();
    if (nodeEnv?.outgoing?.write && nodeEnv.outgoing.end)
      return tapOutgoing(nodeEnv.outgoing as Parameters<typeof tapOutgoing>[0], responseTap, contentLengthOf(res), done);
    c.res = undefined;
    c.res = tapResponse(res, responseTap, done);
  };
}

/** The answer's declared body length, or null (chunked). */
function contentLengthOf(res: Response): number | null {
  const v = res.headers.get("content-length");
  const n = v === null ? NaN : Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}

const elapsed = (started: number) => Math.round((performance.now() - started) * 100) / 100;

interface NodeEnv {
  incoming?: IncomingMessage;
  outgoing?: { once?(event: "close", fn: () => void): void; write?: unknown; end?: unknown };
}

function hasBody(c: Context): boolean {
  const length = c.req.header("content-length");
  return (length !== undefined && length.trim() !== "0") || c.req.header("transfer-encoding") !== undefined;
}

/** The request as fault and stub matchers see it; the JSON body is parsed (and cached for the route) only when a rule matches on it. */
async function requestView(c: Context<AppEnv>, url: URL, workspace: string | undefined, wantsBody: boolean): Promise<RequestView> {
  let body: { value?: unknown; why?: string } = { why: "not read" };
  if (wantsBody) {
    const media = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
    if (!hasBody(c)) body = { why: "no body" };
    else if (media !== "application/json" && !media.endsWith("+json")) body = { why: `not JSON (${media || "no content type"})` };
    else
      body = await c.req.json().then(
        (value: unknown) => ({ value }),
        () => ({ why: "malformed JSON" }),
      );
  }
  return { method: c.req.method, path: url.pathname, workspace, query: url.searchParams, header: (n) => c.req.header(n), body: () => body };
}

/** Applies a request fault; returns the response to send instead of the real one (status 0 = connection dropped), or null to go on. */
async function applyRequestFault(c: Context<AppEnv>, fault: FiredFault): Promise<{ status: number; response: Response } | null> {
  const a = fault.action;
  const delay = a.type === "latency" ? a.ms : a.type === "status" || a.type === "drop-connection" || a.type === "respond" ? (a.latencyMs ?? 0) : 0;
  // Wall-clock on purpose: injected latency is aimed at the client's own timeouts.
  if (delay > 0) await new Promise((r) => setTimeout(r, delay));
  if (a.type === "status") {
    const headers: Record<string, string> = { [FAULT_HEADER]: fault.ruleId };
    const retryAfter = a.retryAfter ?? (a.status === 429 || a.status === 503 ? 1 : undefined);
    if (retryAfter !== undefined) headers["Retry-After"] = String(retryAfter);
    const body = new ApiError(
      a.status,
      "injected-fault",
      a.message ?? defaultFaultMessage(a.status),
      undefined,
      `Injected by the emulator's fault rule "${fault.ruleId}" (GET /_emulator/faults lists the rules, DELETE clears them).`,
    ).body();
    return { status: a.status, response: c.json(body, a.status as 500, headers) };
  }
  if (a.type === "respond") {
    const headers = new Headers(a.headers ?? {});
    headers.set(FAULT_HEADER, fault.ruleId);
    let body: string | null = null;
    if (a.body !== undefined) {
      body = typeof a.body === "string" ? a.body : JSON.stringify(a.body);
      if (!headers.has("content-type")) headers.set("content-type", typeof a.body === "string" ? "text/plain; charset=utf-8" : "application/json");
    }
    const empty = a.status === 204 || a.status === 205 || a.status === 304 || c.req.method === "HEAD";
    return { status: a.status, response: new Response(empty ? null : body, { status: a.status, headers }) };
  }
  if (a.type === "drop-connection") {
    const socket = (c.env as { incoming?: { socket?: { destroy(): void } } } | undefined)?.incoming?.socket;
    if (!socket) throw new ApiError(500, "fault-unsupported", "drop-connection needs a real socket (the app was called in-process)");
    socket.destroy();
    return { status: 0, response: new Response(null, { status: 204, headers: { [FAULT_HEADER]: fault.ruleId } }) };
  }
  return null;
}

function defaultFaultMessage(status: number): string {
  if (status === 429) return "Too many requests";
  if (status === 503) return "Service unavailable";
  if (status === 500) return "Internal server error";
  if (status === 502) return "Bad gateway";
  if (status === 504) return "Gateway timeout";
  return `Error ${status}`;
}

function adminToken(emu: Emulator): MiddlewareHandler<AppEnv> {
  const token = emu.config.adminToken;
  return async (c, next) => {
    if (token && c.req.path.startsWith(CONTROL_PREFIX) && !isOpenControlPath(c.req.method, c.req.path)) {
      const m = /^Bearer\s+(.+)$/i.exec(c.req.header("authorization") ?? "");
      if (!m || !safeEqual(m[1].trim(), token)) {
        throw new ApiError(
          401,
          "admin-token-required",
          m ? "Unauthorized: the admin token is not valid" : "Unauthorized: the control API needs the admin token",
          undefined,
          "This emulator was started with --admin-token (EMULATOR_ADMIN_TOKEN): send `Authorization: Bearer <token>` on every /_emulator call.",
        );
      }
    }
    await next();
  };
}

function safeEqual(a: string, b: string): boolean {
  const ha = crypto.createHash("sha256").update(a).digest();
  const hb = crypto.createHash("sha256").update(b).digest();
  return crypto.timingSafeEqual(ha, hb);
}
