// Data staging ingestion: single image, video and tar-shard upload URLs, the signed PUT, and
// reference / RoboQL ingests. Uploads are acknowledged only once durable: the bytes are fsynced
// and renamed into the blob tree and the file row is committed before the 200.
import { OpenAPIHono, createRoute } from "@hono/zod-openapi";
import crypto from "node:crypto";
import type { AppEnv, Emulator } from "../context.js";
import { errorResponses, jsonContent } from "../contract/common.js";
import { BatchPathParams } from "../contract/staging.js";
import {
  BinaryBodyDoc, BulkUploadQuery, ImageReferencesBody, ImageReferencesResponse, MAX_IMAGE_BYTES, MAX_IMAGES_PER_SHARD, MAX_SHARD_BYTES,
  MAX_VIDEO_BYTES, MultipartImageBodyDoc, RoboqlBody, RoboqlResponse, ShardUploadResponse, SignedUploadParams, StatusOkResponse,
  UploadImageQuery, UploadVideoQuery, VideoReferencesBody, VideoUploadResponse, VideoReferencesResponse, type ReferencesBody,
} from "../contract/staging-uploads.js";
import { ApiError, badRequest, conflict, notFound, tooLarge } from "../errors.js";
import { declaredLength, formatBytes, receiveBodyToTemp, requestBodyStream } from "../http/body.js";
import { fileNameProblem } from "../http/file-names.js";
import { receiveSingleFile } from "../http/multipart.js";
import { ACCEPTED_IMAGE_FORMATS, readHead, sniff, videoMediaType } from "../http/sniff.js";
import { upsertFile } from "../state/batches.js";
import {
  BULK_IMAGES, SINGLE_IMAGES, VIDEOS, checkBatchTarget, consumeUploadSlot, ensureBatch, getIngest, getUploadSlot, insertIngest, insertUploadSlot,
  listShardsOfIngest, type BatchTarget, type IngestKind, type UploadSlotRow,
} from "../state/ingests.js";
import { insertShard } from "../state/shards.js";
import { signedUrl } from "../signing.js";
import { ROBOQL_NOT_EMULATED, REFERENCES_PER_SHARD, scheduleShard } from "../staging/ingest/worker.js";
import { markDuplicates, type ReferencePayload } from "../staging/ingest/references.js";
import { checkSignature } from "./downloads.js";
import { hookFor } from "./validation.js";

const BASE = "/data-staging/v1/external/{workspace}/batches/{batchId}";
const tags = ["Data Staging"];
/** Signed upload URLs stay valid this long (emulator clock). */
export const UPLOAD_URL_TTL_MS = 24 * 60 * 60 * 1000;
export const UPLOAD_PATH_PREFIX = "/_signed/uploads/";
/** The header a GCS-style signed upload URL binds; the PUT must repeat it exactly. */
export const CONTENT_LENGTH_RANGE_HEADER = "X-Goog-Content-Length-Range";
/** Room for multipart boundaries, part headers and small text fields around one image. */
const MULTIPART_OVERHEAD_BYTES = 2 * 1024 * 1024;

export function extensionHeadersFor(maxSize: number): Record<string, string> {
  return { [CONTENT_LENGTH_RANGE_HEADER]: `0,${maxSize}` };
}

// ---- route declarations ------------------------------------------------------------------------

const uploadImageRoute = createRoute({
  method: "post", path: `${BASE}/upload/image`, tags, summary: "Upload a single image",
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
  method: "post", path: `${BASE}/upload/video`, tags, summary: "Request a signed URL to upload a video",
  description: "PUT the video to signedURLDetails.uploadURL with exactly the extensionHeaders. The batch is a simple-batch of videos.",
  request: { params: BatchPathParams, query: UploadVideoQuery },
  responses: { 200: jsonContent(VideoUploadResponse, "Where and how to PUT the video."), ...errorResponses(400, 409) },
});

const shardUploadRoute = createRoute({
  method: "post", path: `${BASE}/bulk-upload/image-files`, tags, summary: "Request a signed URL to upload a tar shard of images",
  description:
    `PUT an uncompressed .tar of up to ${MAX_IMAGES_PER_SHARD} images (each at most ${MAX_IMAGE_BYTES} bytes) to signedURLDetails.uploadURL with exactly the extensionHeaders. ` +
    "The shard is indexed in the background: the count rises shortly after the PUT. A notification_config.json member {ingestId, notificationsURL} enables webhooks.",
  request: { params: BatchPathParams, query: BulkUploadQuery },
  responses: { 200: jsonContent(ShardUploadResponse, "Where and how to PUT the shard."), ...errorResponses(400, 409) },
});

const signedPutRoute = createRoute({
  method: "put", path: `${UPLOAD_PATH_PREFIX}{token}`, tags: ["Signed URLs"], summary: "Upload bytes to a signed upload URL",
  description:
    "No api_key: the URL's signature authorises the upload. Send the headers from extensionHeaders exactly. The body is streamed to disk. " +
    "A URL is single-use: once an upload through it succeeded, another PUT answers 409.",
  request: { params: SignedUploadParams, body: { required: true, content: { "application/octet-stream": { schema: BinaryBodyDoc } } } },
  responses: {
    200: jsonContent(StatusOkResponse, "Stored (videos) or stored and queued for indexing (tar shards)."),
    400: { description: "Missing or different extension headers, or an interrupted body." },
    403: { description: "Missing, invalid or expired signature." },
    404: { description: "The upload slot no longer exists (the emulator was reset)." },
    409: { description: "The URL was already used, or an upload through it is in progress." },
    413: { description: "The body is larger than the slot allows; nothing was stored." },
  },
});

const imageReferencesRoute = createRoute({
  method: "post", path: `${BASE}/bulk-upload/image-references`, tags, summary: "Ingest images from URLs",
  description:
    "The emulator downloads each {name, url} in the background (loopback URLs only; others fail as unsafe-url-detected). " +
    "The same ingestId and body again answers duplicated=true and does nothing. Without ingestId, the id is derived from the body, so repeating a request is also de-duplicated.",
  request: { params: BatchPathParams, query: BulkUploadQuery, body: { required: true, content: { "application/json": { schema: ImageReferencesBody } } } },
  responses: { 200: jsonContent(ImageReferencesResponse, "Ingest accepted."), ...errorResponses(400, 409, 413, 415) },
});

const videoReferencesRoute = createRoute({
  method: "post", path: `${BASE}/bulk-upload/video-references`, tags, summary: "Ingest videos from URLs",
  description: "Like image-references, for videos (the batch is a simple-batch of videos).",
  request: { params: BatchPathParams, query: BulkUploadQuery, body: { required: true, content: { "application/json": { schema: VideoReferencesBody } } } },
  responses: { 200: jsonContent(VideoReferencesResponse, "Ingest accepted."), ...errorResponses(400, 409, 413, 415) },
});

const roboqlRoute = createRoute({
  method: "post", path: `${BASE}/roboql-ingest`, tags, summary: "Ingest images selected by a RoboQL query (not emulated)",
  description: `Accepted and recorded, but the emulator has no RoboQL engine: the ingest's shard ends with statusName "roboql-not-supported" (statusType error) and an ingest-status notification with success=false.`,
  request: { params: BatchPathParams, body: { required: true, content: { "application/json": { schema: RoboqlBody } } } },
  responses: { 200: jsonContent(RoboqlResponse, "Ingest recorded."), ...errorResponses(400, 409, 413, 415) },
});

// ---- helpers -------------------------------------------------------------------------------------

function assertFileName(name: string, source: string): void {
  const problem = fileNameProblem(name);
  if (problem) throw badRequest(`Invalid ${source} ${JSON.stringify(name.slice(0, 300))}: ${problem}`, [{ field: "fileName", problem, received: name.slice(0, 300) }]);
}

/** Moves a finished temp file into the blob tree and runs `write` (which inserts rows) in one transaction; undoes the blob if it fails. */
function commitWith<T>(emu: Emulator, tmp: string, prefix: string, write: (blob: string) => T): T {
  return emu.blobs.commitWith(tmp, prefix, (blob) => emu.db.transaction(() => write(blob))());
}

function hashOf(text: string, algo: "sha256" | "md5"): string {
  return crypto.createHash(algo).update(text).digest("hex");
}

function checkExtensionHeaders(c: { req: { header(name: string): string | undefined } }, slot: UploadSlotRow): void {
  const expected = extensionHeadersFor(slot.max_size);
  const issues = Object.entries(expected)
    .filter(([k, v]) => c.req.header(k)?.trim() !== v)
    .map(([k, v]) => ({ field: k, problem: `header must be exactly "${v}"`, received: c.req.header(k) ?? "(missing)" }));
  if (issues.length) {
    throw badRequest(
      `The upload must carry the extensionHeaders it was given: ${issues.map((i) => `${i.field}: ${JSON.stringify(expected[i.field])} (got ${JSON.stringify(i.received)})`).join("; ")}`,
      issues,
      "Send every header of signedURLDetails.extensionHeaders with the PUT, unchanged.",
    );
  }
}

interface SlotRequest {
  kind: UploadSlotRow["kind"];
  target: BatchTarget;
  maxSize: number;
  fileName: string | null;
}

function createSlot(emu: Emulator, ws: string, batchId: string, displayName: string | undefined, req: SlotRequest) {
  const now = emu.clock.now();
  const token = crypto.randomBytes(24).toString("hex");
  const shardId = req.kind === "shard" ? emu.ids.uuid() : null;
  const expires = now + UPLOAD_URL_TTL_MS;
  emu.db.transaction(() => {
    ensureBatch(emu.db, ws, batchId, req.target, displayName, now);
    insertUploadSlot(emu.db, { token, workspace_id: ws, batch_id: batchId, kind: req.kind, file_name: req.fileName, shard_id: shardId, max_size: req.maxSize, expires_at: expires, used_at: null });
  })();
  return { shardId, uploadURL: signedUrl(emu.baseUrl(), emu.signingSecret, "PUT", `${UPLOAD_PATH_PREFIX}${token}`, expires), extensionHeaders: extensionHeadersFor(req.maxSize) };
}

/** A reference or RoboQL ingest as stored: its identity for de-duplication and the shards it creates. */
interface IngestRequest {
  kind: IngestKind;
  target: BatchTarget;
  /** The ingest's content (references or query); same content + same ingestId = the same ingest. */
  canonical: string;
  ingestId?: string;
  displayName?: string;
  notificationsURL?: string;
  notificationCategories?: string[];
  shardKind: "references" | "roboql";
  payloads: unknown[];
}

function startIngest(emu: Emulator, ws: string, batchId: string, req: IngestRequest): { ingestId: string; shardIds: string[]; duplicated: boolean } {
  const requestHash = hashOf(req.canonical, "sha256");
  // Like the real service's 32-hex ingest ids: derived from the content, so a repeated request is recognised.
  const ingestId = req.ingestId ?? hashOf(req.canonical, "md5");
  const now = emu.clock.now();
  const result = emu.db.transaction(() => {
    const existing = getIngest(emu.db, ws, batchId, ingestId);
    if (existing) {
      if (existing.kind !== req.kind || existing.request_hash !== requestHash) {
        throw conflict(
          `ingestId "${ingestId}" was already used in batch "${batchId}" for a different ${existing.kind} request (other references or query)`,
          "Use a new ingestId for different data; repeating the same data answers duplicated=true.",
        );
      }
      return { ingestId, shardIds: listShardsOfIngest(emu.db, ws, batchId, ingestId).map((s) => s.shard_id), duplicated: true };
    }
    ensureBatch(emu.db, ws, batchId, req.target, req.displayName, now);
    insertIngest(emu.db, { workspace_id: ws, batch_id: batchId, ingest_id: ingestId, kind: req.kind, request_hash: requestHash, created_at: now });
    const shardIds = req.payloads.map((payload) => {
      const shardId = emu.ids.uuid();
      insertShard(emu.db, {
        shard_id: shardId,
        workspace_id: ws,
        batch_id: batchId,
        ingest_id: ingestId,
        kind: req.shardKind,
        status_name: "queued",
        status_type: "info",
        objects_count: 0,
        status_metadata: null,
        notifications_url: req.notificationsURL ?? null,
        notification_categories: req.notificationCategories ? JSON.stringify(req.notificationCategories) : null,
        payload: JSON.stringify(payload),
        created_at: now,
        event_at: now,
      });
      return shardId;
    });
    return { ingestId, shardIds, duplicated: false };
  })();
  if (!result.duplicated) for (const id of result.shardIds) scheduleShard(emu, { shard_id: id, kind: req.shardKind });
  return result;
}

function referencesRequest(kind: "image" | "video", raw: Record<string, unknown>, displayName: string | undefined): IngestRequest {
  const body: ReferencesBody = {
    references: raw[`${kind}References`] as ReferencesBody["references"],
    referencesURL: raw[`${kind}ReferencesURL`] as string | undefined,
    ingestId: raw.ingestId as string | undefined,
    notificationsURL: raw.notificationsURL as string | undefined,
    notificationCategories: raw.notificationCategories as ReferencesBody["notificationCategories"],
  };
  // What the ingest is: the data, not the notification settings (a re-run with another webhook is the same ingest).
  const canonical = JSON.stringify({ kind, references: body.references?.map((r) => [r.name, r.url]) ?? null, referencesURL: body.referencesURL ?? null });
  const payloads: ReferencePayload[] = [];
  if (body.references) {
    const refs = markDuplicates(body.references);
    for (let i = 0; i < refs.length; i += REFERENCES_PER_SHARD) payloads.push({ kind, references: refs.slice(i, i + REFERENCES_PER_SHARD) });
  } else {
    payloads.push({ kind, referencesURL: body.referencesURL });
  }
  return {
    kind: `${kind}-references`,
    target: kind === "image" ? BULK_IMAGES : VIDEOS,
    canonical,
    ingestId: body.ingestId,
    displayName,
    notificationsURL: body.notificationsURL,
    notificationCategories: body.notificationCategories,
    shardKind: "references",
    payloads,
  };
}

// ---- handlers ------------------------------------------------------------------------------------

export function stagingUploadRoutes(emu: Emulator) {
  const app = new OpenAPIHono<AppEnv>();
  /** Upload slots with a PUT in progress (per emulator instance). */
  const uploadsInFlight = new Set<string>();

  app.openapi(uploadImageRoute, async (c) => {
    const { batchId } = c.req.valid("param");
    const q = c.req.valid("query");
    const ws = c.get("workspace");
    if (q.fileName !== undefined) assertFileName(q.fileName, "fileName");
    // Fail fast, before reading the body, when the batch cannot take single images.
    checkBatchTarget(emu.db, ws, batchId, SINGLE_IMAGES);
    const declared = declaredLength(c);
    if (declared !== null && declared > MAX_IMAGE_BYTES + MULTIPART_OVERHEAD_BYTES) {
      throw tooLarge(`The request body is ${formatBytes(declared)}; a single image may be at most ${formatBytes(MAX_IMAGE_BYTES)}`, "Resize or recompress the image; the staging service refuses single images over 20 MiB.");
    }
    const source = requestBodyStream(c);
    if (!source) throw badRequest("The request has no body: send the image as multipart/form-data", undefined, 'e.g. curl -F "image.jpg=@/path/to/image.jpg"');
    const got = await receiveSingleFile(source, { "content-type": c.req.header("content-type") }, emu.blobs, MAX_IMAGE_BYTES);
    try {
      const fileName = q.fileName ?? got.partFileName;
      if (!fileName) throw badRequest("No file name: pass ?fileName=... or give the file part a filename", [{ field: "fileName", problem: "required when the file part has no filename", received: "(missing)" }]);
      assertFileName(fileName, q.fileName !== undefined ? "fileName" : "part filename");
      const detected = sniff(readHead(got.tmp));
      if (detected.kind !== "image") {
        throw new ApiError(400, "unsupported-file-type", `"${fileName}" is not an image: detected ${detected.label}; accepted formats are ${ACCEPTED_IMAGE_FORMATS}`, undefined, "Upload videos with upload/video; other files cannot be staged as images.");
      }
      const now = emu.clock.now();
      const replaced = commitWith(emu, got.tmp, "files", (blob) => {
        ensureBatch(emu.db, ws, batchId, SINGLE_IMAGES, q.displayName, now);
        return upsertFile(emu.db, {
          workspace_id: ws, batch_id: batchId, part_name: "", file_name: fileName, content_type: "image", nested_content_type: null, shard_id: null,
          blob, size: got.size, sha256: got.sha256, media_type: detected.mediaType, created_at: now,
        }).replacedBlob;
      });
      if (replaced) emu.blobs.remove(replaced);
    } finally {
      emu.blobs.discard(got.tmp);
    }
    return c.json({ status: "ok" }, 200);
  }, hookFor(uploadImageRoute));

  app.openapi(uploadVideoRoute, (c) => {
    const { batchId } = c.req.valid("param");
    const q = c.req.valid("query");
    assertFileName(q.fileName, "fileName");
    const slot = createSlot(emu, c.get("workspace"), batchId, q.displayName, { kind: "video", target: VIDEOS, maxSize: MAX_VIDEO_BYTES, fileName: q.fileName });
    return c.json({ status: "ok", signedURLDetails: { uploadURL: slot.uploadURL, method: "PUT" as const, extensionHeaders: slot.extensionHeaders, maxFileSize: MAX_VIDEO_BYTES } }, 200);
  }, hookFor(uploadVideoRoute));

  app.openapi(shardUploadRoute, (c) => {
    const { batchId } = c.req.valid("param");
    const q = c.req.valid("query");
    const slot = createSlot(emu, c.get("workspace"), batchId, q.displayName, { kind: "shard", target: BULK_IMAGES, maxSize: MAX_SHARD_BYTES, fileName: null });
    return c.json({
      status: "ok",
      signedURLDetails: {
        shardId: slot.shardId!, uploadURL: slot.uploadURL, method: "PUT" as const, extensionHeaders: slot.extensionHeaders,
        maxNumberOfImages: MAX_IMAGES_PER_SHARD, maxShardSize: MAX_SHARD_BYTES,
      },
    }, 200);
  }, hookFor(shardUploadRoute));

  app.openapi(signedPutRoute, async (c) => {
    checkSignature(emu, "PUT", new URL(c.req.url));
    const { token } = c.req.valid("param");
    const slot = getUploadSlot(emu.db, token);
    if (!slot) throw notFound("This upload URL no longer exists (the emulator was reset or the batch expired)", "Request a new upload URL.");
    if (slot.used_at !== null) {
      throw new ApiError(409, "upload-url-used", `This upload URL was already used (at ${new Date(slot.used_at).toISOString()}); upload URLs are single-use`, undefined, "Request a new upload URL for another upload.");
    }
    if (uploadsInFlight.has(token)) throw new ApiError(409, "upload-in-progress", "Another upload through this URL is in progress", undefined, "Wait for it to finish; if it fails, this URL can be used again.");
    checkExtensionHeaders(c, slot);
    uploadsInFlight.add(token);
    try {
      const got = await receiveBodyToTemp(c, emu.blobs, slot.max_size, slot.kind === "video" ? "The video" : "The shard archive");
      try {
        if (got.size === 0) throw badRequest(`The upload body is empty: PUT the ${slot.kind === "video" ? "video" : ".tar archive"} bytes (e.g. curl --upload-file <path>)`);
        const now = emu.clock.now();
        const claim = () => {
          if (!consumeUploadSlot(emu.db, token, now)) throw new ApiError(409, "upload-url-used", "This upload URL was already used; upload URLs are single-use");
        };
        if (slot.kind === "video") {
          const mediaType = videoMediaType(readHead(got.tmp), slot.file_name ?? "");
          const replaced = commitWith(emu, got.tmp, "files", (blob) => {
            claim();
            ensureBatch(emu.db, slot.workspace_id, slot.batch_id, VIDEOS, undefined, now);
            return upsertFile(emu.db, {
              workspace_id: slot.workspace_id, batch_id: slot.batch_id, part_name: "", file_name: slot.file_name ?? slot.token, content_type: "video",
              nested_content_type: null, shard_id: null, blob, size: got.size, sha256: got.sha256, media_type: mediaType, created_at: now,
            }).replacedBlob;
          });
          if (replaced) emu.blobs.remove(replaced);
        } else {
          commitWith(emu, got.tmp, "uploads", (blob) => {
            claim();
            ensureBatch(emu.db, slot.workspace_id, slot.batch_id, BULK_IMAGES, undefined, now);
            insertShard(emu.db, {
              shard_id: slot.shard_id!, workspace_id: slot.workspace_id, batch_id: slot.batch_id, ingest_id: null, kind: "tar-upload",
              status_name: "uploaded", status_type: "info", objects_count: 0, status_metadata: null, notifications_url: null, notification_categories: null,
              payload: JSON.stringify({ tarBlob: blob, size: got.size, sha256: got.sha256 }), created_at: now, event_at: now,
            });
          });
          scheduleShard(emu, { shard_id: slot.shard_id!, kind: "tar-upload" });
        }
      } finally {
        emu.blobs.discard(got.tmp);
      }
    } finally {
      uploadsInFlight.delete(token);
    }
    return c.json({ status: "ok" }, 200);
  }, hookFor(signedPutRoute));

  app.openapi(imageReferencesRoute, (c) => {
    const { batchId } = c.req.valid("param");
    const req = referencesRequest("image", c.req.valid("json") as Record<string, unknown>, c.req.valid("query").displayName);
    return c.json({ status: "ok", ...startIngest(emu, c.get("workspace"), batchId, req) }, 200);
  }, hookFor(imageReferencesRoute));

  app.openapi(videoReferencesRoute, (c) => {
    const { batchId } = c.req.valid("param");
    const req = referencesRequest("video", c.req.valid("json") as Record<string, unknown>, c.req.valid("query").displayName);
    return c.json({ status: "ok", ...startIngest(emu, c.get("workspace"), batchId, req) }, 200);
  }, hookFor(videoReferencesRoute));

  app.openapi(roboqlRoute, (c) => {
    const { batchId } = c.req.valid("param");
    const body = c.req.valid("json");
    const canonical = JSON.stringify({ kind: "roboql", query: body.query });
    const started = startIngest(emu, c.get("workspace"), batchId, {
      kind: "roboql", target: BULK_IMAGES, canonical, ingestId: body.ingestId, displayName: body.displayName,
      notificationsURL: body.notificationsURL, notificationCategories: body.notificationCategories, shardKind: "roboql", payloads: [{ query: body.query }],
    });
    return c.json({ status: "ok", ...started, message: ROBOQL_NOT_EMULATED }, 200);
  }, hookFor(roboqlRoute));

  return app;
}
