// Turns zod-openapi validation failures into the emulator's readable 400s. The hook is built per
// route so it knows the exact schema that failed, which is what did-you-mean needs.
import type { RouteConfig } from "@hono/zod-openapi";
import type { ZodType } from "zod";
import { validationError } from "../errors.js";

function schemaOf(route: RouteConfig, target: string): ZodType | undefined {
  const req = route.request as any;
  if (!req) return undefined;
  if (target === "json") return req.body?.content?.["application/json"]?.schema;
  if (target === "query") return req.query;
  if (target === "param") return req.params;
  if (target === "header") return req.headers;
  return undefined;
}

const TARGET_NAME: Record<string, "body" | "query" | "path" | "header"> = { json: "body", query: "query", param: "path", header: "header" };

export function hookFor(route: RouteConfig): (result: any, c: any) => undefined {
  return (result: any, _c: any): undefined => {
    if (result.success) return undefined;
    const schema = schemaOf(route, result.target);
    throw validationError(result.error, schema ?? (result.error as any), result.data, TARGET_NAME[result.target] ?? result.target);
  };
}
