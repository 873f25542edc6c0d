// Batch Processing API (jobs, stages, tasks, logs). Filled in by the jobs area.
import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv, Emulator } from "../context.js";

export function jobRoutes(_emu: Emulator) {
  return new OpenAPIHono<AppEnv>();
}
