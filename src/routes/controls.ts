// Test-double control API under /_emulator. Filled in by the controls area.
import { OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { AppEnv, Emulator } from "../context.js";

export function controlMiddleware(_emu: Emulator): MiddlewareHandler<AppEnv>[] {
  return [];
}

export function controlRoutes(_emu: Emulator) {
  return new OpenAPIHono<AppEnv>();
}
