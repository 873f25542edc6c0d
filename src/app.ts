// Builds the Hono app: middleware, every API area, the OpenAPI document and the one error shape.
import type { MiddlewareHandler } from "hono";
import { isStorageFull } from "./state/storage-full.js";
import { OpenAPIHono } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv, Emulator } from "./context.js";
import { ApiError, tooLarge } from "./errors.js";
import { bodyTypeLookup, unsupportedMediaType } from "./http/media-types.js";
import { routeNotFound } from "./http/not-found.js";
import { rootRoutes } from "./routes/root.js";
import { stagingRoutes } from "./routes/staging.js";
import { stagingUploadRoutes } from "./routes/staging-uploads.js";
import { downloadRoutes } from "./routes/downloads.js";
import { jobRoutes } from "./routes/jobs.js";
import { controlRoutes } from "./routes/controls.js";
import { controlMiddleware } from "./routes/control-middleware.js";
import { requireWorkspaceKey } from "./routes/auth.js";
import { responseCheck, responseCheckEnabled } from "./routes/response-check.js";

/** 20,000 references with long signed URLs fit comfortably; anything bigger is a mistake. */
export const MAX_JSON_BODY_BYTES = 32 * 1024 * 1024;

export const API_TITLE = "Roboflow Batch Processing & Data Staging API (emulator)";
export const API_VERSION = "1.0.0";

export function buildApp(emu: Emulator): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  const bodyTypes = bodyTypeLookup(() => app.getOpenAPI31Document(openApiInfo()));

  app.use("*", async (c, next) => {
    c.set("requestStart", performance.now());
    await next();
  });
  // Opt-in (tests): every response is checked against the schemas this app publishes.
  if (responseCheckEnabled()) app.use("*", responseCheck(app));
  // Journal and fault injection sit in front of everything the emulated API serves.
  for (const mw of controlMiddleware(emu)) app.use("*", mw);

  app.use("/data-staging/v1/external/:workspace/*", requireWorkspaceKey(emu));
  app.use("/batch-processing/v1/external/:workspace/*", requireWorkspaceKey(emu));
  // JSON bodies are parsed in memory: cap them (uploads are streamed and have their own limits).
  const limitBody = bodyLimit({
    maxSize: MAX_JSON_BODY_BYTES,
    onError: () => {
      throw tooLarge(
        `JSON body larger than ${MAX_JSON_BODY_BYTES} bytes`,
        "Split reference ingests into requests of at most 20,000 references, as the official client does.",
      );
    },
  });
  // Reads carry no body to parse: skipping the check spares every job GET the Request object it builds.
  const jsonLimit: MiddlewareHandler<AppEnv> = (c, next) => (c.req.method === "GET" || c.req.method === "HEAD" ? next() : limitBody(c, next));
  app.use("/batch-processing/v1/external/:workspace/*", jsonLimit);
  for (const kind of ["image-references", "video-references"]) app.use(`/data-staging/v1/external/:workspace/batches/:batchId/bulk-upload/${kind}`, jsonLimit);
  app.use("/data-staging/v1/external/:workspace/batches/:batchId/roboql-ingest", jsonLimit);

  app.route("/", rootRoutes(emu));
  app.route("/", stagingRoutes(emu));
  app.route("/", stagingUploadRoutes(emu));
  app.route("/", downloadRoutes(emu));
  app.route("/", jobRoutes(emu));
  app.route("/", controlRoutes(emu));

  app.doc31("/openapi.json", openApiInfo());

  app.notFound((c) => c.json(routeNotFound(c.req.method, c.req.url).body(), 404));

  app.onError((err, c) => {
    if (err instanceof ApiError) {
      for (const [k, v] of Object.entries(err.headers ?? {})) c.header(k, v);
      return c.json(err.body(), err.status as 400);
    }
    if (err instanceof HTTPException) {
      if (err.status === 415)
        return c.json(unsupportedMediaType(c.req.method, c.req.path, bodyTypes(c.req.method, c.req.path), c.req.header("content-type")).body(), 415);
      const status = err.status;
      const msg = err.message || "Bad request";
      const hint = /json/i.test(msg) ? "The body must be valid JSON sent with Content-Type: application/json." : undefined;
      const type = /json/i.test(msg) ? "malformed-json" : "bad-request";
      return c.json(new ApiError(status, type, msg, undefined, hint).body(), status);
    }
    if (isStorageFull(err)) {
      return c.json(
        new ApiError(
          507,
          "insufficient-storage",
          "The emulator's disk is full: nothing was stored",
          undefined,
          "Free space in the emulator's data folder (DATA_DIR); it recovers by itself, no restart needed. Reads keep working meanwhile.",
        ).body(),
        507,
      );
    }
    console.error("[emulator] unexpected error on", c.req.method, c.req.path, err);
    return c.json(
      new ApiError(
        500,
        "internal-error",
        `Internal emulator error: ${err?.message ?? String(err)}`,
        undefined,
        "This is a bug in the emulator; please report it with the request that caused it.",
      ).body(),
      500,
    );
  });

  return app;
}

export function openApiInfo() {
  return {
    openapi: "3.1.0",
    info: {
      title: API_TITLE,
      version: API_VERSION,
      description: "Local emulator of Roboflow's Data Staging and Batch Processing REST APIs, plus test-double controls under /_emulator.",
    },
    servers: [{ url: "http://127.0.0.1:9010" }],
    tags: [
      { name: "Workspace", description: "Workspace discovery, as the official client uses it." },
      { name: "Data Staging", description: "Batches, uploads, listing and export." },
      { name: "Signed URLs", description: "Upload and download URLs served by the emulator itself." },
      { name: "Batch Processing", description: "Jobs, stages, tasks and logs." },
      { name: "Emulator Controls", description: "Test-double controls that the real service lacks (reset, seed, journal, faults, time)." },
    ],
  };
}
