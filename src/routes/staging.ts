// Data Staging read side: batch listing and metadata, count, parts, file listing, shards. The
// answers come from src/staging/reads.ts.
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { AppEnv, Emulator } from "../context.js";
import { ApiKeyQuery, errorResponses, jsonContent, WorkspaceParam } from "../contract/common.js";
import {
  BatchPathParams,
  CountQuery,
  CountResponse,
  GetBatchResponse,
  ListBatchesQuery,
  ListBatchesResponse,
  ListFilesQuery,
  ListFilesResponse,
  ListShardsQuery,
  ListShardsResponse,
  PartsResponse,
} from "../contract/staging.js";
import { batchDetails, batchParts, batchesPage, fileCount, filesPage, shardsPage } from "../staging/reads.js";
import { hookFor } from "./validation.js";

const BASE = "/data-staging/v1/external/{workspace}/batches";
const tags = ["Data Staging"];

const listBatchesRoute = createRoute({
  method: "get",
  path: BASE,
  tags,
  summary: "List batches",
  request: { params: z.object({ workspace: WorkspaceParam }), query: ListBatchesQuery },
  responses: { 200: jsonContent(ListBatchesResponse, "A page of batches, oldest first."), ...errorResponses(400) },
});
const getBatchRoute = createRoute({
  method: "get",
  path: `${BASE}/{batchId}`,
  tags,
  summary: "Batch metadata",
  request: { params: BatchPathParams, query: z.object({ api_key: ApiKeyQuery }) },
  responses: { 200: jsonContent(GetBatchResponse, "The batch."), ...errorResponses(400, 404) },
});
const countRoute = createRoute({
  method: "get",
  path: `${BASE}/{batchId}/count`,
  tags,
  summary: "Number of files in a batch (or in one part)",
  request: { params: BatchPathParams, query: CountQuery },
  responses: { 200: jsonContent(CountResponse, "Indexed files so far; bulk ingests are indexed in the background."), ...errorResponses(400, 404) },
});
const partsRoute = createRoute({
  method: "get",
  path: `${BASE}/{batchId}/parts`,
  tags,
  summary: "Parts of a multipart batch",
  request: { params: BatchPathParams, query: z.object({ api_key: ApiKeyQuery }) },
  responses: { 200: jsonContent(PartsResponse, "The parts (empty for simple and sharded batches)."), ...errorResponses(400, 404) },
});
const listFilesRoute = createRoute({
  method: "get",
  path: `${BASE}/{batchId}/list`,
  tags,
  summary: "List files with signed download URLs",
  request: { params: BatchPathParams, query: ListFilesQuery },
  responses: { 200: jsonContent(ListFilesResponse, "A page of files."), ...errorResponses(400, 404) },
});
const shardsRoute = createRoute({
  method: "get",
  path: `${BASE}/{batchId}/shards`,
  tags,
  summary: "Shard (ingest) statuses of a batch",
  request: { params: BatchPathParams, query: ListShardsQuery },
  responses: { 200: jsonContent(ListShardsResponse, "A page of shards."), ...errorResponses(400, 404) },
});

export function stagingRoutes(emu: Emulator) {
  const app = new OpenAPIHono<AppEnv>();

  app.openapi(listBatchesRoute, (c) => c.json({ status: "ok", ...batchesPage(emu, c.get("workspace"), c.req.valid("query")) }, 200), hookFor(listBatchesRoute));

  app.openapi(
    getBatchRoute,
    (c) => c.json({ status: "ok", ...batchDetails(emu, c.get("workspace"), c.req.valid("param").batchId) }, 200),
    hookFor(getBatchRoute),
  );

  app.openapi(
    countRoute,
    (c) => {
      const { batchId } = c.req.valid("param");
      return c.json({ status: "ok", ...fileCount(emu, c.get("workspace"), batchId, c.req.valid("query").partName) }, 200);
    },
    hookFor(countRoute),
  );

  app.openapi(partsRoute, (c) => c.json({ status: "ok", ...batchParts(emu, c.get("workspace"), c.req.valid("param").batchId) }, 200), hookFor(partsRoute));

  app.openapi(
    listFilesRoute,
    (c) => {
      const { batchId } = c.req.valid("param");
      return c.json({ status: "ok", ...filesPage(emu, c.get("workspace"), batchId, c.req.valid("query")) }, 200);
    },
    hookFor(listFilesRoute),
  );

  app.openapi(
    shardsRoute,
    (c) => {
      const { batchId } = c.req.valid("param");
      return c.json({ status: "ok", ...shardsPage(emu, c.get("workspace"), batchId, c.req.valid("query")) }, 200);
    },
    hookFor(shardsRoute),
  );

  return app;
}
