// GET / (the key's workspace, as the official client discovers it) and GET /health.
import { EMULATOR_VERSION } from "../version.js";
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { AppEnv, Emulator } from "../context.js";
import { ApiKeyQuery, errorResponses, jsonContent } from "../contract/common.js";
import { keyWorkspace } from "./auth.js";
import { hookFor } from "./validation.js";

const WorkspaceResponse = z.object({ workspace: z.string().openapi({ example: "emulator-workspace" }) }).openapi("WorkspaceResponse");

const getWorkspace = createRoute({
  method: "get",
  path: "/",
  tags: ["Workspace"],
  summary: "Workspace of the API key",
  description: "The official client calls the base URL with ?api_key=... to learn its workspace.",
  request: { query: z.object({ api_key: ApiKeyQuery }) },
  responses: { 200: jsonContent(WorkspaceResponse, "The workspace the key belongs to."), ...errorResponses() },
});

const health = createRoute({
  method: "get",
  path: "/health",
  tags: ["Emulator Controls"],
  summary: "Readiness probe",
  responses: { 200: jsonContent(z.object({ status: z.literal("ok"), version: z.string(), uptimeSeconds: z.number() }), "The emulator is ready.") },
});

export function rootRoutes(emu: Emulator) {
  const app = new OpenAPIHono<AppEnv>();
  const started = Date.now();
  app.openapi(getWorkspace, (c) => c.json({ workspace: keyWorkspace(emu, c.req.valid("query").api_key) }, 200), hookFor(getWorkspace));
  app.openapi(health, (c) => c.json({ status: "ok" as const, version: EMULATOR_VERSION, uptimeSeconds: (Date.now() - started) / 1000 }, 200));
  return app;
}
