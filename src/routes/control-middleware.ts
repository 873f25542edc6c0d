// What sits in front of every route: the request journal and request fault injection (the control
// plane itself is never faulted), and the admin token that guards /_emulator when one is configured
// (except the receiver, which webhook senders post to, and the dashboard's static files).
import crypto from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv, Emulator } from "../context.js";
import { pathContext, type FiredFault } from "../controls/faults.js";
import { ApiError } from "../errors.js";
import { maskQuery, selectHeaders } from "../state/journal.js";
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
    const at = emu.clock.now();
    const started = performance.now();
    const ctx = pathContext(path);
    // The control plane itself is never faulted: a test must always be able to clear a rule.
    const fault = control || internal ? null : plane.faults.fire({ domain: "request", method: c.req.method, path, ...ctx });
    let status: number | null = null;
    try {
      if (fault) {
        const injected = await applyRequestFault(c, fault);
        if (injected) {
          status = injected.status === 0 ? null : injected.status;
          return injected.response;
        }
      }
      await next();
      status = c.res.status;
    } finally {
      if (!internal && (!control || plane.journal.includeControls)) {
        plane.journal.record({
          at,
          method: c.req.method,
          path,
          query: maskQuery(url.search),
          headers: selectHeaders((n) => c.req.header(n)),
          status,
          latencyMs: Math.round((performance.now() - started) * 100) / 100,
          workspace: c.get("workspace") ?? ctx.workspace ?? null,
          fault: fault ? { ruleId: fault.ruleId, type: fault.action.type } : null,
          control,
        });
      }
    }
  };
}

/** Applies a request fault; returns the response to send instead of the real one (status 0 = connection dropped), or null to go on. */
async function applyRequestFault(c: Context<AppEnv>, fault: FiredFault): Promise<{ status: number; response: Response } | null> {
  const a = fault.action;
  const delay = a.type === "latency" ? a.ms : a.type === "status" || a.type === "drop-connection" ? (a.latencyMs ?? 0) : 0;
  // Wall-clock on purpose: injected latency is aimed at the client's own timeouts.
  if (delay > 0) await new Promise((r) => setTimeout(r, delay));
  if (a.type === "status") {
    const headers: Record<string, string> = { [FAULT_HEADER]: fault.ruleId };
    const retryAfter = a.retryAfter ?? (a.status === 429 || a.status === 503 ? 1 : undefined);
    if (retryAfter !== undefined) headers["Retry-After"] = String(retryAfter);
    const body = new ApiError(a.status, "injected-fault", a.message ?? defaultFaultMessage(a.status), undefined,
      `Injected by the emulator's fault rule "${fault.ruleId}" (GET /_emulator/faults lists the rules, DELETE clears them).`).body();
    return { status: a.status, response: c.json(body, a.status as 500, headers) };
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
        throw new ApiError(401, "admin-token-required", m ? "Unauthorized: the admin token is not valid" : "Unauthorized: the control API needs the admin token",
          undefined, "This emulator was started with --admin-token (EMULATOR_ADMIN_TOKEN): send `Authorization: Bearer <token>` on every /_emulator call.");
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
