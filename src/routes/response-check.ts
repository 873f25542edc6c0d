// Opt-in self-check: every response the emulator sends is validated against the response schemas
// it publishes (the zod schemas of each createRoute, as merged into the app's OpenAPI registry).
// On a mismatch the response is replaced by a loud 500 that names the route, the status and the
// zod issues, so any test that meets a response the published contract does not allow fails.
// Enabled with EMULATOR_CHECK_RESPONSES=1 (the test helper sets it); off in normal use.
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { ZodType } from "zod";
import type { AppEnv } from "../context.js";

export const RESPONSE_CHECK_ENV = "EMULATOR_CHECK_RESPONSES";
/** Responses carrying this header were produced on purpose by fault injection and are not checked. */
export const FAULT_HEADER = "x-emulator-fault";

export function responseCheckEnabled(env: Record<string, string | undefined> = process.env): boolean {
  return env[RESPONSE_CHECK_ENV] === "1" || env[RESPONSE_CHECK_ENV] === "true";
}

interface ResponseSpec {
  description?: string;
  content?: Record<string, { schema?: unknown }>;
}

export interface CheckedRoute {
  method: string;
  /** OpenAPI path, e.g. /data-staging/v1/external/{workspace}/batches/{batchId}. */
  path: string;
  regex: RegExp;
  /** Literal characters in the path: more literal = more specific when two patterns match. */
  specificity: number;
  responses: Record<string, ResponseSpec>;
}

export interface ContractIssue {
  path: string;
  problem: string;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Compiles the registry's route definitions into matchers (called lazily: routes are mounted after the middleware). */
export function compileRoutes(definitions: readonly unknown[]): CheckedRoute[] {
  const out: CheckedRoute[] = [];
  for (const d of definitions) {
    const def = d as { type?: string; route?: { path: string; method: string; responses?: Record<string, ResponseSpec> } } | null;
    if (def?.type !== "route" || !def.route) continue;
    const route = def.route;
    const path = route.path;
    const pieces = path.split(/(\{[^}]+\})/g);
    const regex = new RegExp(`^${pieces.map((p) => (/^\{[^}]+\}$/.test(p) ? "[^/]+" : escapeRegex(p))).join("")}/?$`);
    const specificity = pieces.filter((p) => !/^\{[^}]+\}$/.test(p)).join("").length;
    out.push({ method: String(route.method).toUpperCase(), path, regex, specificity, responses: route.responses ?? {} });
  }
  return out;
}

export function findRoute(routes: readonly CheckedRoute[], method: string, pathname: string): CheckedRoute | undefined {
  const m = method.toUpperCase() === "HEAD" ? "GET" : method.toUpperCase();
  let best: CheckedRoute | undefined;
  for (const r of routes) {
    if (r.method !== m || !r.regex.test(pathname)) continue;
    if (!best || r.specificity > best.specificity) best = r;
  }
  return best;
}

function mediaTypeOf(contentType: string | null): string {
  return (contentType ?? "").split(";")[0].trim().toLowerCase();
}

function isZod(schema: unknown): schema is ZodType {
  return typeof (schema as { safeParse?: unknown })?.safeParse === "function";
}

/**
 * Checks one response against a route's published responses. `readJson` is only called when a JSON
 * schema applies, so binary and streamed bodies are never buffered.
 */
export async function checkResponse(
  route: CheckedRoute,
  status: number,
  contentType: string | null,
  readJson: (() => Promise<unknown>) | null,
): Promise<ContractIssue[]> {
  const spec = route.responses[String(status)] ?? route.responses[`${String(status)[0]}XX`] ?? route.responses.default;
  if (!spec) {
    return [{ path: "(status)", problem: `status ${status} is not among the documented responses (${Object.keys(route.responses).join(", ")})` }];
  }
  const content = spec.content ?? {};
  const declared = Object.keys(content);
  // A response documented without content: the contract says nothing about the body.
  if (declared.length === 0) return [];
  const media = mediaTypeOf(contentType);
  if (!declared.includes(media) && !declared.includes("*/*")) {
    return [
      { path: "(content-type)", problem: `content type "${media || "(none)"}" is not documented for status ${status} (documented: ${declared.join(", ")})` },
    ];
  }
  const schema = content[media]?.schema;
  if (media !== "application/json" || !isZod(schema) || !readJson) return [];
  let body: unknown;
  try {
    body = await readJson();
  } catch (err) {
    return [{ path: "(body)", problem: `body is not valid JSON: ${(err as Error).message}` }];
  }
  const result = schema.safeParse(body);
  if (result.success) return [];
  return result.error.issues.slice(0, 20).map((i) => ({
    path: i.path.length ? i.path.map(String).join(".") : "(body)",
    problem: i.message,
  }));
}

export function violationBody(method: string, route: CheckedRoute, pathname: string, status: number, issues: ContractIssue[]) {
  const list = issues.map((i) => `${i.path}: ${i.problem}`).join("; ");
  return {
    message: `Response contract violation on ${method} ${route.path} (${pathname}): the ${status} response does not match the published schema: ${list}`,
    error: {
      status: 500,
      type: "response-contract-violation",
      issues: issues.map((i) => ({ field: i.path, problem: i.problem })),
      hint: `The emulator sent a response its own OpenAPI document does not allow; fix the route or its schema. (Checked because ${RESPONSE_CHECK_ENV}=1.)`,
    },
  };
}

/** The middleware; install it before any route so it wraps every handler and the error handler. */
export function responseCheck(app: OpenAPIHono<AppEnv>): MiddlewareHandler<AppEnv> {
  let routes: CheckedRoute[] | undefined;
  let compiledFrom = -1;
  return async (c, next) => {
    await next();
    const defs = app.openAPIRegistry.definitions;
    if (!routes || compiledFrom !== defs.length) {
      routes = compileRoutes(defs);
      compiledFrom = defs.length;
    }
    const res = c.res;
    if (res.headers.has(FAULT_HEADER)) return;
    const url = new URL(c.req.url);
    const route = findRoute(routes, c.req.method, url.pathname);
    // Unknown routes get the documented 404 body from notFound; nothing to compare against.
    if (!route) return;
    const issues = await checkResponse(
      route,
      res.status,
      res.headers.get("content-type"),
      c.req.method === "HEAD" ? null : async (): Promise<unknown> => JSON.parse(await res.clone().text()) as unknown,
    );
    if (issues.length === 0) return;
    const body = violationBody(c.req.method, route, url.pathname, res.status, issues);
    console.error(`[emulator] ${body.message}`);
    // Clear first: assigning over an existing response would copy its headers (content-length included).
    c.res = undefined;
    c.res = new Response(JSON.stringify(body), { status: 500, headers: { "content-type": "application/json" } });
  };
}
