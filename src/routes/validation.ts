// Turns zod-openapi validation failures into the emulator's readable 400s. The hook is built per
// route so it knows the exact schema that failed, which is what did-you-mean needs.
import type { RouteConfig } from "@hono/zod-openapi";
import type { ZodError, ZodType } from "zod";
import { validationError } from "../errors.js";

/** What @hono/zod-openapi hands a validation hook (only the fields read here). */
type HookResult = { target: string; success: true } | { target: string; success: false; error: ZodError; data?: unknown };

function schemaOf(route: RouteConfig, target: string): ZodType | undefined {
  const req = route.request;
  if (!req) return undefined;
  const pick = (s: unknown): ZodType | undefined => (s && typeof s === "object" && "safeParse" in s ? (s as ZodType) : undefined);
  const json = req.body?.content?.["application/json"];
  if (target === "json") return pick(json && "schema" in json ? json.schema : undefined);
  if (target === "query") return pick(req.query);
  if (target === "param") return pick(req.params);
  if (target === "header") return pick(req.headers);
  return undefined;
}

const TARGET_NAME: Record<string, "body" | "query" | "path" | "header"> = { json: "body", query: "query", param: "path", header: "header" };

export function hookFor(route: RouteConfig): (result: HookResult) => undefined {
  return (result): undefined => {
    if (result.success) return undefined;
    const schema = schemaOf(route, result.target);
    throw validationError(result.error, schema ?? (result.error as unknown as ZodType), result.data, TARGET_NAME[result.target] ?? "body");
  };
}
