// Operations of the published API, named as /openapi.json names them: "METHOD /path/{param}" (the
// routes declare no operationId). The journal names the operation of each request from the route
// Hono matched; the contract report lists every operation of the emulated API from the same route
// declarations /openapi.json is generated from (the app's OpenAPI registry).
import type { Context } from "hono";
import { matchedRoutes } from "hono/route";
import type { Emulator } from "../context.js";

export interface Operation {
  /** "GET /data-staging/v1/external/{workspace}/batches" */
  id: string;
  method: string;
  path: string;
  summary: string | null;
  tags: string[];
}

export const CONTROL_PATH_PREFIX = "/_emulator";

export const operationId = (method: string, openApiPath: string) => `${method.toUpperCase()} ${openApiPath}`;

/** Hono's "/a/:b/c" as OpenAPI's "/a/{b}/c". */
const toOpenApiPath = (honoPath: string) => honoPath.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, "{$1}");

/** The operation of the route that answered (or would have, had a middleware not answered first); null for an unknown route. */
export function operationOf(c: Context): string | null {
  let routes: { method: string; path: string }[];
  try {
    routes = matchedRoutes(c);
  } catch {
    return null;
  }
  const method = c.req.method === "HEAD" ? "GET" : c.req.method;
  for (let i = routes.length - 1; i >= 0; i--) {
    const r = routes[i];
    if (r.method === "ALL" || r.path.includes("*")) continue;
    if (r.method === method || r.method === c.req.method) return operationId(method, toOpenApiPath(r.path));
  }
  return null;
}

interface RouteDefinition {
  type?: string;
  route?: { method?: string; path?: string; summary?: string; tags?: string[] };
}

/** Every operation of the emulated API (not /_emulator), in declaration order; built once per emulator from the app's registry. */
export async function emulatedOperations(emu: Emulator): Promise<Operation[]> {
  const plane = emu.controls;
  if (plane.operations) return plane.operations;
  // Loaded when first asked for: app.ts imports the control routes, which import this module.
  const { buildApp } = await import("../app.js");
  const defs = buildApp(emu).openAPIRegistry.definitions as readonly RouteDefinition[];
  const seen = new Set<string>();
  const out: Operation[] = [];
  for (const d of defs) {
    if (d.type !== "route" || !d.route?.path || !d.route.method) continue;
    const path = d.route.path;
    if (path === CONTROL_PATH_PREFIX || path.startsWith(`${CONTROL_PATH_PREFIX}/`) || path === "/health") continue;
    const id = operationId(d.route.method, path);
    if (seen.has(id)) continue;
    seen.add(id);
    out.push({ id, method: d.route.method.toUpperCase(), path, summary: d.route.summary ?? null, tags: d.route.tags ?? [] });
  }
  plane.operations = out;
  return out;
}
