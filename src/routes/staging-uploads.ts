// Data staging ingestion routes: single image, video and tar-shard upload URLs, the signed PUT, and
// reference / RoboQL ingests. Each handler parses the request, calls its service in src/staging/
// and answers; uploads are acknowledged only once durable (see src/staging/uploads.ts).
import { OpenAPIHono, createRoute } from "@hono/zod-openapi";
import type { AppEnv, Emulator } from "../context.js";
import { errorResponses, jsonContent } from "../contract/common.js";
import { BatchPathParams } from "../contract/staging.js";
import {
  BinaryBodyDoc,
  BulkUploadQuery,
  ImageReferencesBody,
  ImageReferencesResponse,
  MAX_IMAGE_BYTES,
  MAX_IMAGES_PER_SHARD,
  MultipartImageBodyDoc,
  RoboqlBody,
  RoboqlResponse,
  ShardUploadResponse,
  SignedUploadParams,
  StatusOkResponse,
  UploadImageQuery,
  UploadVideoQuery,
  VideoReferencesBody,
  VideoUploadResponse,
  VideoReferencesResponse,
} from "../contract/staging-uploads.js";
import { incomingBody } from "../http/body.js";
import { ingestImageReferences, ingestRoboql, ingestVideoReferences } from "../staging/ingests.js";
import { createShardSlot, createVideoSlot, receiveSignedPut } from "../staging/signed-slots.js";
import { UPLOAD_PATH_PREFIX } from "../staging/signed-urls.js";
import { uploadImage } from "../staging/uploads.js";
import { hookFor } from "./validation.js";

const BASE = "/data-staging/v1/external/{workspace}/batches/{batchId}";
const tags = ["Data Staging"];

// ---- route declarations ------------------------------------------------------------------------

const uploadImageRoute = createRoute({
  method: "post",
  path: `${BASE}/upload/image`,
  tags,
  summary: "Upload a single image",
  description:
    "multipart/form-data with exactly one file part (any field name). The batch is created on the first upload (simple-batch of images). " +
    "Re-uploading a fileName replaces it. Answered only once the image is durable. Single-image and bulk uploads cannot be mixed in one batch.",
  request: {
    params: BatchPathParams,
    query: UploadImageQuery,
    body: { required: true, content: { "multipart/form-data": { schema: MultipartImageBodyDoc } } },
  },
  responses: { 200: jsonContent(StatusOkResponse, "The image is stored."), ...errorResponses(400, 409, 413, 415) },
});

const uploadVideoRoute = createRoute({
  method: "post",
  path: `${BASE}/upload/video`,
  tags,
  summary: "Request a signed URL to upload a video",
  description: "PUT the video to signedURLDetails.uploadURL with exactly the extensionHeaders. The batch is a simple-batch of videos.",
  request: { params: BatchPathParams, query: UploadVideoQuery },
  responses: { 200: jsonContent(VideoUploadResponse, "Where and how to PUT the video."), ...errorResponses(400, 409) },
});

const shardUploadRoute = createRoute({
  method: "post",
  path: `${BASE}/bulk-upload/image-files`,
  tags,
  summary: "Request a signed URL to upload a tar shard of images",
  description:
    `PUT an uncompressed .tar of up to ${MAX_IMAGES_PER_SHARD} images (each at most ${MAX_IMAGE_BYTES} bytes) to signedURLDetails.uploadURL with exactly the extensionHeaders. ` +
    "The shard is indexed in the background: the count rises shortly after the PUT. A notification_config.json member {ingestId, notificationsURL} enables webhooks.",
  request: { params: BatchPathParams, query: BulkUploadQuery },
  responses: { 200: jsonContent(ShardUploadResponse, "Where and how to PUT the shard."), ...errorResponses(400, 409) },
});

const signedPutRoute = createRoute({
  method: "put",
  path: `${UPLOAD_PATH_PREFIX}{generation}/{workspace}/{batchId}/{token}`,
  tags: ["Signed URLs"],
  summary: "Upload bytes to a signed upload URL",
  description:
    "No api_key: the URL's signature authorises the upload. Send the headers from extensionHeaders exactly. The body is streamed to disk. " +
    "Like a cloud-storage URL, it takes any number of PUTs until it expires: the last complete body wins (a shard PUT again is indexed again from that body).",
  request: { params: SignedUploadParams, body: { required: true, content: { "application/octet-stream": { schema: BinaryBodyDoc } } } },
  responses: {
    200: jsonContent(StatusOkResponse, "Stored (videos) or stored and queued for indexing (tar shards)."),
    400: { description: "Missing or different extension headers, or an interrupted body." },
    403: { description: "Missing, invalid or expired signature." },
    404: { description: "The upload slot no longer exists, or the URL was issued before a reset." },
    413: { description: "The body is larger than the slot allows; nothing was stored." },
    507: { description: "The emulator's disk is full; nothing was stored (it recovers once space is freed)." },
  },
});

const imageReferencesRoute = createRoute({
  method: "post",
  path: `${BASE}/bulk-upload/image-references`,
  tags,
  summary: "Ingest images from URLs",
  description:
    "The emulator downloads each {name, url} in the background (URLs mapped with --url-map, and loopback URLs; others fail as unsafe-url-detected). " +
    "The same ingestId and body again answers duplicated=true and does nothing. Without ingestId, the id is derived from the body, so repeating a request is also de-duplicated.",
  request: { params: BatchPathParams, query: BulkUploadQuery, body: { required: true, content: { "application/json": { schema: ImageReferencesBody } } } },
  responses: { 200: jsonContent(ImageReferencesResponse, "Ingest accepted."), ...errorResponses(400, 409, 413, 415) },
});

const videoReferencesRoute = createRoute({
  method: "post",
  path: `${BASE}/bulk-upload/video-references`,
  tags,
  summary: "Ingest videos from URLs",
  description: "Like image-references, for videos (the batch is a simple-batch of videos).",
  request: { params: BatchPathParams, query: BulkUploadQuery, body: { required: true, content: { "application/json": { schema: VideoReferencesBody } } } },
  responses: { 200: jsonContent(VideoReferencesResponse, "Ingest accepted."), ...errorResponses(400, 409, 413, 415) },
});

const roboqlRoute = createRoute({
  method: "post",
  path: `${BASE}/roboql-ingest`,
  tags,
  summary: "Ingest images selected by a RoboQL query (not emulated)",
  description: `Accepted and recorded, but the emulator has no RoboQL engine: the ingest's shard ends with statusName "roboql-not-supported" (statusType error) and an ingest-status notification with success=false.`,
  request: { params: BatchPathParams, body: { required: true, content: { "application/json": { schema: RoboqlBody } } } },
  responses: { 200: jsonContent(RoboqlResponse, "Ingest recorded."), ...errorResponses(400, 409, 413, 415) },
});

// ---- handlers ------------------------------------------------------------------------------------

export function stagingUploadRoutes(emu: Emulator) {
  const app = new OpenAPIHono<AppEnv>();

  app.openapi(
    uploadImageRoute,
    async (c) => {
      const { batchId } = c.req.valid("param");
      const { fileName, displayName } = c.req.valid("query");
      await uploadImage(emu, { ws: c.get("workspace"), batchId, fileName, displayName, body: incomingBody(c) });
      return c.json({ status: "ok" }, 200);
    },
    hookFor(uploadImageRoute),
  );

  app.openapi(
    uploadVideoRoute,
    (c) => {
      const { batchId } = c.req.valid("param");
      return c.json({ status: "ok", signedURLDetails: createVideoSlot(emu, c.get("workspace"), batchId, c.req.valid("query")) }, 200);
    },
    hookFor(uploadVideoRoute),
  );

  app.openapi(
    shardUploadRoute,
    (c) => {
      const { batchId } = c.req.valid("param");
      return c.json({ status: "ok", signedURLDetails: createShardSlot(emu, c.get("workspace"), batchId, c.req.valid("query").displayName) }, 200);
    },
    hookFor(shardUploadRoute),
  );

  app.openapi(
    signedPutRoute,
    async (c) => {
      await receiveSignedPut(emu, { ...c.req.valid("param"), url: new URL(c.req.url), header: (name) => c.req.header(name), body: incomingBody(c) });
      return c.json({ status: "ok" }, 200);
    },
    hookFor(signedPutRoute),
  );

  app.openapi(
    imageReferencesRoute,
    (c) => {
      const { batchId } = c.req.valid("param");
      return c.json({ status: "ok", ...ingestImageReferences(emu, c.get("workspace"), batchId, c.req.valid("json"), c.req.valid("query").displayName) }, 200);
    },
    hookFor(imageReferencesRoute),
  );

  app.openapi(
    videoReferencesRoute,
    (c) => {
      const { batchId } = c.req.valid("param");
      return c.json({ status: "ok", ...ingestVideoReferences(emu, c.get("workspace"), batchId, c.req.valid("json"), c.req.valid("query").displayName) }, 200);
    },
    hookFor(videoReferencesRoute),
  );

  app.openapi(
    roboqlRoute,
    (c) => {
      const { batchId } = c.req.valid("param");
      return c.json({ status: "ok", ...ingestRoboql(emu, c.get("workspace"), batchId, c.req.valid("json")) }, 200);
    },
    hookFor(roboqlRoute),
  );

  return app;
}
