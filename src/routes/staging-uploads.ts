// Data staging ingestion: single image, video and tar-shard upload URLs, the signed PUT, and
// reference / RoboQL ingests. Filled in by the ingestion work.
import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv, Emulator } from "../context.js";

export function stagingUploadRoutes(_emu: Emulator) {
  return new OpenAPIHono<AppEnv>();
}
